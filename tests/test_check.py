"""`ces check` on fixture decks: tests/fixtures/checkdeck passes; each broken copy of it (one
mutation per case, made here) is reported on the mutated slide, with its number and title,
and on no other, and `ces check` exits EXIT_LAYOUT_PROBLEMS.

The figure of the fixture is drawn the way matplotlib draws text (glyph <path> defs with
scale(0.015625) used under <g transform="... scale(s -s)">): its smallest text (a superscript,
scale 0.7 inside the group) is 0.4 × 0.7 × 100 user units; the tiny case makes it 0.05."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from builder.check import EXIT_LAYOUT_PROBLEMS, load_settings
from builder.errors import ExitCode
from builder.errors import ConfigError

FIXTURE = Path(__file__).parent / "fixtures" / "checkdeck"
CHROMIUM = "/usr/bin/chromium"


def require_chromium():
    """The layout check needs Chromium (conftest: skipped without it, failed under CI=true)."""
    from conftest import require_tool

    require_tool("chromium")


def build(tmp_path: Path, mutate=None) -> Path:
    from conftest import ces

    root = tmp_path / "deck"
    shutil.copytree(FIXTURE, root)
    if mutate and mutate[0] == "source":
        mutate[1](root)
    ces(root, "build", "--profile", "smoke", "--no-check")
    if mutate and mutate[0] == "site":
        mutate[1](root / "_site")
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def overflow(root):
    edit(root / "slides" / "index.qmd", "- Un autre point\n",
         "- Un autre point\n" + "".join(f"- Encore un point, le numéro {k}\n" for k in range(12)))


def tiny_figure(root):
    edit(root / "figures" / "label.py", '"smoke": {"scale": 0.4}', '"smoke": {"scale": 0.05}')


def scrolling_box(root):
    edit(root / "slides" / "index.qmd", "```python\nx = 1\n```\n",
         '::: {.journal style="height: 200px; overflow-y: auto"}\n'
         + "".join(f"Ligne {k} du journal\n\n" for k in range(12)) + ":::\n")


def small_text(root):
    edit(root / "slides" / "index.qmd", "- Un point\n", '- Un point [en tout petit]{style="font-size: 12px"}\n')


def centred_unsized(site):
    """The deck as ces built it before issue #11: centred slides, figures without their intrinsic
    size and no layout again when they load, so a slide reached directly is centred before its
    lazy image arrives."""
    index = site / "index.html"
    text = index.read_text(encoding="utf-8")
    text = re.sub(r'(<img[^>]*data-ces-figure[^>]*?) width="\d+" height="\d+"', r"\1", text)
    text = re.sub(r'(<img[^>]*?) width="\d+" height="\d+"([^>]*data-ces-figure)', r"\1\2", text)
    text = re.sub(r"aspect-ratio:\d+/\d+;height:auto;?", "", text)
    text = re.sub(r'<script id="ces-deck-script">.*?</script>', "", text, flags=re.S)
    assert "center: false" in text
    index.write_text(text.replace("center: false", "center: true"), encoding="utf-8")


def missing_image(site):
    for svg in (site / "_figures" / "label").glob("*.svg"):
        svg.unlink()


BROKEN = {
    "overflow": (("source", overflow), 4, "Du texte", r"ul « Un point Un autre point Encore un point… » [\d.]+ px below the bottom edge"),
    "tiny-figure-text": (("source", tiny_figure), 2, "Une figure",
                         r"figure label\.[0-9a-f]+\.svg text 3\.\d px < 16 px \(« \$10\^2\$ »"),
    "scrolling-box": (("source", scrolling_box), 3, "Du code",
                      r"div\.journal « Ligne 0 du journal .* scrolls: content \d+ px high in a 200 px box"),
    "small-html-text": (("source", small_text), 4, "Du texte", r"span « en tout petit » text 11\.\d px < 20 px"),
    "misplaced-jump": (("site", centred_unsized), 2, "Une figure",
                       r"figure label\.[0-9a-f]+\.svg is \d+(\.\d)? px lower after a direct jump \(#/1\)"),
    "missing-image": (("site", missing_image), 2, "Une figure", r"img label\.[0-9a-f]+\.svg did not load"),
}


@pytest.mark.browser
def test_a_clean_deck_passes(tmp_path, run_ces):
    require_chromium()
    root = build(tmp_path)
    shots = tmp_path / "shots"
    out = run_ces(root, "check", "--screenshots", str(shots))
    assert re.search(r"Checked 4 slides .* 0 problems$", out.stdout.strip()), out.stdout
    # the figure's smallest text, the superscript: 0.4 × 0.7 × 100 user units at 60 % of the slide
    smallest = float(re.search(r"smallest figure text ([\d.]+) px", out.stdout).group(1))
    assert 20 < smallest < 40
    assert sorted(p.name for p in shots.iterdir()) == ["001.png", "002.png", "003.png", "004.png"]


@pytest.mark.browser
@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_deck_is_reported_on_its_slide(case, tmp_path, run_ces):
    require_chromium()
    mutate, slide, title, pattern = BROKEN[case]
    root = build(tmp_path, mutate)
    out = run_ces(root, "check", check=False)
    assert out.returncode == EXIT_LAYOUT_PROBLEMS, out.stdout + out.stderr
    problems = [line for line in out.stdout.splitlines() if line.startswith("slide ")]
    assert problems, out.stdout
    prefix = f"slide {slide} « {title} »: "
    assert all(line.startswith(prefix) for line in problems), problems  # that slide, no other
    assert any(re.fullmatch(re.escape(prefix) + pattern + ".*", line) for line in problems), problems
    assert re.fullmatch(r"Error: \d+ layout problems? on 1 slide", out.stderr.strip()), out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.browser
def test_thresholds_are_settings(tmp_path, run_ces):
    require_chromium()
    root = build(tmp_path, ("source", small_text))
    (root / "ces.yml").write_text("check:\n  text_min_px: 10\n")
    out = run_ces(root, "check")
    assert "0 problems" in out.stdout


def test_bad_settings_are_one_line(tmp_path, run_ces):
    root = tmp_path / "deck"
    shutil.copytree(FIXTURE, root)
    for text, field in [("check:\n  text_min_px: grand\n", "check.text_min_px"),
                        ("check:\n  floor: 3\n", "check.floor"),
                        ("check: [1]\n", "check:"),
                        ("check:\n  ignore: 3\n", "check.ignore")]:
        (root / "ces.yml").write_text(text)
        with pytest.raises(ConfigError) as err:
            load_settings(root)
        assert f"ces.yml: {field}" in str(err.value) and "\n" not in str(err.value)
        out = run_ces(root, "check", check=False)
        assert out.returncode == ExitCode.CONFIG and out.stderr.startswith(f"Error: ces.yml: {field}")
        assert "Traceback" not in out.stderr
    (root / "ces.yml").write_text("check:\n  figure_text_min_px: 12\n  ignore: ['.x']\n")
    settings = load_settings(root)
    assert settings["figure_text_min_px"] == 12 and settings["ignore"] == [".x"] and settings["text_min_px"] == 20


def test_missing_chromium_is_one_line(tmp_path, run_ces):
    root = tmp_path / "deck"
    shutil.copytree(FIXTURE, root)
    (root / "_site").mkdir()
    (root / "_site" / "index.html").write_text("<html></html>")
    out = run_ces(root, "check", "--chromium", str(tmp_path / "no-chromium"), check=False)
    assert out.returncode == 4
    assert out.stderr.splitlines()[0] == f"Error: no Chromium at {tmp_path / 'no-chromium'} (--chromium) to check the deck"
    assert "Traceback" not in out.stderr


def test_check_imports_no_heavy_module():
    import subprocess
    import sys

    code = ("import sys, builder.check, builder.cli; heavy = {'torch', 'matplotlib', 'transformers'} & "
            "set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.browser
def test_build_runs_the_check_and_no_check_skips_it(tmp_path, run_ces):
    """`ces build` checks the deck it rendered when Chromium is here (problems as warnings, the
    deck still built); --no-check skips it."""
    require_chromium()
    root = tmp_path / "deck"
    shutil.copytree(FIXTURE, root)
    overflow(root)
    out = run_ces(root, "build", "--profile", "smoke", env={"CES_NO_CHECK": ""})
    assert "below the bottom edge" in out.stdout + out.stderr and "Checked 4 slides" in out.stdout + out.stderr
    edit(root / "slides" / "index.qmd", "Encore un point, le numéro 0", "Encore un point, le numéro zéro")
    out = run_ces(root, "build", "--profile", "smoke", "--no-check")
    assert "Checked" not in out.stdout + out.stderr
