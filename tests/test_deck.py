"""The real deck, built from the committed cache as GitHub Pages builds it (--frozen: nothing is
computed), opened in Chromium: every slide, every figure, no error, nothing from elsewhere."""

import re
import shutil
from pathlib import Path

import pytest

from browser import CHROMIUM, inspect_deck, serve

ROOT = Path(__file__).resolve().parent.parent
SEED = Path(__file__).parent / "fixtures" / "seed.txt"


@pytest.fixture(scope="module")
def site(tmp_path_factory, ):
    copy = tmp_path_factory.mktemp("deck") / "repo"
    copy.mkdir()
    for name in ("_quarto.yml", "llm.yml", "slides", "figures", "cache"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("_figures", "__pycache__", ".tmp", ".logs",
                                                                             ".lock*"))
        elif src.exists():
            shutil.copy2(src, copy / name)
    from conftest import ces
    out = ces(copy, "build", "--frozen", "--renderer", "pandoc")
    assert "0 ran" in out.stdout
    return copy / "_site"


def test_every_figure_of_the_deck_is_in_the_committed_cache(site):
    html = (site / "index.html").read_text()
    referenced = set(re.findall(r'_figures/([^/"]+)/', html))
    assert len(referenced) >= 20
    for name in referenced:
        assert any((site / "_figures" / name).iterdir()), name
    assert (site / "provenance.html").is_file()


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_whole_deck_in_chromium(site, tmp_path):
    shots = ROOT / "test-artifacts" / "deck"
    shutil.rmtree(shots, ignore_errors=True)
    with serve(site) as base:
        report = inspect_deck(base + "/index.html", screenshot_dir=shots)
    assert report["ready"]
    # Title slide + one slide per `##` heading of the deck's source.
    headings = [l for l in (ROOT / "slides" / "index.qmd").read_text().splitlines() if l.startswith("## ")]
    assert report["total_slides"] == 1 + len(headings) == 32
    assert report["images"] and [i for i in report["images"] if not i["loaded"]] == []
    assert report["console_errors"] == []
    assert report["external_requests"] == []
    assert all(report["notes_per_slide"][1:]), "a slide without speaker notes"
    assert report["math_rendered"] >= 3
