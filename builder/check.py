"""`ces check`: a layout lint of the built deck, measured in the system's Chromium.

One browser, one page: every slide is shown at every fragment step (`Reveal.slide(h, v, f)`)
in a 1280×720 window, and these are reported, one line per problem, with the slide's number
and title:

- an element (or a run of text) outside the slide box;
- a scrolling or clipping box: any element of the slide whose content is taller (wider) than
  its box while its overflow is not `visible` (pre/code blocks, `.scrollable` sections);
- HTML text under the floor: computed font-size × the rendered scale of the element
  (Reveal's scale, and any transform inside the slide), in window pixels;
- text inside an SVG figure under the floor: each displayed SVG is fetched and laid out again
  off-screen at its displayed size; matplotlib draws text as `<use>` of glyph paths (font
  size 100 in glyph units, `<path transform="scale(0.015625)">` defs that do not count) under
  `<g transform="translate(..) scale(s -s)">`, so a glyph's size in window pixels is
  100 × the scale of the `<use>`'s screen matrix (the SVG's own transforms × displayed width ÷
  viewBox width); `<text>` elements count their font-size through the same matrix;
- an image (img, iframe, object) that did not load;
- a figure slide misplaced after a direct jump: `#/h/v` is opened fresh in a new page, and
  each figure's box is compared with the one it has when the slide is stepped to.

Thresholds are settings (`check:` in ces.yml, `DEFAULTS` below). Nothing here imports torch or
matplotlib; Playwright drives /usr/bin/chromium (never a downloaded browser).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import config
from .errors import ConfigError, ExitCode, LayoutProblems

# The exit status of `ces check` (and `ces build`'s check) when it found problems.
EXIT_LAYOUT_PROBLEMS = ExitCode.LAYOUT

CONFIG_FILE = config.FILE
DEFAULTS = {
    "width": 1280,                 # the window the deck is checked in, px
    "height": 720,
    "text_min_px": 20.0,           # smallest HTML text on a slide, window px
    "figure_text_min_px": 16.0,    # smallest text inside an SVG figure, window px
    "overflow_tolerance_px": 1.0,  # how far past the slide edge (or a box) counts as outside
    "jump_tolerance_px": 4.0,      # how far a figure may move between a step and a direct jump
    "ignore": ["a.ces-provenance"],  # CSS selectors whose text size is not checked (ces' ⚙ link)
}
_NUMBERS = ("width", "height", "text_min_px", "figure_text_min_px", "overflow_tolerance_px", "jump_tolerance_px")


def load_settings(root: Path | None) -> dict:
    """DEFAULTS, overridden by the `check:` section of ces.yml (if any). Bad values: ConfigError."""
    settings = dict(DEFAULTS)
    section = config.section(root, "check")
    for key, value in section.items():
        if key not in DEFAULTS:
            raise ConfigError(f"{CONFIG_FILE}: check.{key} is not a setting", tip=f"check: knows {', '.join(DEFAULTS)}")
        if key in _NUMBERS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                    or (key in ("width", "height") and value < 100):
                raise ConfigError(f"{CONFIG_FILE}: check.{key} must be a positive number of pixels, not {value!r}")
            settings[key] = value
        else:  # ignore
            if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
                raise ConfigError(f"{CONFIG_FILE}: check.ignore must be a list of CSS selectors, not {value!r}")
            settings[key] = value
    return settings


@dataclass
class Problem:
    slide: int      # 1-based, in reading order (vertical slides included)
    title: str
    kind: str       # outside, scroll, text, figure-text, image, jump
    subject: str    # what: "p.source « Source : … »", "figure kaplan.svg"
    detail: str     # "48 px below the bottom edge", "text 9.8 px < 16 px"
    worst: float = 0.0  # for merging the same problem seen at several fragment steps

    def line(self) -> str:
        return f"slide {self.slide} « {self.title} »: {self.subject} {self.detail}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    slides: int = 0
    states: int = 0      # slide × fragment steps shown
    jumps: int = 0       # figure slides opened directly
    seconds: float = 0.0
    min_text_px: float | None = None
    min_figure_text_px: float | None = None
    external_requests: list[str] = field(default_factory=list)


# -- in the page -------------------------------------------------------------------------------
# Helpers defined once in the page (window.__cesCheck).
_HELPERS_JS = r"""
() => {
  if (window.__cesCheck) return;
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const clean = s => (s || '').replace(/\s+/g, ' ').trim();
  const snippet = s => { s = clean(s); return s.length > 40 ? s.slice(0, 39) + '…' : s; };
  const title = slide => {
    const h = slide.querySelector('h1, h2, h3');
    return clean(h ? h.textContent : '') || slide.id || '';
  };
  const describe = el => {
    let name = el.localName;
    if (el.id && !/^cb\d|^refs$/.test(el.id) && el.localName !== 'section') name += '#' + el.id;
    const cls = [...(el.classList || [])].filter(c => !/^(fragment|visible|current-fragment|present|past|future)$/.test(c));
    if (cls.length) name += '.' + cls.slice(0, 2).join('.');
    const src = el.getAttribute && (el.getAttribute('src') || el.getAttribute('data-src') || el.getAttribute('data'));
    if (src) return name + ' ' + src.split('/').pop().split('?')[0];
    const text = snippet(el.textContent);
    return text ? name + ' « ' + text + ' »' : name;
  };
  const visible = el => el.checkVisibility({opacityProperty: true, visibilityProperty: true});
  const inNotes = el => !!el.closest('aside.notes, .speaker-notes');
  // All images of a slide loaded (or failed), then two frames.
  const settle = async (slide, ms) => {
    const imgs = [...slide.querySelectorAll('img')];
    await Promise.race([
      Promise.all(imgs.map(img => (img.complete && img.getAttribute('src')) ? null : new Promise(r => {
        img.addEventListener('load', r, {once: true}); img.addEventListener('error', r, {once: true});
      }))),
      sleep(ms)]);
    await frames();
  };
  const figures = slide => [...slide.querySelectorAll('img, iframe, object, embed, video, svg')]
    .filter(el => !inNotes(el) && !el.parentElement.closest('svg'));
  const boxes = slide => {
    const base = document.querySelector('.reveal .slides').getBoundingClientRect();
    return figures(slide).map(el => {
      const r = el.getBoundingClientRect();
      return {what: describe(el), x: r.left - base.left, y: r.top - base.top, w: r.width, h: r.height,
              W: base.width, H: base.height};
    });
  };
  // Measure the current state of `slide`: outside, scrolling boxes, text sizes.
  const measure = (slide, opt) => {
    const box = document.querySelector('.reveal .slides');
    const base = box.getBoundingClientRect();
    const scale = base.width / box.offsetWidth;
    const tol = opt.tolerance * scale;
    const out = {outside: [], scroll: [], text: [], minText: null};
    const clipped = el => {  // inside a box of the slide that clips it: the box is reported instead
      for (let p = el.parentElement; p && p !== slide.parentElement; p = p.parentElement) {
        const cs = getComputedStyle(p);
        if (cs.overflowX !== 'visible' || cs.overflowY !== 'visible') return p !== el;
        if (p === slide) break;
      }
      return false;
    };
    const ignored = el => opt.ignore.some(sel => el.closest(sel));
    const away = r => {
      const d = {below: r.bottom - base.bottom, above: base.top - r.top, right: r.right - base.right, left: base.left - r.left};
      let side = null, px = tol;
      for (const k in d) if (d[k] > px) { px = d[k]; side = k; }
      return side ? {side, px} : null;
    };
    const offending = new Set();
    const all = [slide, ...slide.querySelectorAll('*')].filter(el => !inNotes(el));
    for (const el of all) {
      if (!visible(el)) continue;
      const cs = getComputedStyle(el);
      // scrolling / clipping boxes
      if (el.localName !== 'svg' && (cs.overflowY !== 'visible' || cs.overflowX !== 'visible')
          && el.clientHeight > 0 && el.clientWidth > 0) {
        const dy = el.scrollHeight - el.clientHeight, dx = el.scrollWidth - el.clientWidth;
        if (dy > opt.tolerance || dx > opt.tolerance) {
          out.scroll.push({what: describe(el), dy, dx, h: el.clientHeight, w: el.clientWidth,
                           sh: el.scrollHeight, sw: el.scrollWidth,
                           mode: (cs.overflowY === 'hidden' || cs.overflowY === 'clip') ? 'clips' : 'scrolls'});
        }
      }
      if (el === slide || clipped(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      const a = away(r);
      if (a) offending.add(el), out.outside.push({el, what: describe(el), ...a});
    }
    // text runs: outside the box (a line longer than its block), and their size
    const walker = document.createTreeWalker(slide, NodeFilter.SHOW_TEXT);
    const small = new Map();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.data.trim() || !el || inNotes(el) || !visible(el) || el.closest('svg, script, style')) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      const r = range.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (!clipped(n) && !offending.has(el)) {
        // a line's box is the font's content area, taller than its glyphs: keep the em box only
        const lines = range.getClientRects();
        const em = parseFloat(getComputedStyle(el).fontSize) * scale;
        const inset = lines.length ? Math.max(0, (lines[0].height - em) / 2) : 0;
        const a = away({left: r.left, right: r.right, top: r.top + inset, bottom: r.bottom - inset});
        if (a) offending.add(el), out.outside.push({el, what: describe(el), ...a});
      }
      if (ignored(el)) continue;
      let host = el; while (host && !(host instanceof HTMLElement && host.offsetWidth > 0)) host = host.parentElement;
      const hr = host ? host.getBoundingClientRect() : null;
      let s = host && hr.width > 0 ? hr.width / host.offsetWidth : scale;
      if (Math.abs(s / scale - 1) < 0.03) s = scale;  // offsetWidth is rounded: only a real transform counts
      const px = parseFloat(getComputedStyle(el).fontSize) * s;
      if (out.minText === null || px < out.minText) out.minText = px;
      if (px < opt.textMin) {
        if (!small.has(el) || small.get(el) > px) small.set(el, px);
      }
    }
    // report the outermost offenders only
    const top = list => list.filter(o => { for (let p = o.el.parentElement; p; p = p.parentElement)
                                           if (list.some(q => q.el === p)) return false; return true; });
    // siblings (the lines of a code block, the items of a list) make one problem
    const byParent = new Map();
    for (const o of top(out.outside)) {
      const k = o.el.parentElement;
      if (!byParent.has(k)) byParent.set(k, []);
      byParent.get(k).push(o);
    }
    out.outside = [...byParent.values()].map(list => {
      const worst = list.reduce((a, b) => (b.px > a.px ? b : a));
      return {what: list[0].what + (list.length > 1 ? ` (and ${list.length - 1} more)` : ''),
              side: worst.side, px: worst.px};
    });
    const smalls = [...small].map(([el, px]) => ({el, px}));
    out.text = top(smalls).map(({el, px}) => ({what: describe(el), px}));
    return out;
  };
  // Images of the slide that did not load.
  const broken = slide => {
    const out = [];
    for (const img of slide.querySelectorAll('img')) {
      if (inNotes(img)) continue;
      if (!(img.complete && img.naturalWidth > 0)) out.push({what: describe(img)});
    }
    for (const el of slide.querySelectorAll('iframe, object, embed, video')) {
      if (inNotes(el)) continue;
      const url = el.src || el.data || '';
      out.push({what: describe(el), url: url ? new URL(url, document.baseURI).href : null});
    }
    return out;
  };
  // Every displayed SVG: [{what, url, w, h}] (img with an .svg source, inline svg, object).
  const svgs = slide => {
    const out = [];
    for (const el of figures(slide)) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      let url = null;
      if (el.localName === 'iframe' || el.localName === 'video') continue;
      if (el.localName === 'img') url = el.currentSrc || el.src;
      else if (el.localName === 'object' || el.localName === 'embed') url = el.data || el.src;
      if (url && !/\.svg(\?|#|$)/i.test(url) && !/^data:image\/svg/.test(url)) continue;
      const i = out.length;
      if (el.localName === 'svg') el.setAttribute('data-ces-check-svg', String(i));
      out.push({what: describe(el), url, inline: el.localName === 'svg' ? i : null, w: r.width, h: r.height});
    }
    return out;
  };
  // Effective size of every glyph/text of one SVG displayed at w×h window px.
  const svgText = async (item) => {
    let svg;
    if (item.inline !== null) {
      svg = document.querySelector(`[data-ces-check-svg="${item.inline}"]`).cloneNode(true);
    } else {
      let text;
      try {
        const resp = await fetch(item.url);
        if (!resp.ok) return {error: 'HTTP ' + resp.status};
        text = await resp.text();
      } catch (e) { return {error: String(e)}; }
      const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      if (doc.querySelector('parsererror') || doc.documentElement.localName !== 'svg') return {error: 'not an SVG'};
      svg = document.importNode(doc.documentElement, true);
    }
    const holder = document.createElement('div');
    holder.style.cssText = 'position:fixed;left:0;top:0;visibility:hidden;pointer-events:none;z-index:-1;'
                         + 'transform:none;zoom:1;';
    svg.setAttribute('width', item.w);
    svg.setAttribute('height', item.h);
    svg.style.cssText = 'display:block;width:' + item.w + 'px;height:' + item.h + 'px;transform:none';
    holder.appendChild(svg);
    document.body.appendChild(holder);
    const label = el => {  // matplotlib writes the text in a comment before its group
      for (let p = el; p && p !== svg; p = p.parentNode) {
        for (let s = p.previousSibling; s; s = s.previousSibling) {
          if (s.nodeType === Node.COMMENT_NODE) return clean(s.data);
          if (s.nodeType === Node.ELEMENT_NODE) break;
        }
      }
      return clean(el.textContent);
    };
    const glyph = use => {
      const href = use.getAttribute('href') || use.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '';
      const target = href.startsWith('#') ? svg.querySelector('[id="' + href.slice(1) + '"]') : null;
      return target && target.localName === 'path' && !!target.closest('defs')
             && /scale\(\s*0?\.015625\s*\)/.test(target.getAttribute('transform') || '');
    };
    const sizes = [];
    try {
      const ctmScale = el => { const m = el.getScreenCTM(); return m ? Math.sqrt(Math.abs(m.a * m.d - m.b * m.c)) : null; };
      for (const el of svg.querySelectorAll('use, text')) {
        if (el.closest('defs, clipPath, mask, pattern, symbol, marker')) continue;
        let px = null;
        if (el.localName === 'use') {
          if (!glyph(el)) continue;
          const s = ctmScale(el);
          if (s !== null) px = 100 * s;
        } else {
          if (!el.textContent.trim()) continue;
          const s = ctmScale(el);
          if (s !== null) px = parseFloat(getComputedStyle(el).fontSize) * s;
        }
        if (px !== null && isFinite(px)) sizes.push({px, label: label(el)});
      }
    } finally {
      holder.remove();
    }
    return {sizes};
  };
  window.__cesCheck = {sleep, frames, title, settle, measure, broken, svgs, svgText, boxes, describe};
}
"""

_INDEX_JS = r"""
() => Reveal.getSlides().map(slide => {
  const {h, v} = Reveal.getIndices(slide);
  return {h, v: v || 0, title: window.__cesCheck.title(slide),
          figures: window.__cesCheck.boxes(slide).length};
})
"""

# Show slide i at fragment step f (null: the last one), let it settle, measure it.
_STATE_JS = r"""
async ({i, f, opt}) => {
  const C = window.__cesCheck;
  const slide = Reveal.getSlides()[i];
  const {h, v} = Reveal.getIndices(slide);
  Reveal.slide(h, v || 0, -1);
  const steps = [...new Set([...slide.querySelectorAll('.fragment')].filter(e => !e.closest('aside.notes'))
                 .map(e => parseInt(e.getAttribute('data-fragment-index'), 10)).filter(n => !isNaN(n)))]
                .sort((a, b) => a - b);
  if (f !== null && f >= 0) Reveal.slide(h, v || 0, steps[f]);
  await C.settle(slide, opt.imageWaitMs);
  Reveal.layout();  // the layout a presenter stepping through the deck sees (images preloaded)
  await C.frames();
  const out = C.measure(slide, opt);
  out.steps = steps.length;
  out.last = f === steps.length - 1;
  if (f === -1) out.boxes = C.boxes(slide);
  if (out.last) {
    out.broken = C.broken(slide);
    out.svgs = C.svgs(slide);
  }
  return out;
}
"""

# A fresh page, loaded on a slide far away: jump to #/h/v as a link, `G`+number or the search do,
# and give the slide's images the time to arrive (no layout call: what the deck does by itself).
_JUMP_JS = r"""
async ({i, anchor, opt}) => {
  const C = window.__cesCheck;
  const slide = Reveal.getSlides()[i];
  // In a small deck the slide may have been preloaded (viewDistance): make it cold again, as
  // after a jump from far away (a new URL, so that the memory cache does not answer at once).
  for (const img of slide.querySelectorAll('img[data-lazy-loaded]')) {
    const src = img.getAttribute('src');
    img.removeAttribute('src');
    img.removeAttribute('data-lazy-loaded');
    img.setAttribute('data-src', src + (src.includes('?') ? '&' : '?') + 'ces-jump');
  }
  location.hash = anchor;
  for (let k = 0; k < 100 && Reveal.getCurrentSlide() !== slide; k++) await C.sleep(10);
  await C.frames();
  await C.settle(slide, opt.imageWaitMs);
  await C.sleep(50);
  await C.frames();
  return {arrived: Reveal.getCurrentSlide() === slide, boxes: C.boxes(slide)};
}
"""


def _px(x: float) -> str:
    return f"{x:.1f}".replace(".0", "") if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def check_site(site: Path, settings: dict | None = None, chromium: str | None = None,
               screenshot_dir: Path | None = None, echo=None) -> Report:
    """Walk the deck in site/index.html and return its Report (problems in slide order)."""
    from .pdf import browser_session

    settings = {**DEFAULTS, **(settings or {})}
    site = Path(site)
    if not (site / "index.html").is_file():
        from .errors import RenderError
        raise RenderError(f"{site / 'index.html'} does not exist", tip="run `ces build` first")
    start = time.perf_counter()
    report = Report()
    opt = {"tolerance": settings["overflow_tolerance_px"], "textMin": settings["text_min_px"],
           "ignore": list(settings["ignore"]), "imageWaitMs": 5000}
    viewport = {"width": int(settings["width"]), "height": int(settings["height"])}
    found: dict[tuple, Problem] = {}
    shots = Path(screenshot_dir) if screenshot_dir is not None else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)

    def add(i, title, kind, subject, detail, worst=0.0):
        key = (i, kind, subject)
        old = found.get(key)
        if old is None or worst > old.worst:
            found[key] = Problem(i + 1, title, kind, subject, detail, worst)

    with browser_session(site, purpose="check the deck", chromium=chromium) as (context, base, log):
        page = context.new_page()
        page.set_viewport_size(viewport)
        page.goto(f"{base}/index.html", wait_until="load")
        _wait_reveal(page)
        page.evaluate("() => Reveal.configure({transition: 'none', backgroundTransition: 'none', "
                      "controlsTutorial: false})")
        page.evaluate(_HELPERS_JS)
        slides = page.evaluate(_INDEX_JS)
        report.slides = len(slides)
        walk_boxes = {}
        for i, s in enumerate(slides):
            title = s["title"]
            f = -1
            while True:
                out = page.evaluate(_STATE_JS, {"i": i, "f": f, "opt": opt})
                report.states += 1
                _collect(out, i, title, settings, add, report)
                if f == -1:
                    walk_boxes[i] = out.get("boxes", [])
                if out["last"]:
                    if shots is not None:
                        page.screenshot(path=str(shots / f"{i + 1:03d}.png"))
                    for item in out["svgs"]:
                        _check_svg(page, item, i, title, settings, add, report)
                    for b in out["broken"]:
                        if "url" not in b or b["url"] is None or b["url"] in log["failed"]:
                            add(i, title, "image", b["what"], "did not load")
                    break
                f += 1
        page.close()
        # Direct jumps, each in a fresh page loaded on a slide far away (its images not loaded).
        for i, s in enumerate(slides):
            if not s["figures"]:
                continue
            far = slides[-1] if i < len(slides) / 2 else slides[0]
            jump = context.new_page()
            jump.set_viewport_size(viewport)
            jump.goto(f"{base}/index.html#/{far['h']}/{far['v']}", wait_until="load")
            _wait_reveal(jump)
            jump.evaluate("() => Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
            jump.evaluate(_HELPERS_JS)
            anchor = f"#/{s['h']}" + (f"/{s['v']}" if s["v"] else "")
            out = jump.evaluate(_JUMP_JS, {"i": i, "anchor": anchor, "opt": opt})
            jump.close()
            report.jumps += 1
            if not out["arrived"]:
                add(i, s["title"], "jump", f"link {anchor}", "does not lead to this slide")
                continue
            _compare_jump(anchor, walk_boxes.get(i, []), out["boxes"], i, s["title"], settings, add)
        report.external_requests = list(log["external_requests"])
    report.problems = sorted(found.values(), key=lambda p: (p.slide, _ORDER.index(p.kind), p.subject))
    report.seconds = time.perf_counter() - start
    return report


_ORDER = ("image", "outside", "scroll", "jump", "text", "figure-text")


def _wait_reveal(page) -> None:
    try:
        page.wait_for_function("() => window.Reveal && Reveal.isReady && Reveal.isReady()", timeout=20_000)
    except Exception:
        from .errors import RenderError
        raise RenderError("the deck never became ready in Chromium (Reveal.js did not start)",
                          tip="open _site/index.html in a browser and look at its console") from None


def _collect(out: dict, i: int, title: str, settings: dict, add, report: Report) -> None:
    for o in out["outside"]:
        add(i, title, "outside", o["what"], f"{_px(o['px'])} px {_SIDES[o['side']]}", o["px"])
    for b in out["scroll"]:
        if b["dy"] > settings["overflow_tolerance_px"]:
            detail = f"{b['mode']}: content {b['sh']} px high in a {b['h']} px box"
        else:
            detail = f"{b['mode']}: content {b['sw']} px wide in a {b['w']} px box"
        add(i, title, "scroll", b["what"], detail, max(b["dy"], b["dx"]))
    by_size: dict[float, list[str]] = {}
    for t in out["text"]:  # one line per size: a code block or a bibliography is one problem
        by_size.setdefault(round(t["px"], 1), []).append(t["what"])
    for px, whats in by_size.items():
        more = f" (and {len(whats) - 1} more)" if len(whats) > 1 else ""
        add(i, title, "text", f"{whats[0]}{more}", f"text {_px(px)} px < {_px(settings['text_min_px'])} px", -px)
    if out["minText"] is not None:
        report.min_text_px = min(out["minText"], report.min_text_px or out["minText"])


_SIDES = {"below": "below the bottom edge", "above": "above the top edge", "right": "past the right edge",
          "left": "past the left edge"}


def _check_svg(page, item: dict, i: int, title: str, settings: dict, add, report: Report) -> None:
    name = item["what"].split(" ")[-1] if item["url"] else item["what"]
    subject = f"figure {name}"
    result = page.evaluate("(item) => window.__cesCheck.svgText(item)", item)
    if "error" in result:
        add(i, title, "image", subject, f"could not be read for its text sizes ({result['error']})")
        return
    sizes = result["sizes"]
    if not sizes:
        return
    smallest = min(sizes, key=lambda s: s["px"])
    report.min_figure_text_px = min(smallest["px"], report.min_figure_text_px or smallest["px"])
    floor = settings["figure_text_min_px"]
    if smallest["px"] < floor:
        below = sum(s["px"] < floor for s in sizes)
        texts = len({s["label"] for s in sizes})
        label = smallest["label"]
        label = label if len(label) <= 30 else label[:29] + "…"
        add(i, title, "figure-text", subject,
            f"text {_px(smallest['px'])} px < {_px(floor)} px (« {label} »; {below} of {len(sizes)} glyphs "
            f"in {texts} texts below)", -smallest["px"])


def _compare_jump(anchor: str, stepped: list, jumped: list, i: int, title: str, settings: dict, add) -> None:
    tol = settings["jump_tolerance_px"]
    for before, after in zip(stepped, jumped):
        dy, dx = after["y"] - before["y"], after["x"] - before["x"]
        subject = f"figure {before['what'].split(' ')[-1]}"
        if abs(dy) > tol or abs(dx) > tol:
            where = (f"{_px(abs(dy))} px {'lower' if dy > 0 else 'higher'}" if abs(dy) >= abs(dx)
                     else f"{_px(abs(dx))} px {'right' if dx > 0 else 'left'}")
            add(i, title, "jump", subject, f"is {where} after a direct jump ({anchor}) than when stepped to",
                max(abs(dy), abs(dx)))
        else:  # in place, but cut by the slide's edge (boxes: window px from the slide box's corner)
            below = after["y"] + after["h"] - after["H"]
            if below > tol and before["y"] + before["h"] - before["H"] <= tol:
                add(i, title, "jump", subject, f"runs {_px(below)} px below the bottom edge after a direct jump "
                    f"({anchor})", below)


def run(site: Path, root: Path | None, chromium: str | None = None, screenshot_dir: Path | None = None,
        echo=print) -> Report:
    """`ces check`: print one line per problem and a summary; raise LayoutProblems if any."""
    report = check_site(site, load_settings(root), chromium=chromium, screenshot_dir=screenshot_dir)
    for p in report.problems:
        echo(p.line())
    for url in report.external_requests:
        echo(f"warning: blocked a request outside the deck: {url}")
    echo(summary(report))
    if report.problems:
        slides = len({p.slide for p in report.problems})
        raise LayoutProblems(f"{len(report.problems)} layout problem{'s' * (len(report.problems) > 1)} "
                             f"on {slides} slide{'s' * (slides > 1)}")
    return report


def summary(report: Report) -> str:
    def fmt(x):
        return "—" if x is None else f"{x:.1f} px"
    return (f"Checked {report.slides} slides ({report.states} fragment steps, {report.jumps} direct jumps) in "
            f"{report.seconds:.1f} s: smallest text {fmt(report.min_text_px)}, smallest figure text "
            f"{fmt(report.min_figure_text_px)}, {len(report.problems)} problem"
            f"{'s' * (len(report.problems) != 1)}")



def check_after_build(root: Path, since: float, echo=print) -> None:
    """`ces build`'s check: when the deck was rendered after `since` (a no-op build checks nothing)
    and Chromium is present, walk it and print its problems as warnings. The build's exit status
    stays the build's: `ces check` is the gate (exit EXIT_LAYOUT_PROBLEMS)."""
    from .errors import RenderError
    from .pdf import find_chromium
    from .render import SITE, SITE_MANIFEST

    stamp = root / SITE / SITE_MANIFEST   # written last, by each render
    if not stamp.is_file() or stamp.stat().st_mtime < since:
        return
    try:
        find_chromium(purpose="check the deck")
        import playwright  # noqa: F401
    except (RenderError, ImportError):
        echo("Layout check skipped: no Chromium (or Playwright) here")
        return
    report = check_site(root / SITE, load_settings(root))
    for p in report.problems:
        echo(f"  warning  {p.line()}")
    echo(summary(report) + (" (`ces check` exits non-zero on them)" if report.problems else ""))
