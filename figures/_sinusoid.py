"""The sinusoid figure's helpers (llm_sinusoid.py only): the page that runs an answer's
JavaScript in sandboxed iframes, and the measure of what that code draws.

Everything an LLM wrote is data here: it is HTML-escaped before it reaches the page, and it
runs only in an <iframe sandbox="allow-scripts"> (opaque origin) or in builder.sandbox.

The measure: node runs the code against a mock canvas inside builder.sandbox; the mock writes
one JSON record per drawing call on stdout (["M", x, y], ["L", x, y], ["S"], ...). The verdict
(points off the canvas, gaps, periods) is computed here, in the figure's process, from those
records: code that escapes node's `vm` can write lines of its own, but a line that is not a
well-formed record makes the whole measure "tampered", and well-formed ones only say what a
canvas call would have said. Nothing the code prints is taken as a summary.
"""

from __future__ import annotations

import html
import json
import math
import re

from _fonts import font_face_css

CANVAS_W, CANVAS_H = 300, 150   # a <canvas>'s default size, as in docs/sources.md A7
SHOWN_W, SHOWN_H = 270, 135     # its size in the page at PAGE_W×PAGE_H (CSS scales it with the page)

# The frame's own policy: no network at all (fetch, images, ...), inline script and style only.
_FRAME_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"


def script_safe(js: str) -> str:
    """JavaScript made safe to sit inside <script>…</script>: no '</script', no '<!--'."""
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.I).replace("<!--", "<\\!--")


def frame_document(js: str) -> str:
    """The HTML document a sandboxed iframe runs: a real <canvas id="myCanvas">, then the code."""
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_FRAME_CSP}\">"
        "<style>html,body{margin:0;background:#fff;overflow:hidden}canvas{display:block;"
        "outline:1px solid #bbb;outline-offset:-1px;width:100%;height:100%}</style></head><body>"
        f"<canvas id=\"myCanvas\" width=\"{CANVAS_W}\" height=\"{CANVAS_H}\"></canvas>"
        f"<script>\n{script_safe(js)}\n</script></body></html>"
    )


def sandboxed_iframe(js: str, title: str) -> str:
    """An <iframe sandbox="allow-scripts"> (opaque origin: no access to this page) running js."""
    return (f"<iframe sandbox=\"allow-scripts\" title=\"{html.escape(title)}\" "
            f"width=\"{SHOWN_W + 2}\" height=\"{SHOWN_H + 2}\" "
            f"srcdoc=\"{html.escape(frame_document(js), quote=True)}\"></iframe>")


# Shown in an iframe on the slide, PAGE_W×PAGE_H px (the slide's full-width slot under one
# bullet): the two canvases side by side (COLS_W px together) with their titles, and what was
# measured, one line each, fill that viewport; the question, the answer and both
# programs sit in a closed <details> (the code is on the slide before). Every length is
# max(L px, L scaled to the viewport): the page scales with its frame and never goes under
# 20 px text, so at PAGE_W×PAGE_H and above it shows whole, without a scrollbar.
PAGE_W, PAGE_H = 1200, 420
COLS_W = 760       # two canvases of 376×190 px: the findings below them still fit the height
MIN_TEXT_PX = 20


def _fit(px: float) -> str:
    """A CSS length: px at PAGE_W×PAGE_H, growing with the viewport, never below px."""
    return f"max({px}px, min({100 * px / PAGE_W:.4f}vw, {100 * px / PAGE_H:.4f}vh))"


_PAGE_CSS = f"""
html{{font-size:{MIN_TEXT_PX}px}}
body{{font-family:"Source Sans Pro","Source Sans 3",system-ui,sans-serif;margin:{_fit(6)};color:#222;
background:#fff;line-height:1.25;font-size:{_fit(20)}}}
.cols{{display:flex;gap:{_fit(8)};width:min(100%, {_fit(COLS_W)})}}
.col{{flex:1 1 0;min-width:0}}
h2{{font-size:{_fit(20)};font-weight:600;margin:0 0 {_fit(4)}}}
iframe{{border:0;display:block;width:100%;height:auto;aspect-ratio:{CANVAS_W + 2}/{CANVAS_H + 2}}}
ul{{font-size:{_fit(20)};margin:{_fit(8)} 0 0;padding-left:{_fit(22)}}}
li{{margin:0 0 {_fit(2)}}}
details{{font-size:{_fit(20)};margin-top:{_fit(6)};color:#444}}
h1,.src{{font-size:{_fit(20)};margin:{_fit(8)} 0 {_fit(4)}}}
.src{{color:#555}}
pre{{background:#f5f5f5;padding:6px;font-size:{_fit(20)};overflow:auto;white-space:pre-wrap;margin:4px 0}}
blockquote{{margin:4px 0;padding-left:8px;border-left:3px solid #ccc;color:#444;font-size:{_fit(20)}}}
"""


def sinusoid_page(*, question: str, label: str, code: str, prose: list[str], fixed_code: str,
                  findings: list[str]) -> str:
    """The figure page: the answer's code run as is, beside a corrected version.

    Every piece of LLM text goes through html.escape; the code runs only in iframes with
    sandbox="allow-scripts" (no allow-same-origin): it cannot reach this page or its origin.
    """
    e = html.escape
    prose_html = "".join(f"<blockquote>{e(p)}</blockquote>" for p in prose)
    findings_html = "".join(f"<li>{e(f)}</li>" for f in findings)
    return (
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<title>Les LLM savent programmer\u202f: une sinusoïde en JavaScript</title>"
        f"<style>{font_face_css()}\n{_PAGE_CSS}</style></head><body>\n"
        "<div class=\"cols\">\n"
        "<div class=\"col\"><h2>Le code de la réponse</h2>\n"
        f"{sandboxed_iframe(code, 'Code de la réponse exécuté dans un canvas')}</div>\n"
        "<div class=\"col\"><h2>Corrigé à la main</h2>\n"
        f"{sandboxed_iframe(fixed_code, 'Version corrigée exécutée dans un canvas')}</div>\n"
        "</div>\n"
        + (f"<ul class=\"findings\">{findings_html}</ul>\n" if findings else "")
        + "<details><summary>La question, la réponse et les deux programmes</summary>\n"
        f"<h1>«\u00a0{e(question)}\u00a0»</h1>\n<p class=\"src\">{e(label)}</p>\n"
        f"{prose_html}<pre class=\"answer-code\">{e(code)}</pre>\n"
        "<p class=\"src\">Version corrigée (écrite à la main, pas par un modèle)\u202f:</p>\n"
        f"<pre class=\"fixed-code\">{e(fixed_code)}</pre>\n"
        "</details>\n</body></html>\n"
    )


# -- the measure ------------------------------------------------------------------------------

# A mock canvas for node (run inside builder.sandbox): runs answer.js and writes one JSON
# record per call. It computes nothing: the figure's process reads the records.
PROBE_JS = r"""
const fs = require("fs"), vm = require("vm");
const W = %(W)d, H = %(H)d;
const rec = (...r) => { process.stdout.write(JSON.stringify(r) + "\n"); };
const num = (v) => (typeof v === "number" ? v : Number(v));
const handlers = {
  beginPath() { rec("B"); },
  moveTo(x, y) { rec("M", num(x), num(y)); },
  lineTo(x, y) { rec("L", num(x), num(y)); },
  stroke() { rec("S"); },
};
const ctx = new Proxy({}, {
  get(t, p) {
    if (p in handlers) return handlers[p];
    if (p in t) return t[p];
    if (p === "canvas") return canvas;
    return (...a) => { rec("C", String(p)); };
  },
  set(t, p, v) { t[p] = v; return true; },
});
const listen = (where) => (type) => { rec("E", where + ":" + String(type)); };
const canvas = {width: W, height: H, style: {}, getContext: () => ctx,
                addEventListener: listen("canvas"), getBoundingClientRect: () => ({left: 0, top: 0, width: W, height: H})};
const document = {
  getElementById: (id) => { rec("I", String(id)); return canvas; },
  querySelector: () => canvas, createElement: () => canvas,
  body: {appendChild: () => {}}, documentElement: {appendChild: () => {}},
  addEventListener: listen("document"),
};
const queue = [];
const later = (f) => { queue.push(f); return queue.length; };
const window = {addEventListener: listen("window"), innerWidth: 800, innerHeight: 600, document,
                requestAnimationFrame: later};
const context = {document, window, console: {log: (...a) => { rec("O", a.join(" ").slice(0, 200)); }},
  requestAnimationFrame: later, setTimeout: later, setInterval: later, clearInterval: () => {}, clearTimeout: () => {}};
try {
  vm.runInNewContext(fs.readFileSync("answer.js", "utf8"), context, {timeout: 3000});
  for (let i = 0; i < queue.length && i < 5; i++) if (typeof queue[i] === "function") queue[i](16 * i);
} catch (e) { rec("X", String(e && e.message || e).slice(0, 200)); }
rec("D");
""" % {"W": CANVAS_W, "H": CANVAS_H}

_ARITY = {"B": 0, "S": 0, "D": 0, "M": 2, "L": 2, "C": 1, "E": 1, "I": 1, "O": 1, "X": 1}


def parse_records(stdout: str) -> list[list] | None:
    """The probe's records, or None when any line is not one (the code wrote on its own)."""
    records = []
    for line in stdout.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            return None
        if not (isinstance(r, list) and r and r[0] in _ARITY and len(r) == 1 + _ARITY[r[0]]):
            return None
        if r[0] in "ML" and not all(v is None or isinstance(v, (int, float)) for v in r[1:]):
            return None
        if r[0] in "CEIOX" and not isinstance(r[1], str):
            return None
        records.append(r)
    if not records or records[-1] != ["D"] or sum(r == ["D"] for r in records) != 1:
        return None
    return records


def measure(records: list[list]) -> dict:
    """What the recorded calls draw on the W×H canvas (stroked subpaths only)."""
    calls: dict[str, int] = {}
    pending: list[list] = []
    cur = None
    stroked: list[list] = []
    out = {"ids": [], "listeners": [], "console": [], "error": None}
    for r in records:
        kind = r[0]
        name = {"B": "beginPath", "M": "moveTo", "L": "lineTo", "S": "stroke"}.get(kind)
        if kind == "C":
            name = r[1]
        if name:
            calls[name] = calls.get(name, 0) + 1
        if kind == "B":
            pending, cur = [], None
        elif kind == "M":
            cur = [(_f(r[1]), _f(r[2]))]
            pending.append(cur)
        elif kind == "L":
            if cur is None:
                cur = [(_f(r[1]), _f(r[2]))]
                pending.append(cur)
            else:
                cur.append((_f(r[1]), _f(r[2])))
        elif kind == "S":
            stroked.extend(sp for sp in pending if not any(sp is s for s in stroked))
        elif kind == "I":
            out["ids"].append(r[1])
        elif kind == "E":
            out["listeners"].append(r[1])
        elif kind == "O" and len(out["console"]) < 20:
            out["console"].append(r[1])
        elif kind == "X":
            out["error"] = r[1]
    pts = [p for sp in stroked for p in sp]

    def outside(p):
        x, y = p
        return not (0 <= x <= CANVAS_W and 0 <= y <= CANVAS_H)

    max_jump = 0.0
    for a, b in zip(stroked, stroked[1:]):
        max_jump = max(max_jump, abs(b[0][1] - a[-1][1]))
    ys = [p[1] for p in pts if not math.isnan(p[1])]
    crossings = 0
    if ys:
        mid = (min(ys) + max(ys)) / 2
        crossings = sum((ys[i - 1] - mid) * (ys[i] - mid) < 0 for i in range(1, len(ys)))
    out["calls"] = calls
    out["summary"] = {
        "points": len(pts), "subpaths": len(stroked), "off_canvas": sum(map(outside, pts)),
        "off_canvas_subpaths": sum(all(map(outside, sp)) for sp in stroked),
        "y_min": min(ys) if ys else None, "y_max": max(ys) if ys else None,
        "max_gap_between_subpaths": max_jump, "midline_crossings": crossings,
    }
    return out


def _f(v) -> float:
    return float("nan") if v is None else float(v)
