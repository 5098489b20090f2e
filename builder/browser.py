"""The browser plumbing of `ces check`, `ces pdf` and `ces preview`: one local server for a
built site, and one headless Chromium session on it.

    async with session(site, "check the deck") as (context, base, log): ...   # check, pdf
    with SiteServer(site, live=True) as server: ...                            # preview

The server serves the site on 127.0.0.1, never cached; with `live`, each HTML page gets the
live-reload script (`inject`) and /__ces_version says which build it is (preview). A viewer that
goes away mid-response (a reload, Chromium closing a page) is not an error: nothing is printed.
Chromium is the system's (never a downloaded browser), driven by Playwright; every request
leaving the server is aborted and listed. The JavaScript the commands run in the deck is in
builder/assets/*.js (`script(name)`).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import threading
import urllib.parse
from importlib import resources
from pathlib import Path

from .errors import RenderError

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ("--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync")
TIMEOUT_MS = 60_000


@functools.cache
def script(name: str) -> str:
    """The text of builder/assets/NAME (JavaScript run in the deck's page)."""
    return resources.files("builder").joinpath("assets", name).read_text(encoding="utf-8")


# -- the server -------------------------------------------------------------------------------
VERSION_PATH = "/__ces_version"
POLL_MS = 700

LIVE_JS = """<script id="ces-live-reload">
(() => {
  // Only the deck itself: not the speaker view's previews, a PDF export or a figure in an iframe.
  if (window.top !== window || /receiver|print-pdf/.test(location.search)) return;
  const built = %(version)d, key = 'ces-preview-slide';
  const saved = sessionStorage.getItem(key);
  if (saved && window.Reveal) {
    sessionStorage.removeItem(key);
    const go = () => { const i = JSON.parse(saved); Reveal.slide(i.h, i.v, i.f); };
    Reveal.isReady() ? go() : Reveal.on('ready', go);
  }
  let banner = null;
  const show = (error) => {
    if (!error) { if (banner) banner.remove(); banner = null; return; }
    if (!banner) {
      banner = document.createElement('pre');
      banner.style.cssText = 'position:fixed;top:0;left:0;right:0;z-index:99999;margin:0;padding:8px 12px;' +
        'max-height:40vh;overflow:auto;background:#b00020;color:#fff;font:13px/1.4 monospace;white-space:pre-wrap';
      document.body.appendChild(banner);
    }
    banner.textContent = 'ces preview : le dernier build a échoué\\n' + error;
  };
  const tick = async () => {
    try {
      const state = await (await fetch('%(path)s', {cache: 'no-store'})).json();
      if (state.version !== built) {
        if (window.Reveal && Reveal.isReady()) sessionStorage.setItem(key, JSON.stringify(Reveal.getIndices()));
        location.reload();
        return;
      }
      show(state.error);
    } catch (e) { /* the server is restarting: try again */ }
    setTimeout(tick, %(poll)d);
  };
  setTimeout(tick, %(poll)d);
})();
</script>
"""

WAITING_PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>ces preview</title></head>
<body style="font: 16px system-ui, sans-serif; margin: 2rem">
<h1>Pas encore de diapos</h1><p>Le premier build n’a pas produit <code>_site/index.html</code> ;
la page se recharge dès qu’un build réussit.</p>
</body></html>
"""


def inject(page: str, version: int) -> str:
    """`page` with the live-reload script before its last </body> (or at its end)."""
    script_tag = LIVE_JS % {"version": version, "path": VERSION_PATH, "poll": POLL_MS}
    at = page.lower().rfind("</body>")
    return page + script_tag if at < 0 else page[:at] + script_tag + page[at:]


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, never cached; with `live`, the reload script in every HTML page."""

    server_state: SiteServer

    def log_message(self, format, *args):
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def _send(self, body: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _html_file(self) -> Path | None:
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return None  # the base class redirects to dir/
            path = path / "index.html"
        return path if path.suffix == ".html" else None

    def _serve(self) -> bool:
        state = self.server_state
        if self.path.split("?")[0] == VERSION_PATH:
            self._send(json.dumps({"version": state.version, "error": state.error}).encode(), "application/json")
            return True
        if not state.live:
            return False
        page = self._html_file()
        if page is None or "_figures" in page.parts:  # figure outputs are served as they are
            return False
        if page.is_file():
            text = page.read_text(encoding="utf-8", errors="replace")
        elif page.name == "index.html" and page.parent.resolve() == state.site.resolve():
            text = WAITING_PAGE
        else:
            return False
        self._send(inject(text, state.version).encode("utf-8"), "text/html; charset=utf-8")
        return True

    def do_GET(self):
        if not self._serve():
            super().do_GET()

    def do_HEAD(self):
        if not self._serve():
            super().do_HEAD()


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A viewer that hung up mid-response (BrokenPipeError, ConnectionResetError) is normal:
        silent. Anything else is printed, once, as the base class does."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SiteServer:
    """A threaded HTTP server for a site directory on `host:port` (port 0: a free one)."""

    def __init__(self, site: Path, host: str = "127.0.0.1", port: int = 0, live: bool = False):
        self.site, self.live = Path(site), live
        self.version, self.error = 1, None
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = _QuietServer((host, port), functools.partial(handler, directory=str(site)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="ces-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def bump(self, error: str | None = None) -> None:
        """A build has finished (error: why it failed): pages reload, or show the error."""
        self.error = error
        self.version += 1

    def start(self) -> SiteServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# -- Chromium ---------------------------------------------------------------------------------
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


@contextlib.asynccontextmanager
async def session(site: Path, purpose: str, chromium: str | None = None):
    """Serve `site` on 127.0.0.1 and open the system's Chromium on it (Playwright's async API).

    Yields (context, base_url, log): a browser context whose requests leaving the server are
    aborted and listed in log["external_requests"]; log["failed"] holds the URLs that failed
    (HTTP >= 400, network errors)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        raise RenderError(f"ces needs Playwright to {purpose} (it drives the system's Chromium)",
                          tip="pip install playwright  (no browser download is needed)") from None
    executable = find_chromium(chromium, purpose)
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to sandbox as root (containers, CI)
    log = {"external_requests": [], "failed": set()}
    with SiteServer(Path(site)) as server:
        async with async_playwright() as pw:
            origin = urllib.parse.urlsplit(server.url)

            def external(url: str) -> bool:
                u = urllib.parse.urlsplit(url)
                return u.scheme not in ("data", "blob", "about") and (u.scheme, u.netloc) != (origin.scheme, origin.netloc)

            async def block(route):
                log["external_requests"].append(route.request.url)
                await route.abort()

            try:
                browser = await pw.chromium.launch(executable_path=executable, args=args, headless=True)
            except Exception as exc:  # playwright's Error: a Chromium that does not start
                raise RenderError(f"Chromium ({executable}) did not start: {str(exc).splitlines()[0][:200]}",
                                  tip="check that it runs: chromium --headless --dump-dom about:blank") from None
            try:
                context = await browser.new_context(service_workers="block")
                context.set_default_timeout(TIMEOUT_MS)
                context.on("response", lambda r: r.status >= 400 and log["failed"].add(r.url))
                context.on("requestfailed", lambda r: log["failed"].add(r.url))
                await context.route(external, block)
                yield context, server.url, log
            finally:
                await browser.close()
