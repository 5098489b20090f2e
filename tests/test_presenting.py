"""Presenting the tiny deck: built, finalised for publishing (builder.publish), served from
127.0.0.1 and driven in Debian's chromium. Every slide is shown (screenshots are kept in
test-artifacts/presenting/), every figure loads under its hashed name, nothing leaves the
origin, the speaker view opens with the notes, the provenance page lists the figure, and
`ces pdf` prints one page per slide (or per fragment).
"""

from __future__ import annotations

import re
import shutil
import urllib.request
from pathlib import Path

import pytest

try:
    from tests import browser
    from tests.conftest import FIXTURES, ces
except ImportError:  # pragma: no cover - rootdir tests/ on sys.path
    import browser
    from conftest import FIXTURES, ces

pytestmark = [
    pytest.mark.browser,
]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "presenting"
FRAGMENT_SLIDE = """
## Étapes

::: incremental
- Calculer
- Publier
:::

::: notes
Deux étapes, une à une.
:::
"""
HASHED_FIGURE = re.compile(r"^_figures/line/line\.[0-9a-f]{8}\.svg$")


def finalize(root: Path, profile: str = "smoke") -> dict:
    """builder.publish on a built deck, with what the build knew (a no-op once build.py calls it)."""
    from builder.cache import Cache
    from builder.figures import discover
    from builder.publish import finalize_site
    from builder.runner import Outcome, plan

    figures = discover(root)
    outcomes = {n: Outcome(n, "cached", entry=s.entry) for n, s in plan(root, figures, Cache(root), profile).items()}
    finalize_site(root, root / "_site", figures, outcomes)
    return outcomes


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    root = tmp_path_factory.mktemp("presenting") / "deck"
    shutil.copytree(FIXTURES / "minideck", root)
    with open(root / "slides" / "index.qmd", "a", encoding="utf-8") as f:
        f.write(FRAGMENT_SLIDE)
    ces(root, "build", "--profile", "smoke", "--renderer", "pandoc")
    outcomes = finalize(root)
    return root, outcomes["line"].entry.manifest["key"]


@pytest.fixture(scope="module")
def served(deck):
    with browser.serve(deck[0] / "_site") as base:
        yield base


@pytest.fixture(scope="module")
def report(served):
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    return browser.inspect_deck(served + "/index.html", screenshot_dir=ARTIFACTS / "slides")


def test_every_slide_is_shown_with_its_figure_and_nothing_from_outside(report):
    assert report["ready"]
    assert report["titles"] == ["Petit exposé", "Une figure", "Des maths", "Étapes"]
    assert report["total_slides"] == report["visited"] == 4
    assert sorted(p.name for p in (ARTIFACTS / "slides").iterdir()) == ["001.png", "002.png", "003.png", "004.png"]
    assert [img["loaded"] for img in report["images"]] == [True]
    assert HASHED_FIGURE.match(report["images"][0]["src"]), report["images"]
    assert report["math_rendered"] == 1
    assert report["console_errors"] == []
    assert report["external_requests"] == []
    assert report["failed_requests"] == []


def test_every_content_slide_has_notes(report):
    # The title slide is made by pandoc from the metadata: it cannot carry notes.
    assert report["notes_per_slide"] == [False, True, True, True]


def test_keyboard_navigation(served):
    assert browser.keyboard_navigation_works(served + "/index.html")


def test_overview_and_speaker_view_open_from_the_keyboard(served):
    log: dict = {}
    with browser._page(served + "/index.html", log) as page:
        assert browser._wait_ready(page)
        page.evaluate("() => Reveal.configure({transition: 'none'})")
        page.evaluate("() => Reveal.slide(1)")
        page.locator("body").focus()
        page.keyboard.press("o")
        assert page.evaluate("() => Reveal.isOverview()")
        page.keyboard.press("o")
        assert not page.evaluate("() => Reveal.isOverview()")

        with page.context.expect_page() as popup_info:
            page.keyboard.press("s")
        notes = popup_info.value
        notes.on("console", lambda m: m.type == "error" and log["console_errors"].append("notes: " + m.text))
        notes.wait_for_function("() => (document.querySelector('.speaker-controls-notes .value') || {})"
                                ".textContent?.includes('Ceci est une note.')")
        # The two previews are the deck itself, loaded from the same server.
        for frame in ("#current-slide iframe", "#upcoming-slide iframe"):
            src = notes.locator(frame).get_attribute("src")
            assert src.startswith(served + "/index.html?receiver"), src
        notes.wait_for_function("() => [...document.querySelectorAll('iframe')].every(f => "
                                "f.contentWindow.Reveal && f.contentWindow.Reveal.isReady())")
        page.keyboard.press("ArrowRight")
        notes.wait_for_function("() => document.querySelector('.speaker-controls-notes .value')"
                                ".textContent.includes('Une autre note.')")
        notes.wait_for_timeout(300)
        notes.screenshot(path=str(ARTIFACTS / "speaker-view.png"))
    assert log["console_errors"] == []
    assert log["external_requests"] == []
    assert log["failed_requests"] == []


def test_the_provenance_page_opens_in_a_new_tab_and_leads_back_to_the_slide(deck, served):
    _, key = deck
    log: dict = {}
    with browser._page(served + "/index.html", log) as page:
        assert browser._wait_ready(page)
        page.evaluate("() => { Reveal.configure({transition: 'none'}); Reveal.slide(1); }")
        link = page.locator("a.ces-provenance")
        assert link.count() == 1
        assert link.inner_text() == f"⚙ line · {key[:8]}"
        assert link.get_attribute("title") == f"script figures/line.py, clé {key[:16]}"
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "figure-with-provenance-link.png"))
        with page.context.expect_page() as tab_info:
            link.click()
        tab = tab_info.value
        tab.wait_for_load_state()
        assert tab.url == served + "/provenance.html?retour=%23%2F1#line", tab.url
        assert "/index.html" in page.url and page.evaluate("() => Reveal.getIndices().h") == 1, \
            "the deck lost its slide"
        section = tab.locator("section#line")
        text = section.inner_text()
        for expected in (key, "figures/line.py", "smoke", "cpu", "figures/data/offset.txt"):
            assert expected in text, expected
        assert tab.evaluate("() => document.querySelector(':target').id") == "line"
        tab.screenshot(path=str(ARTIFACTS / "provenance.png"), full_page=True)
        back = tab.locator("a#retour")
        assert back.inner_text() == "← Retour à l’exposé"
        back.click()
        tab.wait_for_function("() => window.Reveal && Reveal.isReady()")
        assert tab.url.startswith(served + "/index.html#/")  # Reveal rewrites #/1 as the slide's id
        assert tab.evaluate("() => Reveal.getIndices().h") == 1
    assert log["console_errors"] == [] and log["external_requests"] == [] and log["failed_requests"] == []
    with urllib.request.urlopen(served + "/provenance.html") as r:
        assert r.status == 200


@pytest.mark.parametrize("retour, expected", [("%23%2F3", "index.html#/3"), ("%23%2F2%2F1", "index.html#/2/1"),
                                               ("javascript%3Aalert(1)", "index.html"), ("", "index.html")])
def test_the_return_link_takes_only_a_slide_hash(served, retour, expected):
    with browser._page(f"{served}/provenance.html?retour={retour}") as page:
        page.wait_for_load_state()
        assert page.locator("a#retour").get_attribute("href") == expected


def test_help_search_and_controls_are_in_french(served):
    with browser._page(served + "/index.html") as page:
        assert browser._wait_ready(page)
        labels = page.evaluate("() => [...document.querySelectorAll('.reveal .controls button')]"
                               ".map(b => b.getAttribute('aria-label'))")
        assert "diapositive suivante" in labels and not any("slide" in (x or "") for x in labels), labels
        page.locator("body").focus()
        page.keyboard.press("Shift+?")
        page.wait_for_selector(".overlay-help, .r-overlay-help")
        help_text = page.locator(".overlay-help, .r-overlay-help").inner_text()
        for label in ("Diapositive suivante", "Vue d’ensemble", "Rechercher", "Plein écran"):
            assert label in help_text, label
        assert "Next slide" not in help_text
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Shift+F")
        assert page.locator(".searchinput").get_attribute("placeholder") == "Rechercher…"


def test_pdf_has_one_page_per_slide_or_per_fragment(deck):
    pypdf = pytest.importorskip("pypdf")
    root, _ = deck
    out = ces(root, "pdf")
    assert "Wrote _site/deck.pdf: 4 pages" in out.stdout
    assert len(pypdf.PdfReader(root / "_site" / "deck.pdf").pages) == 4
    ces(root, "pdf", "--fragments", "-o", "by-fragment.pdf")
    pages = pypdf.PdfReader(root / "by-fragment.pdf").pages
    assert len(pages) == 6  # the list slide: empty, one item, two items
    assert "Calculer" not in pages[3].extract_text() and "Publier" in pages[5].extract_text()
    ces(root, "pdf", "--notes", "-o", "with-notes.pdf")
    assert len(pypdf.PdfReader(root / "with-notes.pdf").pages) == 4 + 3  # a notes page after each noted slide
    shutil.copy(root / "_site" / "deck.pdf", ARTIFACTS / "deck.pdf")
