"""`ces pdf`: print the built deck to PDF with headless Chromium, one page per slide
(or per fragment), through Reveal.js's own print view (`index.html?print-pdf`).

Playwright drives the system's Chromium (never a downloaded browser); the deck is served on
127.0.0.1 and any request leaving it is blocked and reported, as the browser tests do.
Reveal's query-string options set the layout: pdfSeparateFragments (one page per fragment
or not), pdfMaxPagesPerSlide=1 (an overflowing slide stays one page, clipped), showNotes.
"""

from __future__ import annotations

import contextlib
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

# Reveal lays the print view out once, on the window's load event, from each slide's
# scrollHeight: a lazy image (data-src) still empty then arrives later, pushes its slide down
# and is clipped off the page (the figures of « Stanford ecosystem » and of the transformer
# slide were lost so). Giving every lazy image, iframe and video its source before the load
# event makes the load event wait for them: the layout is measured with the figures in place.
_EAGER_JS = """
document.addEventListener('DOMContentLoaded', () => {
  for (const el of document.querySelectorAll('img[data-src], iframe[data-src], video[data-src], source[data-src]')) {
    el.setAttribute('src', el.getAttribute('data-src'));
    el.removeAttribute('data-src');
  }
}, {once: true});
"""

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

# A slide taller than its page (pdfMaxPagesPerSlide=1) is clipped by the page, and Chromium
# moves an image that would cross the page's bottom edge past it: the figures of « Stanford
# ecosystem » and of the transformer slide vanished so. Such a slide is zoomed out, as a whole, to
# its page (`ces check` reports the overflow itself). Returns [{page, title, scale, broken}]
# for the pages shrunk or with an image that did not load.
_FIT_JS = """
() => [...document.querySelectorAll('.reveal .pdf-page')].map((page, k) => {
  const slide = page.querySelector(':scope > section');
  if (!slide || slide.classList.contains('stack')) return null;
  const h = slide.querySelector('h1, h2, h3');
  const title = (h ? h.textContent : slide.id || '').replace(/\\s+/g, ' ').trim();
  const room = page.clientHeight - 2;
  const tall = slide.scrollHeight;
  let scale = 1;
  if (tall > room) {
    // zoom, not a transform: the layout itself must fit, or the image still crosses the edge
    scale = room / tall;
    const width = slide.offsetWidth;
    slide.style.zoom = String(scale);
    slide.style.top = '0px';
    slide.style.left = ((page.clientWidth - width * scale) / 2 / scale) + 'px';
  }
  const broken = [...slide.querySelectorAll('img')].filter(i => !(i.complete && i.naturalWidth > 0))
                   .map(i => (i.getAttribute('src') || '').split('/').pop());
  return {page: k + 1, title, scale, broken};
}).filter(p => p && (p.scale < 1 || p.broken.length))
"""


# Where each page's images are: [{page, src, x, y, w, h, page_w, page_h}], CSS px from the page's corner.
_FIGURES_JS = """
() => [...document.querySelectorAll('.reveal .pdf-page')].flatMap((page, k) => {
  const p = page.getBoundingClientRect();
  return [...page.querySelectorAll(':scope > section img')].map(img => {
    const r = img.getBoundingClientRect();
    return {page: k + 1, src: img.getAttribute('src') || '', x: r.left - p.left, y: r.top - p.top,
            w: r.width, h: r.height, page_w: p.width, page_h: p.height};
  });
})
"""


def find_chromium(explicit: str | None = None, purpose: str = "print the deck") -> str:
    chosen = explicit or os.environ.get("CES_CHROMIUM")  # named: that one or an error, no fallback
    for candidate in [chosen] if chosen else CHROMIUM_CANDIDATES:
        if Path(candidate).is_file() or shutil.which(candidate):
            return candidate if Path(candidate).is_file() else shutil.which(candidate)
    if chosen:
        where = "--chromium" if explicit else "CES_CHROMIUM"
        raise RenderError(f"no Chromium at {chosen} ({where}) to {purpose}",
                          tip="install Debian's chromium (apt-get install chromium), or name another one")
    raise RenderError(f"no Chromium found to {purpose}",
                      tip="install Debian's chromium (apt-get install chromium), or pass --chromium PATH")


@contextlib.contextmanager
def browser_session(site: Path, purpose: str = "print the deck", chromium: str | None = None):
    """Serve `site` on 127.0.0.1 and open the system's Chromium on it.

    Yields (context, base_url, log): a Playwright browser context whose requests leaving the
    server are aborted and listed in log["external_requests"]; log["failed"] holds the URLs that
    failed (HTTP >= 400, network errors)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RenderError(f"ces needs Playwright to {purpose} (it drives the system's Chromium)",
                          tip="pip install playwright  (no browser download is needed)") from None
    executable = find_chromium(chromium, purpose)
    args = ["--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to sandbox as root (containers, CI)
    log = {"external_requests": [], "failed": set()}
    with SiteServer(Path(site)) as server, sync_playwright() as pw:
        origin = urllib.parse.urlsplit(server.url)

        def external(url: str) -> bool:
            u = urllib.parse.urlsplit(url)
            return u.scheme not in ("data", "blob", "about") and (u.scheme, u.netloc) != (origin.scheme, origin.netloc)

        try:
            browser = pw.chromium.launch(executable_path=executable, args=args, headless=True)
        except Exception as exc:  # playwright's Error: a Chromium that does not start
            raise RenderError(f"Chromium ({executable}) did not start: {str(exc).splitlines()[0][:200]}",
                              tip="check that it runs: chromium --headless --dump-dom about:blank") from None
        try:
            context = browser.new_context(service_workers="block")
            context.set_default_timeout(TIMEOUT_MS)
            context.on("response", lambda r: r.status >= 400 and log["failed"].add(r.url))
            context.on("requestfailed", lambda r: log["failed"].add(r.url))
            context.route(external, lambda route: (log["external_requests"].append(route.request.url),
                                                   route.abort()))
            yield context, server.url, log
        finally:
            browser.close()


def print_url(base: str, page: str = "index.html", fragments: bool = False, notes: bool = False) -> str:
    query = {"print-pdf": "", "pdfSeparateFragments": str(fragments).lower(), "pdfMaxPagesPerSlide": "1"}
    if notes:
        query["showNotes"] = "separate-page"
    return f"{base}/{page}?" + urllib.parse.urlencode(query).replace("print-pdf=", "print-pdf")


def make_pdf(site: Path, out: Path | None = None, fragments: bool = False, notes: bool = False,
             chromium: str | None = None, page: str = "index.html") -> dict:
    """Print `site/page` to `out` (default site/deck.pdf).

    Returns {"path", "pages" (as laid out by Reveal), "cut" (pages whose slide is taller than the
    page, or with an image that did not load), "figures" (each image's box on its page, CSS px),
    "external_requests", "console_errors"}."""
    site = Path(site)
    if not (site / page).is_file():
        raise RenderError(f"{site / page} does not exist", tip="run `ces build` first")
    out = Path(out) if out else site / "deck.pdf"
    report = {"path": out, "pages": 0, "cut": [], "figures": [], "external_requests": [], "console_errors": []}
    with browser_session(site, "print the deck", chromium) as (context, base, log):
        report["external_requests"] = log["external_requests"]
        tab = context.new_page()
        tab.on("console", lambda m: m.type == "error" and report["console_errors"].append(m.text))
        tab.add_init_script(_EAGER_JS)
        tab.goto(print_url(base, page, fragments, notes), wait_until="load")
        tab.wait_for_function("() => window.Reveal && Reveal.isReady() && "
                              "document.querySelectorAll('.reveal .pdf-page').length > 0")
        report["pages"] = tab.evaluate(_READY_JS)
        report["cut"] = tab.evaluate(_FIT_JS)
        report["figures"] = tab.evaluate(_FIGURES_JS)
        tab.add_style_tag(content=_LAST_PAGE_CSS)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tab.pdf(path=str(tmp), prefer_css_page_size=True, print_background=True)
        os.replace(tmp, out)
    return report
