"""Drive a built deck in Debian's chromium through Playwright, and report what a viewer would see.

    with serve(site_dir) as base:
        report = inspect_deck(base + "/index.html", screenshot_dir=tmp / "shots")
    assert report["ready"] and not report["console_errors"]

Uses /usr/bin/chromium (CI installs it with apt); never downloads a browser.
Requests leaving the deck's origin are recorded and aborted, so a run is
hermetic: a deck that works here works offline.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
import urllib.parse
from pathlib import Path
from typing import Iterator

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 720}
TIMEOUT_MS = 15_000
_IGNORED_SCHEMES = {"data", "blob", "about", "javascript"}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve(directory, handler_class=None) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (free port) in a thread; yield "http://127.0.0.1:PORT".
    ces' own server (builder.browser.SiteServer: what `ces check`, `ces pdf` and `ces preview`
    serve with), or, with handler_class (a SimpleHTTPRequestHandler subclass), that handler
    behind the same quiet server."""
    from builder.browser import SiteServer, _QuietServer

    if handler_class is None:
        with SiteServer(Path(directory)) as server:
            yield server.url
        return
    handler = functools.partial(handler_class, directory=str(directory))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="deck-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _external_check(deck_url: str):
    """Return is_external(url) for a deck at `deck_url` (http(s):// or file://)."""
    deck = urllib.parse.urlsplit(deck_url)
    if deck.scheme == "file":
        deck_dir = Path(urllib.parse.unquote(deck.path)).parent.resolve()

        def is_external(url: str) -> bool:
            u = urllib.parse.urlsplit(url)
            if u.scheme in _IGNORED_SCHEMES:
                return False
            if u.scheme != "file":
                return True
            path = Path(urllib.parse.unquote(u.path)).resolve()
            return path != deck_dir and deck_dir not in path.parents

    else:
        origin = (deck.scheme, deck.hostname, deck.port)

        def is_external(url: str) -> bool:
            u = urllib.parse.urlsplit(url)
            if u.scheme in _IGNORED_SCHEMES:
                return False
            return (u.scheme, u.hostname, u.port) != origin

    return is_external


@contextlib.contextmanager
def _page(url: str, log: dict | None = None):
    """Open `url` in a fresh headless chromium; abort (and log) requests leaving the deck."""
    from playwright.sync_api import sync_playwright

    is_external = _external_check(url)
    log = log if log is not None else {}
    log.setdefault("console_errors", [])
    log.setdefault("external_requests", [])
    log.setdefault("failed_requests", [])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=VIEWPORT, service_workers="block")
            context.route(is_external, lambda route: route.abort())
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)

            def on_console(msg):
                if msg.type == "error":
                    loc = msg.location or {}
                    where = f" ({loc.get('url')}:{loc.get('lineNumber')})" if loc.get("url") else ""
                    log["console_errors"].append(msg.text + where)

            def on_request(request):
                if is_external(request.url) and request.url not in log["external_requests"]:
                    log["external_requests"].append(request.url)

            def on_response(response):
                if response.status >= 400:
                    log["failed_requests"].append(f"{response.url} (HTTP {response.status})")

            def on_failed(request):
                log["failed_requests"].append(f"{request.url} ({request.failure})")

            page.on("console", on_console)
            page.on("pageerror", lambda exc: log["console_errors"].append(f"page error: {exc}"))
            page.on("request", on_request)
            page.on("response", on_response)
            page.on("requestfailed", on_failed)
            page.goto(url, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()


def _wait_ready(page) -> bool:
    try:
        page.wait_for_function("() => window.Reveal && Reveal.isReady()")
        return True
    except Exception:  # playwright's TimeoutError, or a page that never defines Reveal
        return False


# Show the slide (all fragments), then wait for its images and two frames.
_SHOW_SLIDE_JS = """
async (i) => {
  const slide = Reveal.getSlides()[i];
  const {h, v} = Reveal.getIndices(slide);
  Reveal.slide(h, v);
  while (Reveal.nextFragment()) {}
  const imgs = [...slide.querySelectorAll('img')];
  const decoded = Promise.all(imgs.map(img => img.decode().catch(() => null)));
  await Promise.race([decoded, new Promise(r => setTimeout(r, 3000))]);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const indices = Reveal.getIndices();
  return indices.h === h && (indices.v || 0) === (v || 0);
}
"""

_SLIDE_FACTS_JS = """
() => Reveal.getSlides().map(slide => {
  const heading = slide.querySelector('h1, h2');
  const notes = [...slide.querySelectorAll('aside.notes')].map(a => a.textContent.trim()).join('')
             || (slide.getAttribute('data-notes') || '').trim();
  return {title: heading ? heading.textContent.trim() : '', notes: notes.length > 0};
})
"""

# Every <img>, SVG <image> and <object> in the document, once lazy loading has had its chance.
_IMAGES_JS = """
async () => {
  const probe = (url) => new Promise(resolve => {
    if (!url) return resolve(false);
    const im = new Image();
    im.onload = () => resolve(im.naturalWidth > 0);
    im.onerror = () => resolve(false);
    im.src = url;
    setTimeout(() => resolve(false), 5000);
  });
  const imgs = [...document.querySelectorAll('img')];
  await Promise.race([
    Promise.all(imgs.map(img => img.complete ? null : new Promise(r => {
      img.addEventListener('load', r); img.addEventListener('error', r);
    }))),
    new Promise(r => setTimeout(r, 5000)),
  ]);
  const out = imgs.map(img => ({
    src: img.getAttribute('src') || img.getAttribute('data-src') || '',
    loaded: img.complete && img.naturalWidth > 0,
  }));
  for (const el of document.querySelectorAll('image')) {
    const href = el.getAttribute('href') || el.getAttribute('xlink:href') || '';
    out.push({src: href, loaded: href ? await probe(new URL(href, document.baseURI).href) : false});
  }
  for (const el of document.querySelectorAll('object')) {
    const data = el.getAttribute('data') || el.getAttribute('data-src') || '';
    const loaded = !!el.contentDocument || (data ? await probe(new URL(data, document.baseURI).href) : false);
    out.push({src: data, loaded});
  }
  return out;
}
"""


def inspect_deck(url: str, screenshot_dir=None) -> dict:
    """Open the deck at `url`, visit every slide (vertical ones too), and report.

    Returns {"ready", "total_slides", "titles", "images", "console_errors",
    "external_requests", "notes_per_slide", "math_rendered"} plus
    "failed_requests" (HTTP >= 400 or network failures, as "URL (why)") and
    "visited" (slides actually shown). Transitions are turned off so that each
    screenshot (001.png, 002.png, ... in `screenshot_dir`) shows its slide.
    """
    log: dict = {}
    report = {
        "ready": False,
        "total_slides": 0,
        "titles": [],
        "images": [],
        "notes_per_slide": [],
        "math_rendered": 0,
        "visited": 0,
    }
    shots = Path(screenshot_dir) if screenshot_dir is not None else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    with _page(url, log) as page:
        report["ready"] = _wait_ready(page)
        if report["ready"]:
            page.evaluate("() => Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
            report["total_slides"] = page.evaluate("() => Reveal.getTotalSlides()")
            n = page.evaluate("() => Reveal.getSlides().length")
            for i in range(n):
                if page.evaluate(_SHOW_SLIDE_JS, i):
                    report["visited"] += 1
                if shots is not None:
                    page.screenshot(path=str(shots / f"{i + 1:03d}.png"))
            facts = page.evaluate(_SLIDE_FACTS_JS)
            report["titles"] = [f["title"] for f in facts]
            report["notes_per_slide"] = [f["notes"] for f in facts]
            report["images"] = page.evaluate(_IMAGES_JS)
            report["math_rendered"] = page.evaluate("() => document.querySelectorAll('math').length")
            page.wait_for_timeout(100)  # let late console messages arrive
    report.update(log)
    return report


def keyboard_navigation_works(url: str) -> bool:
    """True when ArrowRight moves to another slide and ArrowLeft comes back (needs >= 2 slides)."""
    with _page(url) as page:
        if not _wait_ready(page):
            return False
        indices = "() => { const i = Reveal.getIndices(); return [i.h, i.v || 0, i.f ?? -1]; }"
        page.evaluate("() => Reveal.configure({transition: 'none'})")
        page.locator("body").focus()
        start = page.evaluate(indices)
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(50)
        moved = page.evaluate(indices)
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(50)
        back = page.evaluate(indices)
        return moved != start and back == start


def render_images(site, items):
    """Chromium's rendering of each (src, width, height): `site/src` as an <img> of width×height CSS
    px, as PIL images (one browser for all)."""
    import io

    from PIL import Image

    out = []
    with serve(site) as base, _page(base + "/index.html") as page:
        for src, width, height in items:
            page.set_content(f'<html><body style="margin:0;background:#fff"><img id="i" src="{base}/{src}" '
                             f'style="display:block;width:{width}px;height:{height}px"></body></html>')
            page.wait_for_function("() => document.getElementById('i').complete")
            out.append(Image.open(io.BytesIO(page.locator("#i").screenshot())))
    return out
