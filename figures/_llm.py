"""Helpers for the llm_* figures: pull code out of an LLM answer, build the pages that show it.

Everything an LLM wrote is data here: it is HTML/XML-escaped before it reaches a page, and it
runs only inside builder.sandbox (a separate process) or a sandboxed iframe, never in ces.
"""

from __future__ import annotations

import html
import re
import textwrap
from fractions import Fraction

# -- code in an answer ---------------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
_CODE_CHARS = re.compile(r"[=;{}()\[\]]")
_PROSE = re.compile(r"^[A-Z][\w'’,-]*(\s+\S+){3,}\s*$")


def extract_code(text: str, languages: tuple[str, ...]) -> tuple[str, str, list[str]]:
    """(code, how, prose) from an answer. how: "fenced" (a ``` block, preferring `languages`),
    "lines" (no fences: the span from the first to the last line that is not an English
    sentence), or "none". prose: the answer's sentences outside the code."""
    blocks = [(m.group(1).lower(), m.group(2), m.span()) for m in _FENCE.finditer(text)]
    if blocks:
        chosen = next((b for b in blocks if b[0] in languages), blocks[0])
        prose = [l.strip() for l in _FENCE.sub("\n", text).splitlines() if l.strip()]
        return chosen[1].rstrip("\n"), "fenced", prose
    lines = text.splitlines()
    code_idx = [i for i, line in enumerate(lines) if line.strip() and not _is_prose(line)]
    if not code_idx:
        return "", "none", _prose_lines(text)
    first, last = code_idx[0], code_idx[-1]
    prose = lines[:first] + lines[last + 1:]
    return "\n".join(lines[first:last + 1]), "lines", [p.strip() for p in prose if p.strip()]


def _is_prose(line: str) -> bool:
    s = line.strip()
    if s.startswith(("//", "#", "/*", "*", "<")) or line[:1] in " \t":
        return False
    return bool(_PROSE.match(s)) and not _CODE_CHARS.search(s)


def _prose_lines(text: str) -> list[str]:
    return [l.strip() for l in text.splitlines() if l.strip() and _is_prose(l)]


def scripts_in_html(code: str) -> str:
    """The inline scripts of an HTML answer (for an answer that wrote a whole page)."""
    return "\n".join(m.group(1) for m in re.finditer(r"<script[^>]*>(.*?)</script>", code, re.S | re.I))


# -- the sinusoid page ----------------------------------------------------------------------

CANVAS_W, CANVAS_H = 300, 150   # a <canvas>'s default size, as in facts.md A7

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
        "<style>html,body{margin:0;background:#fff}canvas{display:block;margin:1px;outline:1px solid #bbb;"
        f"width:{CANVAS_W * 3 // 2}px;height:{CANVAS_H * 3 // 2}px}}</style></head><body>"
        f"<canvas id=\"myCanvas\" width=\"{CANVAS_W}\" height=\"{CANVAS_H}\"></canvas>"
        f"<script>\n{script_safe(js)}\n</script></body></html>"
    )


def sandboxed_iframe(js: str, title: str) -> str:
    """An <iframe sandbox="allow-scripts"> (opaque origin: no access to this page) running js."""
    return (f"<iframe sandbox=\"allow-scripts\" title=\"{html.escape(title)}\" "
            f"width=\"{CANVAS_W * 3 // 2 + 4}\" height=\"{CANVAS_H * 3 // 2 + 4}\" "
            f"srcdoc=\"{html.escape(frame_document(js), quote=True)}\"></iframe>")


_PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:1rem;color:#222;background:#fff}
h1{font-size:1.3rem;margin:0 0 .3rem}
.src{color:#555;font-size:.9rem;margin:0 0 1rem}
.cols{display:flex;gap:2rem;flex-wrap:wrap}
.col{flex:1 1 26rem;min-width:0}
h2{font-size:1.05rem;margin:.2rem 0 .5rem}
pre{background:#f5f5f5;padding:.6rem;font-size:.8rem;overflow:auto;white-space:pre-wrap}
blockquote{margin:.5rem 0;padding-left:.8rem;border-left:3px solid #ccc;color:#444;font-size:.9rem}
iframe{border:0;display:block;margin:.4rem 0}
ul{font-size:.85rem;padding-left:1.2rem}
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
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<title>Les LLM savent programmer : une sinusoïde en JavaScript</title>"
        f"<style>{_PAGE_CSS}</style></head><body>\n"
        f"<h1>« {e(question)} »</h1>\n<p class=\"src\">{e(label)}</p>\n"
        "<div class=\"cols\">\n"
        "<div class=\"col\"><h2>Le code de la réponse, exécuté tel quel</h2>\n"
        f"{sandboxed_iframe(code, 'Code de la réponse exécuté dans un canvas')}\n"
        f"{prose_html}<pre class=\"answer-code\">{e(code)}</pre>"
        + (f"<ul class=\"findings\">{findings_html}</ul>" if findings else "") + "</div>\n"
        "<div class=\"col\"><h2>Version corrigée (écrite à la main, pas par un modèle)</h2>\n"
        f"{sandboxed_iframe(fixed_code, 'Version corrigée exécutée dans un canvas')}\n"
        f"<pre class=\"fixed-code\">{e(fixed_code)}</pre></div>\n"
        "</div>\n</body></html>\n"
    )


# A mock canvas for node (run inside builder.sandbox): runs the answer's code and records
# what it draws, so the JSON can say where the points fall. Reads answer.js, prints JSON.
CANVAS_PROBE_JS = r"""
const fs = require("fs"), vm = require("vm");
const W = %(W)d, H = %(H)d;
const out = {calls: {}, ids: [], listeners: [], error: null, console: []};
const count = (n) => { out.calls[n] = (out.calls[n] || 0) + 1; };
let pending = [], cur = null;
const stroked = new Set();
const queue = [];
const handlers = {
  beginPath() { count("beginPath"); pending = []; cur = null; },
  moveTo(x, y) { count("moveTo"); cur = [[+x, +y]]; pending.push(cur); },
  lineTo(x, y) { count("lineTo"); if (!cur) { cur = [[+x, +y]]; pending.push(cur); } else cur.push([+x, +y]); },
  stroke() { count("stroke"); for (const sp of pending) stroked.add(sp); },
};
const ctxTarget = {};
const ctx = new Proxy(ctxTarget, {
  get(t, p) {
    if (p in handlers) return handlers[p];
    if (p in t) return t[p];
    if (p === "canvas") return canvas;
    return (...a) => { count(String(p)); };
  },
  set(t, p, v) { t[p] = v; return true; },
});
const listen = (where) => (type) => { out.listeners.push(where + ":" + String(type)); };
const canvas = {width: W, height: H, style: {}, getContext: () => ctx,
                addEventListener: listen("canvas"), getBoundingClientRect: () => ({left: 0, top: 0, width: W, height: H})};
const document = {
  getElementById: (id) => { out.ids.push(String(id)); return canvas; },
  querySelector: () => canvas, createElement: () => canvas,
  body: {appendChild: () => {}}, documentElement: {appendChild: () => {}},
  addEventListener: listen("document"),
};
const window = {addEventListener: listen("window"), innerWidth: 800, innerHeight: 600, document};
const context = {document, window, console: {log: (...a) => { if (out.console.length < 20) out.console.push(a.join(" ")); }},
  requestAnimationFrame: (f) => { queue.push(f); return queue.length; },
  setTimeout: (f) => { queue.push(f); return queue.length; },
  setInterval: (f) => { queue.push(f); return queue.length; }, clearInterval: () => {}, clearTimeout: () => {}};
window.requestAnimationFrame = context.requestAnimationFrame;
try {
  vm.runInNewContext(fs.readFileSync("answer.js", "utf8"), context, {timeout: 3000});
  for (let i = 0; i < queue.length && i < 5; i++) if (typeof queue[i] === "function") queue[i](16 * i);
} catch (e) { out.error = String(e && e.message || e); }
const subpaths = [...stroked];
const pts = subpaths.flat();
const outside = ([x, y]) => !(x >= 0 && x <= W && y >= 0 && y <= H);
const off = pts.filter(outside).length;
const offSubpaths = subpaths.filter((sp) => sp.every(outside)).length;
let maxJump = 0;
for (let i = 1; i < subpaths.length; i++) {
  const a = subpaths[i - 1][subpaths[i - 1].length - 1], b = subpaths[i][0];
  maxJump = Math.max(maxJump, Math.abs(b[1] - a[1]));
}
const ys = pts.map((p) => p[1]);
let crossings = 0;
if (ys.length) {
  const mid = (Math.min(...ys) + Math.max(...ys)) / 2;
  for (let i = 1; i < ys.length; i++) if ((ys[i - 1] - mid) * (ys[i] - mid) < 0) crossings++;
}
out.summary = {
  points: pts.length, subpaths: subpaths.length, off_canvas: off, off_canvas_subpaths: offSubpaths,
  y_min: ys.length ? Math.min(...ys) : null, y_max: ys.length ? Math.max(...ys) : null,
  max_gap_between_subpaths: maxJump, midline_crossings: crossings,
};
process.stdout.write(JSON.stringify(out));
""" % {"W": CANVAS_W, "H": CANVAS_H}


# -- small SVG cards ------------------------------------------------------------------------

def svg_card(title: str, sections: list[tuple[str, list[str]]], width: int = 960) -> str:
    """A text-only SVG: a title, then sections of (style, lines). Styles: "code", "text",
    "good", "bad", "note". All text is XML-escaped; no date, no random ids."""
    e = lambda s: html.escape(s, quote=True)  # noqa: E731
    styles = {"code": ("monospace", 15, "#222"), "text": ("sans-serif", 17, "#222"),
              "good": ("sans-serif", 18, "#1a7f37"), "bad": ("sans-serif", 18, "#c62828"),
              "note": ("sans-serif", 14, "#666")}
    y = 40
    rows = [f'<text x="20" y="{y}" font-family="sans-serif" font-size="22" font-weight="bold" '
                   f'fill="#222">{e(title)}</text>']
    y += 14
    for style, lines in sections:
        family, size, color = styles[style]
        y += 12
        if style == "code":
            top = y
            y += 4
        else:
            lines = [w for line in lines for w in (textwrap.wrap(line, int(width / (size * 0.55))) or [""])]
        for line in lines:
            y += int(size * 1.35)
            rows.append(f'<text x="{32 if style == "code" else 20}" y="{y}" font-family="{family}" '
                        f'font-size="{size}" fill="{color}" xml:space="preserve">{e(line)}</text>')
        if style == "code":
            rows.insert(len(rows) - len(lines), f'<rect x="20" y="{top}" width="{width - 40}" '
                        f'height="{y - top + 10}" fill="#f5f5f5"/>')
            y += 10
    height = y + 24
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="#fff"/>'
            + "".join(rows) + "</svg>\n")


# -- numbers in French ---------------------------------------------------------------------

def fr(x: float, digits: int = 4) -> str:
    """2.0588 -> '2,0588'."""
    return f"{x:.{digits}f}".replace(".", ",")


def clock(hours_after_midnight: Fraction | float) -> str:
    """Hours after midnight -> 'HH:MM:SS' (rounded to the second)."""
    seconds = round(float(hours_after_midnight) * 3600)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def as_fraction(value: float, max_den: int = 1000, tol: float = 1e-9) -> Fraction | None:
    """The simple fraction a float stands for (2.0588235294 -> 35/17), or None."""
    f = Fraction(value).limit_denominator(max_den)
    return f if abs(float(f) - value) <= tol * max(1.0, abs(value)) else None


def jsonable(obj):
    """Fractions (and anything else non-JSON) from a helper module, made JSON-friendly."""
    if isinstance(obj, Fraction):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
