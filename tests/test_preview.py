"""`ces preview`: the server, the watcher, the rebuild, and (in chromium) a reload that stays
on the slide being shown."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

from builder.preview import Preview, SiteServer, inject
from conftest import require_tool

try:
    from tests import browser
except ImportError:  # pragma: no cover
    import browser


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode("utf-8")


def state(p: Preview) -> dict:
    return json.loads(get(p.url + "__ces_version"))


def wait_for_version(p: Preview, above: int, timeout: float = 20) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = state(p)
        if s["version"] > above:
            return s
        time.sleep(0.1)
    raise AssertionError(f"no rebuild within {timeout} s (still version {above})")


def save_by_rename(path: Path, text: str) -> None:
    """Write as most editors do: a new file renamed over the old one."""
    tmp = path.with_name(path.name + ".tmp~")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@pytest.fixture
def preview(deck):
    p = Preview(deck, profile="smoke", renderer="pandoc", port=0, echo=lambda *a: None).start()
    yield p
    p.stop()


def test_inject_puts_the_script_before_the_end_of_body():
    page = inject("<html><body><p>x</p></body></html>", 7)
    assert page.index('id="ces-live-reload"') < page.index("</body>")
    assert "const built = 7" in page
    assert inject("<p>no body</p>", 1).startswith("<p>no body</p><script")


def test_a_plain_server_injects_nothing(tmp_path):
    (tmp_path / "index.html").write_text("<html><body>deck</body></html>")
    with SiteServer(tmp_path) as server:
        assert get(server.url + "/index.html") == "<html><body>deck</body></html>"


def hang_up_mid_response(url: str, path: str) -> None:
    """Ask for `path`, read a few bytes, then reset the connection (as Chromium does when a page
    closes while a figure is still arriving)."""
    import socket
    import struct
    import urllib.parse

    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.recv(100)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    s.close()


@pytest.mark.parametrize("server", ["ces", "broken: the standard library's server"])
def test_a_viewer_hanging_up_prints_no_traceback(tmp_path, capfd, server):
    import functools
    import http.server
    import threading

    (tmp_path / "big.bin").write_bytes(b"x" * (32 << 20))
    if server == "ces":
        srv = SiteServer(tmp_path).start()
        url, stop = srv.url, srv.stop
    else:
        from builder.browser import _Handler

        handler = type("Handler", (_Handler,), {"server_state": SiteServer(tmp_path)})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(tmp_path)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}"

        def stop():
            httpd.shutdown()
            httpd.server_close()
    try:
        for _ in range(3):
            hang_up_mid_response(url, "/big.bin")
        time.sleep(1.0)  # the server's thread meets the closed socket
        assert get(url + "/__ces_version")  # still serving
    finally:
        stop()
    err = capfd.readouterr().err
    if server == "ces":
        assert err == ""
    else:
        assert "Traceback" in err and ("BrokenPipeError" in err or "ConnectionResetError" in err)


def test_preview_serves_the_deck_with_live_reload(deck, preview):
    assert state(preview) == {"version": 2, "error": None}  # the first build is done
    page = get(preview.url)
    assert 'id="ces-live-reload"' in page and "Des maths" in page
    assert "ces-live-reload" not in (deck / "_site" / "index.html").read_text()  # never in the published files
    assert get(preview.url + "deck.css") == (deck / "_site" / "deck.css").read_text()


def test_an_edited_slide_is_rebuilt(deck, preview):
    qmd = deck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text().replace("Des maths", "Des équations"))
    s = wait_for_version(preview, 2)
    assert s["error"] is None
    assert "Des équations" in get(preview.url)


def test_a_broken_slide_keeps_the_last_deck_and_reports_the_error(deck, preview):
    qmd = deck / "slides" / "index.qmd"
    good = qmd.read_text()
    qmd.write_text(good + "\n## Cassé\n\n![x](_figures/nope/x.svg)\n")
    s = wait_for_version(preview, 2)
    assert "nope" in s["error"]
    assert "Des maths" in get(preview.url)  # the last good deck
    qmd.write_text(good)
    assert wait_for_version(preview, s["version"])["error"] is None


def test_the_config_is_watched_through_save_by_rename(deck, preview):
    config = deck / "_quarto.yml"
    text = config.read_text()
    save_by_rename(config, text.replace("theme: white", "theme: black"))
    s = wait_for_version(preview, 2)
    assert "theme/black.css" in get(preview.url)
    save_by_rename(config, text)  # a second save: the watch has not been lost
    wait_for_version(preview, s["version"])
    assert "theme/white.css" in get(preview.url)


def test_build_outputs_do_not_trigger_rebuilds(deck, preview):
    time.sleep(1.5)  # the first build wrote slides/_figures/ and cache/
    assert state(preview)["version"] == 2 and preview.builds == 1


@pytest.mark.browser
def test_the_browser_reloads_on_the_same_slide(deck, preview):
    require_tool("chromium")
    log: dict = {}
    with browser._page(preview.url, log) as page:
        assert browser._wait_ready(page)
        page.evaluate("() => Reveal.slide(2)")  # « Des maths »
        qmd = deck / "slides" / "index.qmd"
        qmd.write_text(qmd.read_text().replace("Des maths", "Des équations"))
        page.wait_for_function("() => document.body.textContent.includes('Des équations')", timeout=20_000)
        assert browser._wait_ready(page)
        page.wait_for_function("() => Reveal.getIndices().h === 2")
        assert page.evaluate("() => Reveal.getCurrentSlide().querySelector('h2').textContent") == "Des équations"
    assert log["console_errors"] == [] and log["external_requests"] == []
