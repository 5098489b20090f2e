"""The vendored Reveal.js, and the browser harness (tests/browser.py) that checks built decks.

A tiny French deck is rendered with pandoc + the local Reveal.js and inspected in
Debian's chromium; two broken decks show that the checks can fail.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from builder import assets
from builder.errors import RenderError

try:  # importable both as tests.browser and, with rootdir tests/ on sys.path, as browser
    from tests import browser
except ImportError:  # pragma: no cover
    import browser

needs_chromium = pytest.mark.browser   # conftest: skipped without Chromium, failed under CI=true

DECK = """\
---
pagetitle: Essai
---

## Bienvenue

Une formule : $x^2$

![Un carré dégradé](carre.png)

::: notes
Dire bonjour.
:::

# Partie verticale

::: notes
Annoncer la partie.
:::

## Détails

Ça marche, même en descendant.

::: notes
Conclure.
:::
"""

BROKEN_DECK = """\
---
pagetitle: Cassé
---

## Image absente

![Introuvable](absente.png)

## Requête externe

<img src="https://example.invalid/x.png" alt="externe">
"""


def png_bytes(width: int = 96, height: int = 64) -> bytes:
    """A small RGB gradient PNG, written with zlib + struct only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in (255 * x // width, 255 * y // height, 160))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def render(markdown: str, site: Path) -> Path:
    """Render `markdown` into site/index.html with pandoc and the vendored Reveal.js."""
    pypandoc = pytest.importorskip("pypandoc")
    site.mkdir(parents=True, exist_ok=True)
    assets.install_reveal(site)
    (site / "deck.md").write_text(markdown, encoding="utf-8")
    subprocess.run(
        [pypandoc.get_pandoc_path(), "deck.md", "-t", "revealjs", "-s", "--mathml",
         "--slide-level=2", "-V", "revealjs-url=reveal.js", "-V", "lang=fr",
         "-V", "theme=white", "-o", "index.html"],
        cwd=site, check=True, capture_output=True, text=True, timeout=60,
    )
    return site / "index.html"


# --- the vendored Reveal.js (no browser needed) ---------------------------------------------


def test_install_reveal_installs_what_pandoc_loads_and_is_idempotent(tmp_path):
    target = assets.install_reveal(tmp_path)
    assert target == tmp_path / "reveal.js"
    for rel in ("dist/reset.css", "dist/reveal.css", "dist/reveal.js", "dist/theme/white.css",
                "dist/theme/fonts/source-sans-pro/source-sans-pro-regular.woff",
                "plugin/notes/notes.js", "plugin/search/search.js", "plugin/zoom/zoom.js", "LICENSE"):
        assert (target / rel).is_file(), rel
    assert not (target / "plugin/math").exists() and not (target / "plugin/highlight").exists()
    marker = target / "dist" / "marker"
    marker.write_text("kept by a no-op install")
    assert assets.install_reveal(tmp_path) == target
    assert marker.exists()


def test_install_reveal_refuses_a_tarball_that_does_not_match(tmp_path, monkeypatch):
    bad = tmp_path / f"reveal.js-{assets.REVEAL_VERSION}.tgz"
    data = bytearray(assets.TARBALL.read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(assets, "TARBALL", bad)
    with pytest.raises(RenderError) as err:
        assets.install_reveal(tmp_path / "site")
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "site" / "reveal.js").exists()


# --- the browser harness --------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_deck(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    (site / "carre.png").write_bytes(png_bytes())
    render(DECK, site)
    return site


@pytest.fixture(scope="module")
def good_report(good_deck, tmp_path_factory):
    shots = tmp_path_factory.mktemp("shots")
    with browser.serve(good_deck) as base:
        report = browser.inspect_deck(base + "/index.html", screenshot_dir=shots)
    report["shots"] = sorted(p.name for p in shots.iterdir())
    return report


@pytest.mark.browser
@needs_chromium
def test_good_deck_renders_every_slide(good_report):
    r = good_report
    assert r["ready"]
    assert r["total_slides"] == 3 and r["visited"] == 3
    assert r["titles"] == ["Bienvenue", "Partie verticale", "Détails"]
    assert r["shots"] == ["001.png", "002.png", "003.png"]


@pytest.mark.browser
@needs_chromium
def test_good_deck_has_images_math_notes_and_no_errors(good_report):
    r = good_report
    assert r["images"] == [{"src": "carre.png", "loaded": True}]
    assert r["math_rendered"] == 1
    assert r["notes_per_slide"] == [True, True, True]
    assert r["console_errors"] == []
    assert r["external_requests"] == []
    assert r["failed_requests"] == []


@pytest.mark.browser
@needs_chromium
def test_keyboard_navigation(good_deck):
    with browser.serve(good_deck) as base:
        assert browser.keyboard_navigation_works(base + "/index.html")


@pytest.mark.browser
@needs_chromium
def test_the_checks_can_fail(tmp_path):
    """A missing image and an off-origin request are both reported (deck opened as file://)."""
    index = render(BROKEN_DECK, tmp_path / "site")
    r = browser.inspect_deck(index.as_uri())
    assert r["ready"] and r["total_slides"] == 2
    by_src = {img["src"]: img["loaded"] for img in r["images"]}
    assert by_src == {"absente.png": False, "https://example.invalid/x.png": False}
    assert r["external_requests"] == ["https://example.invalid/x.png"]
