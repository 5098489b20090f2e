"""The real deck, built from the committed cache as GitHub Pages builds it (--frozen: nothing is
computed), opened in Chromium: every slide, every figure, no error, nothing from elsewhere."""

import os
import re
import shutil
import subprocess
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
    out = ces(copy, "build", "--frozen", "--renderer", "pandoc", "--no-check")
    assert "0 ran" in out.stdout
    return copy / "_site"


def test_every_figure_of_the_deck_is_in_the_committed_cache(site):
    html = (site / "index.html").read_text()
    referenced = set(re.findall(r'_figures/([^/"]+)/', html))
    assert len(referenced) >= 20
    for name in referenced:
        assert any((site / "_figures" / name).iterdir()), name
    assert (site / "provenance.html").is_file()


def test_the_built_deck_says_what_is_true_in_few_words(site):
    """The rendered deck: no erratum box, at most 50 visible words per slide (code, sources,
    captions, references and notes aside), the Errata page with one row per correction, linked
    from the deck, and every provenance link in its slide's band, outside every figure."""
    import yaml

    from test_talk_slides import MAX_WORDS, slide_words

    html = (site / "index.html").read_text(encoding="utf-8")
    assert 'class="erratum"' not in html and "erratum" not in re.findall(r'class="([^"]*)"', html)
    words = slide_words(html)
    assert len(words) == 34 and max(words.values()) <= MAX_WORDS, words
    rows = yaml.safe_load((ROOT / "figures" / "data" / "errata.yml").read_text(encoding="utf-8"))
    pages = list((site / "_figures" / "errata").glob("errata*.html"))
    assert len(pages) == 1 and pages[0].read_text(encoding="utf-8").count("<tr><td>") == len(rows) >= 10
    assert html.count(f'href="_figures/errata/{pages[0].name}"') == 2          # title slide and « Merci ! »
    for figure in re.findall(r"<figure\b.*?</figure>", html, re.S):
        assert "ces-provenance" not in figure
    links = html.count('<a class="ces-provenance"')
    in_bands = sum(b.count('<a class="ces-provenance"') for b in re.findall(
        r'<div class="ces-provenance-band">(.*?)</div></section>', html, re.S))
    assert links >= 20 and in_bands == links


@pytest.mark.browser
def test_the_whole_deck_in_chromium(site, tmp_path):
    shots = ROOT / "test-artifacts" / "deck"
    shutil.rmtree(shots, ignore_errors=True)
    with serve(site) as base:
        report = inspect_deck(base + "/index.html", screenshot_dir=shots)
    assert report["ready"]
    # One slide per `##` heading of the deck's source (the title slide is the first).
    headings = [l for l in (ROOT / "slides" / "index.qmd").read_text().splitlines() if l.startswith("## ")]
    assert report["total_slides"] == len(headings) == 34
    assert report["images"] and [i for i in report["images"] if not i["loaded"]] == []
    assert report["console_errors"] == []
    assert report["external_requests"] == []
    assert all(report["notes_per_slide"]), "a slide without speaker notes (the title slide included)"
    assert report["math_rendered"] >= 3


def _require(tool: str) -> None:
    """A missing tool fails under CI=true and skips elsewhere (as conftest's require_tool)."""
    if not shutil.which(tool) and not Path(tool).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is needed (.ci/run installs it)")
        pytest.skip(f"{tool} not found")


@pytest.mark.browser
def test_every_slide_fits_and_every_figure_is_legible(site):
    """ces check on the real deck: nothing outside 1280×720 at any fragment, no scrolling box,
    SVG figure text >= 16 px, slide text >= 20 px, every image loaded, every figure slide in place
    after a direct jump. Screenshots of every slide (last fragment) go to test-artifacts/slides/."""
    _require(CHROMIUM)
    from builder.check import check_site, load_settings, summary

    shots = ROOT / "test-artifacts" / "slides"
    shutil.rmtree(shots, ignore_errors=True)
    report = check_site(site, load_settings(ROOT), screenshot_dir=shots)
    assert report.slides >= 32 and len(list(shots.glob("*.png"))) == report.states  # every fragment step (NNN-F.png)
    assert report.jumps >= 15  # every figure slide was opened directly
    assert not report.problems, "\n".join([p.line() for p in report.problems] + [summary(report)])


def lost_figures(site: Path, tmp: Path) -> list[str]:
    """Print `site` with ces pdf, rasterise it with pdftoppm, and list the figures whose pixels are
    not on their page where Reveal's print layout put them (compared with Chromium's rendering of
    the same image at the same size)."""
    from PIL import Image, ImageOps

    from browser import render_images
    from builder.pdf import make_pdf

    pdf = tmp / "deck.pdf"
    report = make_pdf(site, pdf)
    subprocess.run(["pdftoppm", "-r", "48", "-png", str(pdf), str(tmp / "p")], check=True)
    assert len(list(tmp.glob("p-*.png"))) == report["pages"] >= 1
    digits = len(str(report["pages"]))
    lost = []
    expected_images = render_images(site, [(b["src"], b["w"], b["h"]) for b in report["figures"]])
    for b, expected in zip(report["figures"], expected_images):
        page = Image.open(tmp / f"p-{b['page']:0{digits}d}.png").convert("L")
        k = page.width / b["page_w"]
        box = (round(b["x"] * k), round(b["y"] * k), round((b["x"] + b["w"]) * k), round((b["y"] + b["h"]) * k))
        crop = page.crop(box)
        expected = expected.convert("L").resize(crop.size)
        score = _similarity(ImageOps.autocontrast(crop), ImageOps.autocontrast(expected))
        if score < 0.6 or box[3] > page.height + 2:
            lost.append(f"page {b['page']}: {b['src'].split('/')[-1]} not on its page (similarity {score:.2f})")
    return lost


@pytest.mark.browser
@pytest.mark.parametrize("case", ["deck", "broken: a figure file missing"])
def test_every_pdf_page_carries_its_figures(site, tmp_path, case):
    _require(CHROMIUM)
    _require("pdftoppm")
    if case == "deck":
        assert lost_figures(site, tmp_path) == []
        return
    broken = tmp_path / "site"
    shutil.copytree(site, broken)
    victim = sorted(broken.glob("_figures/hestness/*.svg"))[0]
    victim.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    lost = lost_figures(broken, tmp_path)
    assert len(lost) == 1 and victim.name in lost[0], lost


def _similarity(a, b) -> float:
    """Pearson correlation of two same-size grey images, on 64-px-wide thumbnails (1: same picture,
    about 0: a blank page or another picture)."""
    size = (64, max(1, round(64 * a.height / max(a.width, 1))))
    xa, xb = list(a.resize(size).getdata()), list(b.resize(size).getdata())
    n = len(xa)
    ma, mb = sum(xa) / n, sum(xb) / n
    cov = sum((p - ma) * (q - mb) for p, q in zip(xa, xb))
    va = sum((p - ma) ** 2 for p in xa) ** 0.5
    vb = sum((q - mb) ** 2 for q in xb) ** 0.5
    return cov / (va * vb) if va and vb else 0.0
