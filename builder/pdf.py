"""`ces pdf`: print the built deck to PDF with headless Chromium, one page per slide
(or per fragment), through Reveal.js's own print view (`index.html?print-pdf`).

The server and the Chromium session are builder/browser.py's (the deck served on 127.0.0.1,
any request leaving it blocked and reported). A slide taller than its page is found by the
rule `ces check` uses (assets/tall.js), and shrunk to fit.
Reveal's query-string options set the layout: pdfSeparateFragments (one page per fragment
or not), pdfMaxPagesPerSlide=1 (an overflowing slide stays one page, clipped), showNotes.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
from pathlib import Path

from . import browser, config
from .errors import RenderError
from .files import PROJECT_FILE

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
# its page (`ces check` reports it too: the rule is assets/tall.js, `__cesTall`, shared by both).
# Returns [{page, title, scale, broken}] for the pages shrunk or with an image that did not load.
_FIT_JS = """
() => [...document.querySelectorAll('.reveal .pdf-page')].map((page, k) => {
  const slide = page.querySelector(':scope > section');
  if (!slide || slide.classList.contains('stack')) return null;
  const h = slide.querySelector('h1, h2, h3');
  const title = (h ? h.textContent : slide.id || '').replace(/\\s+/g, ' ').trim();
  const {need, room, tall} = window.__cesTall(slide);
  let scale = 1;
  if (tall) {
    // zoom, not a transform: the layout itself must fit, or the image still crosses the edge
    scale = room / need;
    const width = slide.offsetWidth;
    slide.style.zoom = String(scale);
    slide.style.top = '0px';
    slide.style.left = ((page.clientWidth - width * scale) / 2 / scale) + 'px';
  }
  const broken = [...slide.querySelectorAll('img')].filter(i => !(i.complete && i.naturalWidth > 0))
                   .map(i => (i.getAttribute('src') || '').split('/').pop());
  return {page: k + 1, title, scale, need, room, broken};
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
    if (site.parent / PROJECT_FILE).is_file():
        config.load(site.parent)  # the deck's ces.yml, read as every command reads it (bad: one line, exit 5)
    if not (site / page).is_file():
        raise RenderError(f"{site / page} does not exist", tip="run `ces build` first")
    out = Path(out) if out else site / "deck.pdf"
    return asyncio.run(_make_pdf(site, out, fragments, notes, chromium, page))


async def _make_pdf(site: Path, out: Path, fragments: bool, notes: bool, chromium: str | None, page: str) -> dict:
    report = {"path": out, "pages": 0, "cut": [], "figures": [], "external_requests": [], "console_errors": []}
    async with browser.session(site, "print the deck", chromium) as (context, base, log):
        report["external_requests"] = log["external_requests"]
        tab = await context.new_page()
        tab.on("console", lambda m: m.type == "error" and report["console_errors"].append(m.text))
        await tab.add_init_script(_EAGER_JS)
        await tab.goto(print_url(base, page, fragments, notes), wait_until="load")
        await tab.wait_for_function("() => window.Reveal && Reveal.isReady() && "
                                    "document.querySelectorAll('.reveal .pdf-page').length > 0")
        await tab.evaluate(browser.script("tall.js"))
        report["pages"] = await tab.evaluate(_READY_JS)
        report["cut"] = await tab.evaluate(_FIT_JS)
        report["figures"] = await tab.evaluate(_FIGURES_JS)
        await tab.add_style_tag(content=_LAST_PAGE_CSS)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        await tab.pdf(path=str(tmp), prefer_css_page_size=True, print_background=True)
        os.replace(tmp, out)
    return report
