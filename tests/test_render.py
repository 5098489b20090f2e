"""Rendering: the deck has the expected slides, opens in Chromium, and a no-op build renders nothing."""

import os
import re
import sys
import subprocess
from pathlib import Path

import pytest

from browser import CHROMIUM, inspect_deck, serve
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
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
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
