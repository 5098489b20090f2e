"""`ces check`: a layout lint of the built deck, measured in the system's Chromium.

Every slide is shown at every fragment step (`Reveal.slide(h, v, f)`) in a 1280×720 window with
transitions and animations off, and these are reported, one line per problem, with the slide's
number and title (the measures are builder/assets/check.js, frame.js and tall.js):

- outside: an element (or a run of text) outside the slide box;
- tall: a slide taller than its printed page (assets/tall.js, the rule `ces pdf` uses too);
- scroll: a scrolling or clipping box (content taller or wider than a box that does not show it);
- jump: a figure slide laid out elsewhere after a direct jump (`#/h/v`, images cold) than stepped to;
- controls: text or a figure in the band of Reveal's navigation arrows or of the slide number;
- overlap: HTML text over a figure's box, or over other text;
- figure-overlap: inside an SVG figure (any SVG; laid out again at its displayed size), a text's
  box crossing another text, a plotted line or a marker (matplotlib's text_*, line2d_*,
  PathCollection_* groups; `<text>` and unfilled stroked shapes in any SVG);
- iframe: an iframe's document (nested ones too, whatever their origin) that scrolls or clips,
  or with text under the figure floor;
- text / figure-text: text under its floor (body, small: captions, sources, code; SVG figures),
  in window pixels (computed size × every scale it is shown through);
- contrast: text against what is behind it under WCAG AA (HTML: computed colour vs the composed
  background; SVG: text fill vs the shape behind it or the page);
- words: visible words on a slide over a setting (small text aside);
- image: an image, iframe or object that did not load.

Results are cached per slide in .ces/check.json at the project root, keyed by the slide's
rendered HTML (speaker notes aside), the files it shows, the deck's shell (its CSS and JS, the
HTML around the slides), the settings and this check's code: only changed slides are walked again.
Pages are walked in parallel (one per core, two at most) in one Chromium. Nothing here imports
torch or matplotlib; Playwright drives /usr/bin/chromium (never a downloaded browser).
"""

from __future__ import annotations

import asyncio
import hashlib
import html.parser
import json
import os
import re
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from . import browser, config
from .errors import ConfigError, LayoutProblems, RenderError

CONFIG_FILE = config.FILE
CACHE_FILE = Path(".ces") / "check.json"   # at the project root, never in _site/
SMALL_TEXT = ["figcaption", ".source", ".citation", "#refs", ".references", ".csl-entry", "pre", "code"]
DEFAULTS = {
    "width": 1280,                 # the window the deck is checked in, px
    "height": 720,
    "text_min_px": 26.0,           # smallest body text on a slide, window px
    "small_text_min_px": 20.0,     # smallest text matching `small` (captions, sources, code)
    "figure_text_min_px": 20.0,    # smallest text inside an SVG figure or an iframe, window px
    "words_max": 50,               # visible words on a slide (small text aside)
    "contrast_min": 4.5,           # WCAG AA, text under large_text_px
    "contrast_large_min": 3.0,     # WCAG AA, text of large_text_px or more
    "large_text_px": 24.0,
    "overflow_tolerance_px": 1.0,  # how far past the slide edge (or a box) counts as outside
    "jump_tolerance_px": 4.0,      # how far a figure may move between a step and a direct jump
    "small": SMALL_TEXT,           # CSS selectors of small text: its own floor, not counted in words
    "ignore": ["a.ces-provenance"],  # CSS selectors whose text size, contrast and words are not checked
}
_SELECTORS = ("small", "ignore")
_WORKERS = 2
_ORDER = ("image", "outside", "tall", "scroll", "jump", "controls", "overlap", "figure-overlap", "iframe",
          "text", "figure-text", "contrast", "words")


def load_settings(root: Path | None) -> dict:
    """DEFAULTS, overridden by the `check:` section of ces.yml (if any). Bad values: ConfigError."""
    settings = dict(DEFAULTS)
    for key, value in config.section(root, "check").items():
        settings[key] = _setting(key, value)
    return settings


def _setting(key: str, value):
    """One checked `check:` value (a ConfigError naming check.KEY otherwise)."""
    if key not in DEFAULTS:
        raise ConfigError(f"{CONFIG_FILE}: check.{key} is not a setting", tip=f"check: knows {', '.join(DEFAULTS)}")
    if key in _SELECTORS:
        if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
            raise ConfigError(f"{CONFIG_FILE}: check.{key} must be a list of CSS selectors, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
            or (key in ("width", "height") and value < 100):
        what = "a positive number" + ("" if key.startswith(("contrast", "words")) else " of pixels")
        raise ConfigError(f"{CONFIG_FILE}: check.{key} must be {what}, not {value!r}")
    return value


@dataclass
class Problem:
    slide: int      # 1-based, in reading order (vertical slides included)
    title: str
    kind: str       # one of _ORDER
    subject: str    # what: "p.source « Source : … »", "figure kaplan.svg"
    detail: str     # "48 px below the bottom edge", "text 9.8 px < 16 px"
    worst: float = 0.0  # for merging the same problem seen at several fragment steps

    def line(self) -> str:
        return f"slide {self.slide} « {self.title} »: {self.subject} {self.detail}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    slides: int = 0
    walked: int = 0      # slides walked in Chromium this time
    cached: int = 0      # slides whose results came from .ces/check.json
    states: int = 0      # slide × fragment steps shown (walked slides)
    jumps: int = 0       # figure slides reached by a direct jump (walked slides)
    seconds: float = 0.0
    min_text_px: float | None = None
    min_figure_text_px: float | None = None
    external_requests: list[str] = field(default_factory=list)


# -- in the page -------------------------------------------------------------------------------
_INDEX_JS = r"""
() => Reveal.getSlides().map(slide => {
  const {h, v} = Reveal.getIndices(slide);
  return {h, v: v || 0, title: window.__cesCheck.title(slide), figures: window.__cesCheck.boxes(slide).length};
})
"""

# Show slide i at fragment step f (-1: none shown yet), let it settle, measure it.
_STATE_JS = r"""
async ({i, f, opt}) => {
  const C = window.__cesCheck;
  const slide = Reveal.getSlides()[i];
  const {h, v} = Reveal.getIndices(slide);
  Reveal.slide(h, v || 0, -1);
  const steps = [...new Set([...slide.querySelectorAll('.fragment')].filter(e => !e.closest('aside.notes'))
                 .map(e => parseInt(e.getAttribute('data-fragment-index'), 10)).filter(n => !isNaN(n)))]
                .sort((a, b) => a - b);
  if (f >= 0) Reveal.slide(h, v || 0, steps[f]);
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
    out.iframes = slide.querySelectorAll('iframe').length;
  }
  return out;
}
"""

# Slide i reached by a direct jump from a slide far away, its images cold again (as after a jump
# from far away: a new URL, so that the memory cache does not answer at once), as a link, `G`+number
# or the search do; no layout call: what the deck does by itself.
_JUMP_JS = r"""
async ({i, far, anchor, opt}) => {
  const C = window.__cesCheck;
  const slide = Reveal.getSlides()[i];
  Reveal.slide(far.h, far.v, -1);
  await C.frames();
  for (const img of slide.querySelectorAll('img[data-lazy-loaded]')) {
    const src = img.getAttribute('src');
    if (!src) continue;
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

_QUIET_CSS = ("*, *::before, *::after { transition: none !important; animation: none !important; "
              "caret-color: transparent !important; }")


def _px(x: float) -> str:
    return f"{x:.1f}".replace(".0", "") if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def _code_version() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    for name in ("check.js", "frame.js", "tall.js"):
        h.update(browser.script(name).encode())
    return h.hexdigest()[:16]


def check_site(site: Path, settings: dict | None = None, chromium: str | None = None,
               screenshot_dir: Path | None = None, root: Path | None = None, progress=None) -> Report:
    """Walk the deck in site/index.html and return its Report (problems in slide order).
    root: the project whose .ces/check.json caches results per slide (None: no cache; a
    screenshot run walks every slide)."""
    settings = {**DEFAULTS, **(settings or {})}
    site = Path(site)
    if not (site / "index.html").is_file():
        raise RenderError(f"{site / 'index.html'} does not exist", tip="run `ces build` first")
    if progress is None:
        progress = _terminal_progress()
    return asyncio.run(_Walk(site, settings, chromium, screenshot_dir, root, progress).run())


def _terminal_progress():
    if not sys.stderr.isatty():
        return lambda done, total: None

    def show(done, total):
        sys.stderr.write(f"\r\033[Kces check: slide {done}/{total}" if done < total else "\r\033[K")
        sys.stderr.flush()
    return show


class _Walk:
    def __init__(self, site, settings, chromium, shots, root, progress):
        self.site, self.settings, self.chromium, self.progress = site, settings, chromium, progress
        self.shots = Path(shots) if shots is not None else None
        self.cache_path = Path(root) / CACHE_FILE if root is not None else None
        self.opt = {"tolerance": settings["overflow_tolerance_px"], "textMin": settings["text_min_px"],
                    "smallTextMin": settings["small_text_min_px"], "small": list(settings["small"]),
                    "ignore": list(settings["ignore"]), "imageWaitMs": 5000, "contrast": settings["contrast_min"],
                    "contrastLarge": settings["contrast_large_min"], "largeTextPx": settings["large_text_px"]}
        self.viewport = {"width": int(settings["width"]), "height": int(settings["height"])}
        self.report = Report()
        self.svg_memo: dict = {}

    async def _open(self, context, base):
        page = await context.new_page()
        await page.set_viewport_size(self.viewport)
        await page.goto(f"{base}/index.html", wait_until="load")
        try:
            await page.wait_for_function("() => window.Reveal && Reveal.isReady && Reveal.isReady()", timeout=20_000)
        except Exception:
            raise RenderError("the deck never became ready in Chromium (Reveal.js did not start)",
                              tip="open _site/index.html in a browser and look at its console") from None
        await page.evaluate("() => Reveal.configure({transition: 'none', backgroundTransition: 'none', "
                            "controlsTutorial: false})")
        await page.add_style_tag(content=_QUIET_CSS)
        await page.evaluate(browser.script("tall.js"))
        await page.evaluate(browser.script("check.js"))
        return page

    async def run(self) -> Report:
        start = time.perf_counter()
        report = self.report
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
        keys = self._keys()
        cache = self._read_cache() if self.shots is None else {}
        results = {i: cache[k] for i, k in enumerate(keys) if k in cache}
        if len(results) < len(keys) or not keys:  # (no slide seen in the page: Reveal's word)
            results = await self._walk(keys, results)
        report.slides = len(keys)
        report.cached = len(keys) - report.walked
        self._write_cache({keys[i]: results[i] for i in results}, cache)
        found = []
        for i in sorted(results):
            r = results[i]
            for p in r["problems"]:
                found.append(Problem(i + 1, r["title"], **p))
            for name, value in (("min_text_px", r["min_text"]), ("min_figure_text_px", r["min_figure_text"])):
                if value is not None:
                    old = getattr(report, name)
                    setattr(report, name, value if old is None else min(old, value))
        report.problems = sorted(found, key=lambda p: (p.slide, _ORDER.index(p.kind), p.subject))
        report.seconds = time.perf_counter() - start
        return report

    async def _walk(self, keys: list, results: dict) -> dict:
        """Walk the slides not in `results` (all of them when Reveal does not see the slides
        the page holds) in parallel pages of one Chromium."""
        report = self.report
        async with browser.session(self.site, "check the deck", self.chromium) as (context, base, log):
            self._failed = log["failed"]
            first = await self._open(context, base)
            slides = await first.evaluate(_INDEX_JS)
            if len(slides) != len(keys):
                keys[:] = [f"unkeyed-{i}" for i in range(len(slides))]
                results = {}
            todo = [i for i in range(len(slides)) if i not in results]
            report.walked = len(todo)
            # a second page costs a load of the deck: worth it for a few slides or more
            workers = max(1, min(_WORKERS, os.cpu_count() or 1, len(todo) // 4))
            pages = [first] + [await self._open(context, base) for _ in range(workers - 1)]
            queue = list(todo)
            done = [len(slides) - len(todo)]
            self.progress(done[0], len(slides))

            async def worker(page):
                while queue:
                    i = queue.pop(0)
                    results[i] = await self._slide(page, i, slides)
                    done[0] += 1
                    self.progress(done[0], len(slides))

            await asyncio.gather(*(worker(p) for p in pages))
            report.external_requests = list(log["external_requests"])
        return results

    # -- the cache ------------------------------------------------------------------------------
    def _keys(self) -> list[str]:
        """One key per slide of the served page (speaker notes aside), in Reveal's order."""
        shell, slides = _split_page((self.site / "index.html").read_text(encoding="utf-8", errors="replace"))
        hashes: dict[str, str] = {}

        def file_hash(url: str) -> str:
            u = urllib.parse.urlsplit(url)
            if u.scheme or u.netloc or not u.path:
                return "-"
            if url not in hashes:
                path = self.site / urllib.parse.unquote(u.path).lstrip("/")
                try:
                    hashes[url] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
                except OSError:
                    hashes[url] = "unreadable"
            return hashes[url]

        base = hashlib.sha256(json.dumps([_code_version(), self.settings, shell["html"], len(slides),
                                          [(u, file_hash(u)) for u in shell["urls"]]],
                                         sort_keys=True).encode()).hexdigest()
        return [hashlib.sha256(json.dumps([base, s["html"], [(u, file_hash(u)) for u in sorted(set(s["urls"]))]],
                                          sort_keys=True).encode()).hexdigest()[:32]
                for s in slides]

    def _read_cache(self) -> dict:
        if self.cache_path is None:
            return {}
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
            return data["slides"] if isinstance(data, dict) and isinstance(data.get("slides"), dict) else {}
        except (OSError, ValueError, KeyError):
            return {}  # none yet, or unreadable: everything is walked and the file rewritten

    def _write_cache(self, current: dict, old: dict) -> None:
        current = {k: v for k, v in current.items() if not k.startswith("unkeyed-")}
        if self.cache_path is None or (not self.report.walked and set(current) == set(old)):
            return
        from .files import write_json

        try:
            self.cache_path.parent.mkdir(exist_ok=True)
            write_json(self.cache_path, {"slides": current}, indent=None)
        except OSError:
            pass  # a cache that cannot be written only costs time next run

    # -- one slide ------------------------------------------------------------------------------
    async def _slide(self, page, i: int, slides: list) -> dict:
        s = slides[i]
        found: dict[tuple, dict] = {}
        result = {"title": s["title"], "problems": [], "min_text": None, "min_figure_text": None}

        def add(kind, subject, detail, worst=0.0):
            # one problem seen at several fragment steps: its worst, or its latest ("and N more" grows)
            key = (kind, re.sub(r" \(and \d+ more\)$", "", subject))
            if key not in found or worst >= found[key]["worst"]:
                found[key] = {"kind": kind, "subject": subject, "detail": detail, "worst": worst}

        def low(name, value):
            if value is not None and (result[name] is None or value < result[name]):
                result[name] = value

        f, walk_boxes = -1, []
        while True:
            out = await page.evaluate(_STATE_JS, {"i": i, "f": f, "opt": self.opt})
            self.report.states += 1
            self._collect(out, add)
            low("min_text", out["minText"])
            if f == -1:
                walk_boxes = out.get("boxes", [])
            if self.shots is not None:
                await page.screenshot(path=str(self.shots / f"{i + 1:03d}-{f + 1}.png"))
            if out["last"]:
                break
            f += 1
        for item in out["svgs"]:
            low("min_figure_text", await self._svg(page, item, add))
        for b in out["broken"]:
            if b.get("url") is None or b["url"] in self._failed:
                add("image", b["what"], "did not load")
        if out["iframes"]:
            low("min_figure_text", await self._frames(page, i, add))
        if s["figures"]:
            self.report.jumps += 1
            far = slides[-1] if i < len(slides) / 2 else slides[0]
            anchor = f"#/{s['h']}" + (f"/{s['v']}" if s["v"] else "")
            jumped = await page.evaluate(_JUMP_JS, {"i": i, "far": {"h": far["h"], "v": far["v"]}, "anchor": anchor,
                                                    "opt": self.opt})
            if not jumped["arrived"]:
                add("jump", f"link {anchor}", "does not lead to this slide")
            else:
                self._compare_jump(anchor, walk_boxes, jumped["boxes"], add)
        result["problems"] = list(found.values())
        return result

    def _collect(self, out: dict, add) -> None:
        st = self.settings
        for o in out["outside"]:
            add("outside", o["what"], f"{_px(o['px'])} px {_SIDES[o['side']]}", o["px"])
        tall = out["tall"]
        if tall["tall"]:
            add("tall", "the slide", f"is taller than its printed page: {tall['need']} px of content for "
                f"{tall['room']} px (`ces pdf` shrinks it to {tall['room'] / tall['need']:.0%})", tall["need"])
        for b in out["scroll"]:
            if b["dy"] > st["overflow_tolerance_px"]:
                detail = f"{b['mode']}: content {b['sh']} px high in a {b['h']} px box"
            else:
                detail = f"{b['mode']}: content {b['sw']} px wide in a {b['w']} px box"
            add("scroll", b["what"], detail, max(b["dy"], b["dx"]))
        for c in out["controls"]:
            add("controls", c["what"], f"is under {c['band']} (bottom right)")
        for o in out["overlap"]:
            add("overlap", o["what"], f"is over {'the figure' if o['kind'] == 'figure' else 'the text'} {o['over']}")
        by_size: dict[tuple, list[str]] = {}
        for t in out["text"]:  # one line per size: a code block or a bibliography is one problem
            by_size.setdefault((round(t["px"], 1), t["floor"]), []).append(t["what"])
        for (px, floor), whats in by_size.items():
            more = f" (and {len(whats) - 1} more)" if len(whats) > 1 else ""
            add("text", f"{whats[0]}{more}", f"text {_px(px)} px < {_px(floor)} px", -px)
        by_colour: dict[tuple, list] = {}  # one line per pair of colours: a code theme's comments are one problem
        for c in out["contrast"]:
            by_colour.setdefault((c["fg"], c["bg"], c["need"]), []).append(c)
        for (fg, bg, need), cs in by_colour.items():
            more = f" (and {len(cs) - 1} more)" if len(cs) > 1 else ""
            add("contrast", cs[0]["what"] + more, f"contrast {cs[0]['ratio']:.2f}:1 < {_px(need)}:1 ({fg} on {bg})",
                -cs[0]["ratio"])
        if out["words"] > st["words_max"]:
            add("words", "the slide", f"shows {out['words']} words > {st['words_max']} (code, sources and "
                "captions aside)", out["words"])

    async def _svg(self, page, item: dict, add) -> float | None:
        name = item["what"].split(" ")[-1] if item["url"] else item["what"]
        subject = f"figure {name}"
        memo = (item["url"], round(item["w"], 1), round(item["h"], 1), tuple(item["bg"] or ()))
        if item["url"] is None or memo not in self.svg_memo:
            self.svg_memo[memo] = await page.evaluate("([item, opt]) => window.__cesCheck.svgFigure(item, opt)",
                                                      [item, self.opt])
        result = self.svg_memo[memo]
        if "error" in result:
            add("image", subject, f"could not be read for its text sizes ({result['error']})")
            return None
        if result["crossings"]:
            c, more = result["crossings"][0], len(result["crossings"]) - 1
            add("figure-overlap", subject, f"text « {_short(c['text'])} » is crossed by {c['other']}"
                + (f" (and {more} more crossing{'s' * (more > 1)})" if more else ""))
        for c in result["contrast"]:
            add("contrast", subject, f"text « {_short(c['text'])} »: contrast {c['ratio']:.2f}:1 < "
                f"{_px(c['need'])}:1 ({c['fg']} on {c['bg']})", -c["ratio"])
        sizes = result["sizes"]
        if not sizes:
            return None
        smallest = min(sizes, key=lambda s: s["px"])
        floor = self.settings["figure_text_min_px"]
        if smallest["px"] < floor:
            below = sum(s["px"] < floor for s in sizes)
            texts = len({s["label"] for s in sizes})
            add("figure-text", subject,
                f"text {_px(smallest['px'])} px < {_px(floor)} px (« {_short(smallest['label'])} »; {below} of "
                f"{len(sizes)} glyphs in {texts} texts below)", -smallest["px"])
        return smallest["px"]

    async def _frames(self, page, i: int, add) -> float | None:
        """Every frame under slide i's iframes (nested ones too, any origin): scrolling or
        clipping documents, text under the figure floor. Returns the smallest text seen."""
        floor, smallest = self.settings["figure_text_min_px"], None
        deadline = time.monotonic() + 5

        async def top_of(frame):
            """The iframe element of slide i that `frame` is in (itself or an ancestor), or None."""
            while frame.parent_frame is not None and frame.parent_frame is not page.main_frame:
                frame = frame.parent_frame
            try:
                element = await frame.frame_element()
                return element if await element.evaluate(
                    "(e, i) => e.closest('section') === Reveal.getSlides()[i]", i) else None
            except Exception:  # noqa: BLE001 - a frame gone meanwhile
                return None

        wanted = await page.evaluate("(i) => [...Reveal.getSlides()[i].querySelectorAll('iframe')]"
                                     ".filter(f => f.getAttribute('src')).length", i)
        seen: set = set()
        mine: list = []
        while True:  # frames appear as their parents load: until no new one comes
            new = [f for f in page.frames if f.parent_frame is not None and f not in seen]
            for frame in new:
                seen.add(frame)
                if await top_of(frame) is not None:
                    mine.append(frame)
                    try:
                        await frame.wait_for_load_state("load", timeout=5000)
                    except Exception:  # noqa: BLE001 - measured as it is
                        pass
            tops = sum(f.parent_frame is page.main_frame for f in mine)
            if not new and (tops >= wanted or time.monotonic() > deadline):
                break
            if not new:
                await asyncio.sleep(0.05)
        names = {}
        for frame in mine:
            try:
                await frame.wait_for_load_state("load", timeout=5000)
                scale, f = 1.0, frame
                while f.parent_frame is not None:  # each frame's CSS px in its parent's, up to the window
                    element = await f.frame_element()
                    scale *= await element.evaluate("e => { const r = e.getBoundingClientRect(); "
                                                    "return e.offsetWidth ? r.width / e.offsetWidth : 1; }")
                    f = f.parent_frame
                top = await top_of(frame)
                box = await top.evaluate("e => { const s = e.getAttribute('src') || e.getAttribute('data-src') || 'srcdoc'; "
                                         "return 'iframe ' + s.split('/').pop().split('?')[0]; }")
                if frame.parent_frame is not page.main_frame:
                    names[box] = names.get(box, 0) + 1
                    box += f" (frame {names[box]} inside it)"
                out = await frame.evaluate(browser.script("frame.js"),
                                           {"scale": scale, "floor": floor,
                                            "tolerance": self.settings["overflow_tolerance_px"]})
            except Exception as exc:  # noqa: BLE001 - a frame that navigated away or never loaded
                add("iframe", "an iframe", f"could not be measured ({str(exc).splitlines()[0][:80]})")
                continue
            if out["dy"] > 0:
                add("iframe", box, f"{out['mode']}: its document is {out['sh']} px high in a {out['h']} px frame",
                    out["dy"])
            elif out["dx"] > 0:
                add("iframe", box, f"{out['mode']}: its document is {out['sw']} px wide in a {out['w']} px frame",
                    out["dx"])
            if out["small"]:
                t = out["small"][0]
                add("iframe", box + " « " + t["text"] + " »", f"text {_px(t['px'])} px < {_px(floor)} px inside "
                    f"({out['smallCount']} texts below)", -t["px"])
            if out["minText"] is not None:
                smallest = out["minText"] if smallest is None else min(smallest, out["minText"])
        return smallest

    def _compare_jump(self, anchor: str, stepped: list, jumped: list, add) -> None:
        tol = self.settings["jump_tolerance_px"]
        for before, after in zip(stepped, jumped):
            dy, dx = after["y"] - before["y"], after["x"] - before["x"]
            subject = f"figure {before['what'].split(' ')[-1]}"
            if abs(dy) > tol or abs(dx) > tol:
                where = (f"{_px(abs(dy))} px {'lower' if dy > 0 else 'higher'}" if abs(dy) >= abs(dx)
                         else f"{_px(abs(dx))} px {'right' if dx > 0 else 'left'}")
                add("jump", subject, f"is {where} after a direct jump ({anchor}) than when stepped to",
                    max(abs(dy), abs(dx)))
            else:  # in place, but cut by the slide's edge (boxes: window px from the slide box's corner)
                below = after["y"] + after["h"] - after["H"]
                if below > tol and before["y"] + before["h"] - before["H"] <= tol:
                    add("jump", subject, f"runs {_px(below)} px below the bottom edge after a direct jump "
                        f"({anchor})", below)


class _Sections(html.parser.HTMLParser):
    """The leaf <section>s inside the page's `div.slides` (Reveal's slides, in its order): their
    source (speaker notes aside) and the URLs they show; and the page around them."""

    ATTRS = {"src", "data-src", "data", "poster", "href", "xlink:href", "data-background-image",
             "data-background-video", "data-background-iframe"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.text, self.lines = text, [0]
        for line in text.splitlines(keepends=True):
            self.lines.append(self.lines[-1] + len(line))
        self.stack: list[dict] = []   # open sections: {start, leaf, urls}
        self.slides: list[dict] = []
        self.shell_urls: list[str] = []
        self.depth_div = None         # depth of div.slides in the div stack
        self.divs = 0
        self.region = None            # (start, end) of div.slides' content
        self.notes: list[tuple] = []  # (start, end) of aside.notes

    def _at(self) -> int:
        line, col = self.getpos()
        return self.lines[line - 1] + col

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        urls = [v for k, v in attrs if k in self.ATTRS and v]
        if tag == "div":
            self.divs += 1
            if self.depth_div is None and "slides" in (a.get("class") or "").split():
                self.depth_div = self.divs
                self.region = [self._at() + len(self.get_starttag_text()), None]
        elif tag == "section" and self.depth_div is not None:
            for s in self.stack:
                s["leaf"] = False
            self.stack.append({"start": self._at(), "leaf": True, "urls": list(urls)})
            return
        elif tag == "aside" and "notes" in (a.get("class") or "").split() and self.stack:
            self.notes.append([self._at(), None])
        for s in self.stack:
            s["urls"] += urls
        if not (self.region and self.region[1] is None):
            self.shell_urls += urls

    def handle_endtag(self, tag):
        if tag == "div":
            if self.depth_div == self.divs and self.region and self.region[1] is None:
                self.region[1] = self._at()
            self.divs -= 1
        elif tag == "section" and self.stack:
            s = self.stack.pop()
            if s["leaf"]:
                end = self.text.index(">", self._at()) + 1
                source = self.text[s["start"]:end]
                for a, b in reversed([n for n in self.notes if n[0] >= s["start"] and n[1]]):
                    source = source[:a - s["start"]] + source[b - s["start"]:]
                self.slides.append({"html": source, "urls": s["urls"], "at": s["start"]})
        elif tag == "aside" and self.notes and self.notes[-1][1] is None:
            self.notes[-1][1] = self.text.index(">", self._at()) + 1


def _split_page(text: str) -> tuple[dict, list[dict]]:
    """({html, urls} of the page without its slides, [{html, urls}] per slide in order)."""
    parser = _Sections(text)
    parser.feed(text)
    parser.close()
    slides = sorted(parser.slides, key=lambda s: s["at"])
    if parser.region and parser.region[1] is not None:
        shell = text[:parser.region[0]] + text[parser.region[1]:]
    else:
        shell = text
    return {"html": shell, "urls": parser.shell_urls}, slides


def _short(label: str, n: int = 30) -> str:
    return label if len(label) <= n else label[:n - 1] + "…"


_SIDES = {"below": "below the bottom edge", "above": "above the top edge", "right": "past the right edge",
          "left": "past the left edge"}


def run(site: Path, root: Path | None, chromium: str | None = None, screenshot_dir: Path | None = None,
        echo=print) -> Report:
    """`ces check`: print one line per problem and a summary; raise LayoutProblems if any."""
    report = check_site(site, load_settings(root), chromium=chromium, screenshot_dir=screenshot_dir, root=root)
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
    return (f"Checked {report.slides} slides ({report.walked} walked, {report.cached} cached; {report.states} "
            f"fragment steps, {report.jumps} direct jumps) in {report.seconds:.1f} s: smallest text "
            f"{fmt(report.min_text_px)}, smallest figure text {fmt(report.min_figure_text_px)}, "
            f"{len(report.problems)} problem{'s' * (len(report.problems) != 1)}")


def check_after_build(root: Path, since: float, echo=print) -> None:
    """`ces build`'s check: when the deck was rendered after `since` (a no-op build checks nothing)
    and Chromium is present, walk it and print its problems as warnings. The build's exit status
    stays the build's: `ces check` is the gate (exit ExitCode.LAYOUT)."""
    from .deck import SITE
    from .site import SITE_MANIFEST

    stamp = root / SITE / SITE_MANIFEST   # written last, by each render
    if not stamp.is_file() or stamp.stat().st_mtime < since:
        return
    settings = load_settings(root)
    try:
        browser.find_chromium(purpose="check the deck")
        import playwright  # noqa: F401
    except (RenderError, ImportError):
        echo("Layout check skipped: no Chromium (or Playwright) here")
        return
    report = check_site(root / SITE, settings, root=root)
    for p in report.problems:
        echo(f"  warning  {p.line()}")
    echo(summary(report) + (" (`ces check` exits non-zero on them)" if report.problems else ""))

