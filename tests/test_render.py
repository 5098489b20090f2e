"""Rendering: the deck has the expected slides, opens in Chromium, and a no-op build renders nothing."""

import json
import os
import re
import sys
import subprocess
import time
from pathlib import Path

import pytest

from browser import inspect_deck, serve
from builder.publish import published_path


def slide_titles(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html, re.S)]


def test_rendered_deck_has_the_slides_and_assets(deck, run_ces):
    run_ces(deck, "build", "--profile", "smoke")
    html = (deck / "_site" / "index.html").read_text()
    assert slide_titles(html) == ["Petit exposé", "Une figure", "Des maths"]
    assert '<html lang="fr"' in html
    assert html.count('<aside class="notes">') == 2
    assert "<math" in html  # MathML, no network
    assert re.search(r'data-src="_figures/line/line\.[0-9a-f]{8}\.svg"', html) and 'alt="Une droite qui monte"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing loaded from elsewhere
    for asset in ("reveal.js/dist/reveal.js", "reveal.js/dist/theme/white.css", "reveal.js/plugin/notes/notes.js",
                  "deck.css", "provenance.html"):
        assert (deck / "_site" / asset).is_file(), asset
    assert published_path(deck / "_site", "line", "line.svg").is_file()


def test_declared_alt_text_is_used_when_the_slide_gives_none(deck, run_ces):
    qmd = deck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text().replace('{fig-alt="Une droite qui monte"}', ""))
    run_ces(deck, "build", "--profile", "smoke")
    assert 'alt="Une droite"' in (deck / "_site" / "index.html").read_text()


def test_noop_build_renders_nothing_and_slide_edit_runs_no_figure(deck, run_ces):
    run_ces(deck, "build", "--profile", "smoke")
    again = run_ces(deck, "build", "--profile", "smoke")
    assert "deck up to date" in again.stdout and "0 ran" in again.stdout
    qmd = deck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text().replace("Ceci est une note.", "Une note plus longue."))
    edited = run_ces(deck, "build", "--profile", "smoke")
    assert "0 ran, 1 cached" in edited.stdout and "rendered with pandoc" in edited.stdout
    assert "Une note plus longue." in (deck / "_site" / "index.html").read_text()


def test_editing_a_figures_alt_text_renders_again_and_runs_no_figure(deck, run_ces):
    """alt and caption are not in the figure's key (no recomputation), but the deck shows them:
    the site stamp holds them, so the next build renders the new text."""
    slide = deck / "slides" / "index.qmd"
    slide.write_text(slide.read_text().replace('{fig-alt="Une droite qui monte"}', ""))  # the declared alt
    run_ces(deck, "build", "--profile", "smoke")
    script = deck / "figures" / "line.py"
    text = script.read_text()
    alt = re.search(r'"alt": "([^"]*)"', text).group(1)
    script.write_text(text.replace(f'"alt": "{alt}"', '"alt": "Une droite redécrite"'))
    out = run_ces(deck, "build", "--profile", "smoke")
    assert "0 ran" in out.stdout and "rendered with pandoc" in out.stdout, out.stdout
    assert "Une droite redécrite" in (deck / "_site" / "index.html").read_text()


def test_figure_change_rematerialises_the_output(deck, run_ces):
    run_ces(deck, "build", "--profile", "smoke")
    before = published_path(deck / "_site", "line", "line.json").read_text()
    (deck / "figures" / "data" / "offset.txt").write_text("7\n")
    out = run_ces(deck, "build", "--profile", "smoke")
    assert "ran      line" in out.stdout
    after = published_path(deck / "_site", "line", "line.json").read_text()
    assert before != after and '"offset": 7.0' in after


def test_help_and_status_import_no_heavy_module(deck):
    code = ("import sys, runpy\nsys.argv = ['ces'] + sys.argv[1:]\n"
            "from builder.cli import cli\n"
            "try:\n    cli.main(standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'matplotlib', 'transformers', 'numpy') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    for args in (["--help"], ["status"], ["build", "--help"]):
        out = subprocess.run([sys.executable, "-c", code, *args], cwd=deck, capture_output=True, text=True)
        assert "HEAVY []" in out.stdout, (args, out.stdout, out.stderr)


def test_help_lists_the_commands(deck, run_ces):
    out = run_ces(deck, "--help").stdout
    for command in ("build", "status", "why", "clean"):
        assert re.search(rf"^\s+{command}\s", out, re.M), command


def test_clean_removes_site_but_keeps_the_cache(deck, run_ces):
    run_ces(deck, "build", "--profile", "smoke")
    run_ces(deck, "clean")
    assert not (deck / "_site").exists() and not (deck / "slides" / "_figures").exists()
    out = run_ces(deck, "build", "--profile", "smoke")
    assert "cached   line" in out.stdout


def test_clean_unused_drops_entries_no_profile_uses(deck, run_ces):
    run_ces(deck, "build", "--profile", "smoke")
    (deck / "figures" / "data" / "offset.txt").write_text("9\n")
    run_ces(deck, "build", "--profile", "smoke")
    assert len(list((deck / "cache" / "line").iterdir())) == 2
    out = run_ces(deck, "clean", "--unused")
    assert "removed 1 unused cache entry" in out.stdout
    assert len(list((deck / "cache" / "line").iterdir())) == 1
    assert "cached   line" in run_ces(deck, "build", "--profile", "smoke").stdout


@pytest.mark.browser
def test_deck_in_chromium(deck, run_ces, tmp_path):
    run_ces(deck, "build", "--profile", "smoke")
    with serve(deck / "_site") as base:
        report = inspect_deck(base + "/index.html", screenshot_dir=tmp_path / "shots")
    assert report["ready"]
    assert report["total_slides"] == 3
    assert report["images"] and all(i["loaded"] for i in report["images"]), report["images"]
    assert report["console_errors"] == []
    assert report["external_requests"] == []
    assert report["math_rendered"] >= 1


# -- the site is checked against its manifest, rendered in staging, swapped in whole -----------
def _break_reveal(site):
    (site / "reveal.js" / "dist" / "reveal.js").unlink()


def _drop_figure(site):
    published_path(site, "line", "line.svg").unlink()


def _edit_figure(site):
    p = published_path(site, "line", "line.svg")
    p.write_text(p.read_text().replace("black", "red"))


def _edit_index_same_size(site):
    p = site / "index.html"
    text = p.read_text()
    p.write_text(text.replace("Petit exposé", "Petit exposè"))  # same size, new content


def _add_stray_page(site):
    (site / "slides").mkdir()
    (site / "slides" / "index.html").write_text("<p>rendered by hand</p>")


def _touch_only(site):
    os.utime(site / "index.html")
    os.utime(published_path(site, "line", "line.svg"))


@pytest.mark.parametrize("damage, rerendered", [
    (_break_reveal, True), (_drop_figure, True), (_edit_figure, True), (_edit_index_same_size, True),
    (_add_stray_page, True), (_touch_only, False),  # the last: nothing changed, nothing to redo
])
def test_a_damaged_site_is_rendered_again(deck, run_ces, damage, rerendered):
    run_ces(deck, "build", "--profile", "smoke")
    damage(deck / "_site")
    out = run_ces(deck, "build", "--profile", "smoke").stdout
    assert ("rendered with pandoc" in out) is rerendered, out
    assert ("deck up to date" in out) is not rerendered, out
    if rerendered:
        assert "deck up to date" in run_ces(deck, "build", "--profile", "smoke").stdout
        site = deck / "_site"
        assert (site / "reveal.js" / "dist" / "reveal.js").is_file() and not (site / "slides").exists()
        assert "black" in published_path(site, "line", "line.svg").read_text()
        assert "Petit exposé" in (site / "index.html").read_text()


def _drop_listed(site, rel):
    (site / rel).unlink()
    manifest = json.loads((site / ".ces-site.json").read_text())
    del manifest["files"][rel]
    (site / ".ces-site.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("shown_by_slides", [True, False])
def test_a_figure_file_the_slides_show_is_listed_and_rendered_again_when_missing(deck, run_ces, shown_by_slides):
    """Issue 21: a figure file gone from the site *and* from its manifest (a render that never
    copied it) is still missed, because the manifest lists what the slides reference. The twin: a
    file no slide references, dropped the same way, is not the deck's business."""
    run_ces(deck, "build", "--profile", "smoke")
    site = deck / "_site"
    figure = published_path(site, "line", "line.svg").relative_to(site).as_posix()
    assert figure in json.loads((site / ".ces-site.json").read_text())["figures"]
    _drop_listed(site, figure if shown_by_slides else "reveal.js/dist/reveal.css")
    out = run_ces(deck, "build", "--profile", "smoke").stdout
    assert ("rendered with pandoc" in out) is shown_by_slides, out


def test_a_failed_render_keeps_the_last_good_site(deck, run_ces, monkeypatch):
    from builder import build
    from builder.errors import RenderError
    from builder.pandoc import Pandoc

    run_ces(deck, "build", "--profile", "smoke")
    good = {p.relative_to(deck / "_site"): p.read_bytes() for p in (deck / "_site").rglob("*") if p.is_file()}
    qmd = deck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text() + "\n## Nouvelle\n")
    real = Pandoc.render

    def half_then_fail(self, the_deck, figures, staging):
        real(self, the_deck, figures, staging)
        (staging / "index.html").write_text("half")
        raise RenderError("pandoc failed (exit 64)")

    monkeypatch.setattr(Pandoc, "render", half_then_fail)
    with pytest.raises(RenderError):
        build.build(build.BuildRequest(deck, "smoke", renderer="pandoc"), echo=lambda *a: None)
    now = {p.relative_to(deck / "_site"): p.read_bytes() for p in (deck / "_site").rglob("*") if p.is_file()}
    assert now == good
    monkeypatch.undo()
    out = run_ces(deck, "build", "--profile", "smoke").stdout
    assert "rendered with pandoc" in out and "Nouvelle" in (deck / "_site" / "index.html").read_text()
    assert not (deck / ".ces" / "render").exists(), "staging left behind"


SECOND_FIGURE = '''"""A second tiny figure."""

FIGURE = {"name": "dots", "caption": "Des points", "alt": "Trois points", "outputs": ["dots.svg"],
          "needs": [], "seed": 0, "params": {}}

from builder.script import setup

run = setup(FIGURE)
run.out("dots.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="30pt" height="15pt"></svg>\\n')
'''


def test_provenance_covers_every_figure_after_building_one(deck, run_ces):
    (deck / "figures" / "dots.py").write_text(SECOND_FIGURE)
    qmd = deck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text() + "\n## Des points\n\n![Des points](_figures/dots/dots.svg)\n")
    run_ces(deck, "build", "--profile", "smoke")
    (deck / "figures" / "data" / "offset.txt").write_text("5\n")
    out = run_ces(deck, "build", "--profile", "smoke", "line").stdout
    assert "ran      line" in out and "dots" not in out
    provenance = (deck / "_site" / "provenance.html").read_text()
    assert '<section id="line">' in provenance and '<section id="dots">' in provenance
    index = (deck / "_site" / "index.html").read_text()
    assert index.count('class="ces-provenance"') == 2
    assert published_path(deck / "_site", "dots", "dots.svg").is_file()


def test_a_stray_file_in_slides_figures_fails_no_build(deck, run_ces):
    run_ces(deck, "build", "--profile", "smoke")
    (deck / "slides" / "_figures" / "NOTES.txt").write_text("not a figure")
    (deck / "slides" / "index.qmd").write_text((deck / "slides" / "index.qmd").read_text() + "\nEncore.\n")
    out = run_ces(deck, "build", "--profile", "smoke").stdout
    assert "rendered with pandoc" in out
    assert not (deck / "_site" / "_figures" / "NOTES.txt").exists()


# -- every computed figure carries its intrinsic size --------------------------------------------
PNG_3x2 = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000003000000020806000000")


@pytest.mark.parametrize("content, name, size", [
    ('<svg xmlns="http://www.w3.org/2000/svg" width="460.8pt" height="345.6pt" viewBox="0 0 460.8 345.6">',
     "a.svg", (614, 461)),                                        # matplotlib: pt, 1 pt = 96/72 px
    ('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50">', "b.svg", (100, 50)),
    ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 150">', "c.svg", (300, 150)),
    ('<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%">', "d.svg", None),  # no size
    (PNG_3x2, "e.png", (3, 2)),
    (b"\x89PNG broken", "f.png", None),
])
def test_intrinsic_size(tmp_path, content, name, size):
    from builder.deck import intrinsic_size

    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert intrinsic_size(p) == size


def test_figure_images_carry_their_size_unless_the_slide_gives_one(deck, run_ces):
    line = deck / "figures" / "line.py"
    line.write_text(line.read_text().replace('width="100" height="100"', 'width="360pt" height="180pt"'))
    qmd = deck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text() + '\n## Large\n\n![Large](_figures/line/line.svg){width="50%"}\n')
    run_ces(deck, "build", "--profile", "smoke")
    imgs = re.findall(r"<img\b[^>]*>", (deck / "_site" / "index.html").read_text(), re.S)
    assert len(imgs) == 2
    assert 'width="480"' in imgs[0] and 'height="240"' in imgs[0]
    assert "aspect-ratio:480/240" in imgs[1] and "width:50" in imgs[1] and 'height="' not in imgs[1]


# -- a figure slide reached directly is laid out right ------------------------------------------
BIG_FIGURE_SLIDES = """
## Avant

Du texte.

## Grande figure

![Une grande figure](_figures/dots/dots.svg){width="100%"}
"""
_FIGURE_BOX_JS = """
async () => {
  const img = document.querySelector('.reveal .slides section.present img');
  if (!img.complete) await new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); });
  await new Promise(r => setTimeout(r, 300));
  const b = img.getBoundingClientRect(), s = document.querySelector('.reveal').getBoundingClientRect();
  return {top: b.top - s.top, bottom: b.bottom - s.top, height: s.height, loaded: img.naturalWidth > 0};
}
"""


def _unsized(site: Path) -> None:
    """The deck as before: no intrinsic size on the figure, no layout again when it loads."""
    index = site / "index.html"
    text = index.read_text()
    text = re.sub(r'aspect-ratio:\d+/\d+;height:auto;?', "", text)
    text = re.sub(r'<script id="ces-deck-script">.*?</script>', "", text, flags=re.S)
    index.write_text(text)


def _slow_figures(site: Path):
    """Serve `site`, each figure file half a second late (a figure arrives after Reveal's
    first layout, as over a real network)."""
    from browser import _QuietHandler

    class Slow(_QuietHandler):
        def do_GET(self):
            if "/_figures/" in self.path:
                time.sleep(0.5)
            super().do_GET()

    return serve(site, Slow)


@pytest.mark.browser
@pytest.mark.parametrize("renderer, mutate", [("pandoc", None), ("quarto", None), ("pandoc", _unsized)],
                         ids=["pandoc", "quarto (stand-in)", "broken: unsized figure"])
def test_a_figure_slide_reached_directly_lies_inside_the_slide(deck, run_ces, renderer, mutate):
    from browser import _page, _wait_ready

    big = SECOND_FIGURE.replace('width="30pt" height="15pt">', 'width="900pt" height="420pt"><circle r="80" cx="90" cy="90"/>')
    (deck / "figures" / "dots.py").write_text(big)
    qmd = deck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text() + BIG_FIGURE_SLIDES)
    from test_quarto import quarto_env

    run_ces(deck, "build", "--profile", "smoke", "--renderer", renderer, env=quarto_env(deck))
    if mutate:
        mutate(deck / "_site")
    with _slow_figures(deck / "_site") as base, _page(base + "/index.html") as page:
        assert _wait_ready(page)
        page.wait_for_load_state("load")  # Reveal lays out again on window load: what comes after counts
        page.evaluate("() => { location.hash = '#/4'; }")  # a #/N link (G+number, search: Reveal.slide)
        page.wait_for_function("() => Reveal.getIndices().h === 4")
        box = page.evaluate(_FIGURE_BOX_JS)
        page.screenshot(path=str(deck / "jump.png"))
    inside = box["loaded"] and box["top"] >= 0 and box["bottom"] <= box["height"] + 1
    assert inside is (mutate is None), box


@pytest.mark.parametrize("manifest", ['{"stamp": "STAMP", "files": {"index.html": 5}}', "[", '{"files": []}', "null",
                                      '{"stamp": "STAMP", "files": {"index.html": [1, "x", null]}}'])
def test_a_malformed_site_manifest_means_render_again(deck, run_ces, manifest):
    run_ces(deck, "build", "--profile", "smoke")
    path = deck / "_site" / ".ces-site.json"
    path.write_text(manifest.replace("STAMP", json.loads(path.read_text())["stamp"]))
    out = run_ces(deck, "build", "--profile", "smoke")
    assert "rendered with pandoc" in out.stdout and "Traceback" not in out.stderr
