"""`ces check` on fixture decks: tests/fixtures/checkdeck passes; each broken copy of it (one
mutation per case, made here) is reported on the mutated slide, with its number and title,
and on no other, and `ces check` exits ExitCode.LAYOUT. tests/fixtures/checkdeck-classes has a
slide per problem class and, beside it, its near miss (a legend in free space, a tag beside
the caption, an iframe that fits…): each class is reported on its slide, no near miss is.

The figure of the fixture is drawn the way matplotlib draws text (glyph <path> defs with
scale(0.015625) used under <g transform="... scale(s -s)">): its smallest text (a superscript,
scale 0.7 inside the group) is 0.4 × 0.7 × 100 user units; the tiny case makes it 0.05."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from builder.check import load_settings
from builder.errors import ConfigError, ExitCode

EXIT_LAYOUT_PROBLEMS = ExitCode.LAYOUT

FIXTURE = Path(__file__).parent / "fixtures" / "checkdeck"
CLASSES = Path(__file__).parent / "fixtures" / "checkdeck-classes"
CHROMIUM = "/usr/bin/chromium"


def require_chromium():
    """The layout check needs Chromium (conftest: skipped without it, failed under CI=true)."""
    from conftest import require_tool

    require_tool("chromium")


def build(tmp_path: Path, mutate=None, fixture: Path = FIXTURE) -> Path:
    from conftest import ces

    root = tmp_path / "deck"
    shutil.copytree(fixture, root)
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
    edit(root / "figures" / "label.py", '"params": {"scale": 0.4}', '"params": {"scale": 0.05}')


def scrolling_box(root):
    edit(root / "slides" / "index.qmd", "```python\nprint(x)\n```\n",
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
                         r"figure label\.[0-9a-f]+\.svg text 3\.\d px < 20 px \(« \$10\^2\$ »"),
    "scrolling-box": (("source", scrolling_box), 3, "Du code",
                      r"div\.journal « Ligne 0 du journal .* scrolls: content \d+ px high in a 200 px box"),
    "small-html-text": (("source", small_text), 4, "Du texte", r"span « en tout petit » text 11\.\d px < 26 px"),
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
    assert re.search(r"Checked 4 slides \(4 walked, 0 cached; .* 0 problems$", out.stdout.strip()), out.stdout
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr
    # the figure's smallest text, the superscript: 0.4 × 0.7 × 100 user units at 60 % of the slide
    smallest = float(re.search(r"smallest figure text ([\d.]+) px", out.stdout).group(1))
    assert 20 < smallest < 40
    assert sorted(p.name for p in shots.iterdir()) == ["001-0.png", "002-0.png", "003-0.png", "004-0.png"]


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
    (root / "ces.yml").write_text("check:\n  text_min_px: 10\n  small_text_min_px: 10\n")
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
    assert settings["figure_text_min_px"] == 12 and settings["ignore"] == [".x"] and settings["text_min_px"] == 26


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


# -- the problem classes: tests/fixtures/checkdeck-classes ------------------------------------
# (slide title, a line that must be there) for each class; (slide title, kind of line that must
# not be there) for its near miss.
CLASS_CASES = {
    "overlap: text over a figure": ("Texte sur une figure", r"p « Étiquette posée dessus » is over the figure img plain\.[0-9a-f]+\.svg"),
    "overlap: text over text": ("Texte sur du texte", r"p « Une première ligne posée » is over the text p « Une seconde par-dessus »"),
    "figure-overlap: a line through a text": ("Un texte barré par sa courbe",
                                              r"figure crossed\.[0-9a-f]+\.svg text « Étiquette » is crossed by a line \(line2d_1\)"),
    "controls": ("Sous les flèches", r"p « En bas à droite » is under the navigation arrows \(bottom right\)"),
    "iframe: a document that scrolls": ("Un cadre qui défile",
                                        r"iframe tall\.[0-9a-f]+\.html scrolls: its document is \d+ px high in a 200 px frame"),
    "iframe: small text in a frame of another origin inside it": (
        "Un cadre qui défile", r"iframe tall\.[0-9a-f]+\.html \(frame 1 inside it\) « minuscule » text [\d.]+ px < 20 px inside.*"),
    "contrast: HTML text": ("Des contrastes", r"span « Un texte pâle » contrast 2\.\d\d:1 < 3:1 \(#b0b0b0 on #ffffff\)"),
    "contrast: SVG text fill": ("Des contrastes", r"figure pale\.[0-9a-f]+\.svg text « Pâle »: contrast 1\.\d\d:1 < 3:1 .*"),
    "words": ("Trop de mots", r"the slide shows 63 words > 50 .*"),
    "tall": ("Une diapo trop haute", r"the slide is taller than its printed page: \d+ px of content for \d+ px .*"),
}
NEAR_MISSES = {
    "a tag beside the caption": ("Une étiquette à côté", r".*"),
    "a legend in free space": ("Une légende dans le vide", r".*"),
    "text at the bottom left, away from the arrows": ("Loin des flèches", r".*"),
    "an iframe that fits": ("Un cadre qui tient", r"iframe .*"),
    "a grey just dark enough; a dark text; white on a dark box in the SVG": ("Des contrastes", r".*(gris|Sombre|Clair).*"),
    "few words, a long source aside": ("Assez peu de mots", r".*"),
}


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    """The problem-class deck, built once, and its `ces check` (lines by slide title)."""
    from conftest import ces, require_tool

    require_tool("chromium")
    root = build(tmp_path_factory.mktemp("classes"), fixture=CLASSES)
    out = ces(root, "check", check=False, timeout=600)
    assert out.returncode == EXIT_LAYOUT_PROBLEMS, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr
    lines = {}
    for line in out.stdout.splitlines():
        m = re.fullmatch(r"slide (\d+) « (.*?) »: (.*)", line)
        if m:
            lines.setdefault(m.group(2), []).append((int(m.group(1)), m.group(3)))
    return root, out, lines


@pytest.mark.browser
@pytest.mark.parametrize("case", list(CLASS_CASES))
def test_each_class_is_reported_on_its_slide(classes, case):
    _, out, lines = classes
    title, pattern = CLASS_CASES[case]
    got = lines.get(title, [])
    assert any(re.fullmatch(pattern, what) for _, what in got), (case, got, out.stdout)
    numbers = re.findall(r"^## (.*)$", (CLASSES / "slides" / "index.qmd").read_text(encoding="utf-8"), re.M)
    assert {n for n, _ in got} == {numbers.index(title) + 2}  # after the title slide


@pytest.mark.browser
@pytest.mark.parametrize("case", list(NEAR_MISSES))
def test_a_near_miss_is_not_reported(classes, case):
    _, out, lines = classes
    title, forbidden = NEAR_MISSES[case]
    wrong = [what for _, what in lines.get(title, []) if re.fullmatch(forbidden, what)]
    assert not wrong, (case, wrong)


@pytest.mark.browser
def test_pdf_and_check_agree_on_tall_slides(classes, run_ces):
    """One rule (assets/tall.js) for both: the slides `ces pdf` shrinks are those `ces check`
    calls taller than the page."""
    root, out, lines = classes
    checked = {n for title in lines for n, what in lines[title] if "taller than its printed page" in what}
    printed = run_ces(root, "pdf", timeout=300)
    shrunk = {int(n) for n in re.findall(r"page (\d+) « .* »: the slide is taller than the page", printed.stdout)}
    assert checked and checked == shrunk, (checked, printed.stdout)


# -- the per-slide cache ---------------------------------------------------------------------
def counts(out) -> tuple[int, int]:
    m = re.search(r"\((\d+) walked, (\d+) cached;", out.stdout)
    assert m, out.stdout
    return int(m.group(1)), int(m.group(2))


@pytest.mark.browser
def test_only_changed_slides_are_walked_again(tmp_path, run_ces):
    root = build(tmp_path)
    assert counts(run_ces(root, "check")) == (4, 0)
    assert (root / ".ces" / "check.json").is_file() and not (root / "_site" / ".ces").exists()
    small_text(root)                        # slide 4's text: that slide only, its problem found
    run_ces(root, "build", "--profile", "smoke", "--no-check")
    out = run_ces(root, "check", check=False)
    assert counts(out) == (1, 3)
    assert [line.split(":")[0] for line in out.stdout.splitlines() if line.startswith("slide ")] \
        == ["slide 4 « Du texte »"], out.stdout
    edit(root / "slides" / "index.qmd", "La figure.", "La figure, dite autrement.")  # notes only
    run_ces(root, "build", "--profile", "smoke", "--no-check")
    out = run_ces(root, "check", check=False)
    assert counts(out) == (0, 4) and "slide 4 « Du texte »: span « en tout petit »" in out.stdout
    edit(root / "slides" / "deck.css", "margin-top: 0", "margin-top: 2px")  # the deck's CSS: all
    run_ces(root, "build", "--profile", "smoke", "--no-check")
    assert counts(run_ces(root, "check", check=False)) == (4, 0)


@pytest.mark.browser
def test_screenshots_show_every_fragment_step(tmp_path, run_ces):
    root = build(tmp_path, ("source", lambda r: edit(r / "slides" / "index.qmd", "- Un point\n- Un autre point\n",
                                                      "::: {.incremental}\n- Un point\n- Un autre point\n:::\n")))
    shots = tmp_path / "shots"
    run_ces(root, "check", "--screenshots", str(shots))
    assert sorted(p.name for p in shots.iterdir()) == ["001-0.png", "002-0.png", "003-0.png", "004-0.png",
                                                       "004-1.png", "004-2.png"]


@pytest.mark.parametrize("command", ["check", "pdf"])
def test_a_bad_ces_yml_is_one_line_and_exit_5(tmp_path, run_ces, command):
    root = tmp_path / "deck"
    shutil.copytree(FIXTURE, root)
    (root / "_site").mkdir()
    (root / "_site" / "index.html").write_text("<html></html>")
    for data, says in [(b"check:\n  text_min_px: 2\xe9\n", "ces.yml: not UTF-8"),
                       (b"check: [\n", "ces.yml: not valid YAML"),
                       (b"chek: {}\n", "ces.yml: chek: unknown key 'chek'")]:
        (root / "ces.yml").write_bytes(data)
        out = run_ces(root, command, check=False)
        assert out.returncode == ExitCode.CONFIG, (data, out.stdout, out.stderr)
        assert out.stderr.startswith(f"Error: {says}") and "Traceback" not in out.stderr, out.stderr
        assert len([line for line in out.stderr.splitlines() if line.startswith("Error")]) == 1
