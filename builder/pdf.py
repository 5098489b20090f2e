"""`ces pdf`: print the built deck to PDF with headless Chromium, one page per slide
(or per fragment), through Reveal.js's own print view (`index.html?print-pdf`).

Playwright drives the system's Chromium (never a downloaded browser); the deck is served on
127.0.0.1 and any request leaving it is blocked and reported, as the browser tests do.
Reveal's query-string options set the layout: pdfSeparateFragments (one page per fragment
or not), pdfMaxPagesPerSlide=1 (an overflowing slide stays one page, clipped), showNotes.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from pathlib import Path

from .errors import RenderError
from .preview import SiteServer

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_MS = 60_000
# Reveal 5.2.1 breaks the page after the last notes page too: a blank last page without this.
_LAST_PAGE_CSS = ("html.reveal-print .reveal .speaker-notes-pdf[data-layout=separate-page]:last-child"
                  " { page-break-after: avoid; }")

_READY_JS = """
async () => {
  const pages = document.querySelectorAll(
    '.reveal .pdf-page, .reveal .speaker-notes-pdf[data-layout="separate-page"]').length;
  if (!pages) return 0;
  const imgs = [...document.querySelectorAll('img')];
  await Promise.race([Promise.all(imgs.map(img => img.decode().catch(() => null))),
                      new Promise(r => setTimeout(r, 10000))]);
  await document.fonts.ready;
  return pages;
}
"""


def find_chromium(explicit: str | None = None) -> str:
    for candidate in ([explicit] if explicit else []) + [os.environ.get("CES_CHROMIUM")] + list(CHROMIUM_CANDIDATES):
        if candidate and (Path(candidate).is_file() or shutil.which(candidate)):
            return candidate if Path(candidate).is_file() else shutil.which(candidate)
    raise RenderError("no Chromium found to print the deck",
                      tip="install Debian's chromium (apt-get install chromium), or pass --chromium PATH")


def print_url(base: str, page: str = "index.html", fragments: bool = False, notes: bool = False) -> str:
    query = {"print-pdf": "", "pdfSeparateFragments": str(fragments).lower(), "pdfMaxPagesPerSlide": "1"}
    if notes:
        query["showNotes"] = "separate-page"
    return f"{base}/{page}?" + urllib.parse.urlencode(query).replace("print-pdf=", "print-pdf")


def make_pdf(site: Path, out: Path | None = None, fragments: bool = False, notes: bool = False,
             chromium: str | None = None, page: str = "index.html") -> dict:
    """Print `site/page` to `out` (default site/deck.pdf).

    Returns {"path", "pages" (as laid out by Reveal), "external_requests", "console_errors"}."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RenderError("ces pdf needs Playwright (it drives the system's Chromium)",
                          tip="pip install playwright  (no browser download is needed)") from None
    site = Path(site)
    if not (site / page).is_file():
        raise RenderError(f"{site / page} does not exist", tip="run `ces build` first")
    out = Path(out) if out else site / "deck.pdf"
    executable = find_chromium(chromium)
    args = ["--disable-gpu", "--no-first-run", "--disable-background-networking"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to sandbox as root (containers, CI)
    report = {"path": out, "pages": 0, "external_requests": [], "console_errors": []}
    with SiteServer(site) as server, sync_playwright() as pw:
        origin = urllib.parse.urlsplit(server.url)

        def external(url: str) -> bool:
            u = urllib.parse.urlsplit(url)
            return u.scheme not in ("data", "blob", "about") and (u.scheme, u.netloc) != (origin.scheme, origin.netloc)

        browser = pw.chromium.launch(executable_path=executable, args=args, headless=True)
        try:
            context = browser.new_context(service_workers="block")
            context.route(external, lambda route: (report["external_requests"].append(route.request.url),
                                                   route.abort()))
            tab = context.new_page()
            tab.set_default_timeout(TIMEOUT_MS)
            tab.on("console", lambda m: m.type == "error" and report["console_errors"].append(m.text))
            tab.goto(print_url(server.url, page, fragments, notes), wait_until="load")
            tab.wait_for_function("() => window.Reveal && Reveal.isReady() && "
                                  "document.querySelectorAll('.reveal .pdf-page').length > 0")
            report["pages"] = tab.evaluate(_READY_JS)
            tab.add_style_tag(content=_LAST_PAGE_CSS)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            tab.pdf(path=str(tmp), prefer_css_page_size=True, print_background=True)
            os.replace(tmp, out)
        finally:
            browser.close()
    return report
