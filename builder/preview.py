"""`ces preview`: serve _site/ on 127.0.0.1, rebuild when slides/, figures/ or _quarto.yml
change, and reload the browser on the slide it was showing.

The live-reload script is added to HTML pages as they are served (the files in _site/ are
never touched, so a published site has none of it): it polls /__ces_version and reloads when
a build has finished, after saving Reveal's indices in sessionStorage (the URL hash keeps the
slide too when `hash: true`). A failed build keeps the last good deck and shows the error in
a red banner until the next build succeeds.

    p = Preview(root, profile="quick"); p.start()   # first build, server and watcher threads
    # each build: build.build(p.request), the figures discovered again (they may have changed)
    ...; p.stop()
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
import traceback
from pathlib import Path

from .deck import SITE
from .files import PROJECT_FILE

DEFAULT_PORT = 8765
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


def inject(page: str, version: int) -> str:
    """`page` with the live-reload script before its last </body> (or at its end)."""
    script = LIVE_JS % {"version": version, "path": VERSION_PATH, "poll": POLL_MS}
    at = page.lower().rfind("</body>")
    return page + script if at < 0 else page[:at] + script + page[at:]


class SiteServer:
    """A threaded HTTP server for a site directory on `host:port` (port 0: a free one)."""

    def __init__(self, site: Path, host: str = "127.0.0.1", port: int = 0, live: bool = False):
        self.site, self.live = Path(site), live
        self.version, self.error = 1, None
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = http.server.ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(site)))
        self.httpd.daemon_threads = True
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


def watch_changes(root: Path, stop: threading.Event, debounce_ms: int = 300, ready: threading.Event | None = None):
    """Yield sets of changed paths under slides/ and figures/, and _quarto.yml, until `stop`
    (`ready` is set once the watch is in place: the first tick, half a second at most).

    slides/_figures/ (written by the build) and editor/bytecode files are ignored. The
    config file is checked by stat at each tick: watching one file by inode loses it after the
    first save-by-rename that most editors do."""
    import watchfiles

    dirs = [root / d for d in ("slides", "figures") if (root / d).is_dir()]
    config = root / PROJECT_FILE
    ignore = watchfiles.DefaultFilter(ignore_paths=[str(root / "slides" / "_figures")])

    def stat(path: Path):
        try:
            s = path.stat()
            return s.st_mtime_ns, s.st_size
        except OSError:
            return None

    last = stat(config)
    for batch in watchfiles.watch(*dirs, watch_filter=ignore, stop_event=stop, debounce=debounce_ms,
                                  rust_timeout=500, yield_on_timeout=True):
        if ready is not None:
            ready.set()
        changed = {Path(p) for _, p in batch}
        now = stat(config)
        if now != last:
            changed.add(config)
            last = now
        if changed:
            yield changed


class Preview:
    """Build, serve with live reload, rebuild on change."""

    def __init__(self, root: Path, profile: str = "quick", jobs: int = 1, renderer: str = "auto",
                 port: int = DEFAULT_PORT, host: str = "127.0.0.1", echo=print):
        try:
            import watchfiles  # noqa: F401 - checked here, used by the watcher thread
        except ImportError:
            from .errors import ConfigError
            raise ConfigError("ces preview needs the watchfiles package", tip="pip install watchfiles") from None
        from .build import BuildRequest

        self.root, self.echo = Path(root), echo
        # figures kept going past a failure: the deck shows what did build
        self.request = BuildRequest(self.root, profile, jobs, renderer=renderer, keep_going=True)
        (self.root / SITE).mkdir(exist_ok=True)
        self.server = SiteServer(self.root / SITE, host=host, port=port, live=True)
        self.stop_event = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="ces-watch", daemon=True)
        self.watching = threading.Event()
        self.builds = 0

    @property
    def url(self) -> str:
        return self.server.url + "/"

    def rebuild(self) -> bool:
        """One build (figures kept going past a failure); the browser reloads either way."""
        from .build import build
        from .errors import CesError
        from .keys import forget_runtime

        error = None
        forget_runtime()  # ces' own code may have changed since the last build
        try:
            build(self.request, echo=self.echo)
        except CesError as exc:
            error = exc.describe()
        except Exception:  # noqa: BLE001 - a bug must not stop the preview: show it, keep serving
            error = traceback.format_exc(limit=5)
        if error:
            self.echo(f"Build failed (the last good deck stays served):\n{error}")
        self.builds += 1
        self.server.bump(error)
        return error is None

    def _watch(self) -> None:
        for changed in watch_changes(self.root, self.stop_event, ready=self.watching):
            names = sorted(p.relative_to(self.root).as_posix() if p.is_relative_to(self.root) else str(p)
                           for p in changed)
            self.echo(f"Changed: {', '.join(names[:5])}{' …' if len(names) > 5 else ''}; rebuilding")
            t = time.perf_counter()
            if self.rebuild():
                self.echo(f"Reloaded after {time.perf_counter() - t:.1f} s")

    def start(self) -> Preview:
        """Serve (the last deck, or a waiting page), build, then watch; returns once watching."""
        self.server.start()
        self.echo(f"Preview on {self.url} (Ctrl+C to stop)")
        self.rebuild()
        self.watcher.start()
        self.watching.wait(timeout=10)  # an edit made from now on is seen
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self.server.thread.is_alive():
            self.server.stop()
        if self.watcher.is_alive():
            self.watcher.join(timeout=5)

    def wait(self) -> None:
        while self.watcher.is_alive():
            self.watcher.join(timeout=0.5)
