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

import threading
import time
import traceback
from pathlib import Path

from .browser import SiteServer, inject  # noqa: F401 (the server, and its live reload, are browser's)
from .deck import SITE
from .files import PROJECT_FILE

DEFAULT_PORT = 8765


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
