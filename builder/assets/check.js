// `ces check`'s measures, run in the deck's page (window.__cesCheck); builder/check.py drives them.
// Sizes are window pixels (1280×720 window); every function reads the slide as it is shown.
(() => {
  if (window.__cesCheck) return;
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const clean = s => (s || '').replace(/\s+/g, ' ').trim();
  const snippet = (s, n = 40) => { s = clean(s); return s.length > n ? s.slice(0, n - 1) + '…' : s; };
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
  const matches = (el, selectors) => selectors.some(s => { try { return !!el.closest(s); } catch (e) { return false; } });
  const MEDIA = 'img, iframe, object, embed, video, canvas, svg';

  // All images of a slide loaded (or failed), the fonts ready, then two frames.
  const settle = async (slide, ms) => {
    const imgs = [...slide.querySelectorAll('img')];
    await Promise.race([
      Promise.all(imgs.map(img => (img.complete && img.getAttribute('src')) ? null : new Promise(r => {
        img.addEventListener('load', r, {once: true}); img.addEventListener('error', r, {once: true});
      }))),
      sleep(ms)]);
    await document.fonts.ready;
    await frames();
  };
  const figures = slide => [...slide.querySelectorAll(MEDIA)]
    .filter(el => !inNotes(el) && !el.parentElement.closest('svg'));
  const boxes = slide => {
    const base = document.querySelector('.reveal .slides').getBoundingClientRect();
    return figures(slide).map(el => {
      const r = el.getBoundingClientRect();
      return {what: describe(el), x: r.left - base.left, y: r.top - base.top, w: r.width, h: r.height,
              W: base.width, H: base.height};
    });
  };
  const cut = (a, b) => ({w: Math.min(a.right, b.right) - Math.max(a.left, b.left),
                          h: Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top)});

  // -- colours (WCAG 2) --------------------------------------------------------------------------
  const rgba = s => {
    const m = /^rgba?\(([^)]+)\)$/.exec((s || '').trim());
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(parseFloat);
    return p.length >= 3 ? [p[0], p[1], p[2], p.length > 3 ? p[3] : 1] : null;
  };
  const over = (top, bottom) => {  // top (alpha) composited over an opaque bottom
    const a = top[3];
    return [0, 1, 2].map(k => top[k] * a + bottom[k] * (1 - a)).concat([1]);
  };
  const luminance = c => {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const hex = c => '#' + c.slice(0, 3).map(v => Math.round(v).toString(16).padStart(2, '0')).join('');
  // The opaque colour behind `el`: the page, Reveal's slide background, then each ancestor's
  // background-color; null when an image or a gradient is in the way (not judged).
  const background = (el, slide) => {
    let bg = [255, 255, 255, 1];
    const layers = [document.documentElement, document.body];
    const present = document.querySelector('.reveal .backgrounds .slide-background.present');
    if (present) layers.push(present, ...present.querySelectorAll('.slide-background-content'));
    const chain = [];
    for (let p = el; p && p !== document.body; p = p.parentElement) chain.unshift(p);
    for (const layer of layers.concat(chain)) {
      const cs = getComputedStyle(layer);
      if (cs.backgroundImage && cs.backgroundImage !== 'none') return null;
      const c = rgba(cs.backgroundColor);
      if (c && c[3] > 0) bg = over(c, bg);
    }
    return bg;
  };
  const opacity = el => {
    let o = 1;
    for (let p = el; p && p.nodeType === 1; p = p.parentElement) o *= parseFloat(getComputedStyle(p).opacity);
    return o;
  };

  // -- the text runs of a slide ------------------------------------------------------------------
  // [{el, node, rects (each line's em box), px (window px), small, ignored}]
  const textRuns = (slide, scale) => {
    const out = [];
    const walker = document.createTreeWalker(slide, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.data.trim() || !el || inNotes(el) || !visible(el) || el.closest('svg, script, style, math, .MathJax')) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      const lines = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
      if (!lines.length) continue;
      let host = el; while (host && !(host instanceof HTMLElement && host.offsetWidth > 0)) host = host.parentElement;
      const hr = host ? host.getBoundingClientRect() : null;
      let s = host && hr.width > 0 ? hr.width / host.offsetWidth : scale;
      if (Math.abs(s / scale - 1) < 0.03) s = scale;  // offsetWidth is rounded: only a real transform counts
      const css = parseFloat(getComputedStyle(el).fontSize);
      const em = css * s;
      // a line's box is the font's content area, taller than its glyphs: keep the em box only
      const rects = lines.map(r => { const inset = Math.max(0, (r.height - em) / 2);
        return {left: r.left, right: r.right, top: r.top + inset, bottom: r.bottom - inset}; });
      out.push({el, node: n, range, rects, px: em, text: n.data});
    }
    return out;
  };

  // Measure the current state of `slide`.
  const measure = (slide, opt) => {
    const box = document.querySelector('.reveal .slides');
    const base = box.getBoundingClientRect();
    const scale = base.width / box.offsetWidth;
    const tol = opt.tolerance * scale;
    const out = {outside: [], scroll: [], text: [], overlap: [], controls: [], contrast: [], minText: null,
                 words: 0, tall: window.__cesTall(slide)};
    const clipped = el => {  // inside a box of the slide that clips it: the box is reported instead
      for (let p = el.parentElement; p && p !== slide.parentElement; p = p.parentElement) {
        const cs = getComputedStyle(p);
        if (cs.overflowX !== 'visible' || cs.overflowY !== 'visible') return p !== el;
        if (p === slide) break;
      }
      return false;
    };
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
    const runs = textRuns(slide, scale);
    const small = new Map();
    const seen = new Set();
    for (const t of runs) {
      const el = t.el;
      if (!clipped(t.node) && !offending.has(el)) {
        const r = t.rects.reduce((a, b) => ({left: Math.min(a.left, b.left), right: Math.max(a.right, b.right),
                                             top: Math.min(a.top, b.top), bottom: Math.max(a.bottom, b.bottom)}));
        const a = away(r);
        if (a) offending.add(el), out.outside.push({el, what: describe(el), ...a});
      }
      t.small = matches(el, opt.small);
      t.ignored = matches(el, opt.ignore);
      if (!t.small && !t.ignored && !el.closest('.ces-provenance')) {
        out.words += (t.text.match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) || []).length;
      }
      if (t.ignored) continue;
      if (out.minText === null || t.px < out.minText) out.minText = t.px;
      const floor = t.small ? opt.smallTextMin : opt.textMin;
      if (t.px < floor && (!small.has(el) || small.get(el).px > t.px)) small.set(el, {px: t.px, floor});
      // contrast, once per element
      if (!seen.has(el)) {
        seen.add(el);
        const fg = rgba(getComputedStyle(el).color);
        const bg = fg && background(el, slide);
        if (fg && bg) {
          const shown = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
          const need = t.px >= opt.largeTextPx ? opt.contrastLarge : opt.contrast;
          const got = ratio(shown, bg);
          if (got < need - 0.005) out.contrast.push({el, what: describe(el), ratio: got, need, fg: hex(shown), bg: hex(bg)});
        }
      }
    }
    // text over a figure's box, or over other text
    const media = figures(slide).filter(visible).map(el => ({el, r: el.getBoundingClientRect()}))
      .filter(m => m.r.width > 0 && m.r.height > 0);
    const hit = (a, b) => { const c = cut(a, b); return c.w > 2 * scale && c.h > 2 * scale ? c : null; };
    const overlaps = new Map();
    for (const t of runs) {
      for (const m of media) {
        if (m.el.contains(t.el)) continue;
        if (t.rects.some(r => hit(r, m.r))) { overlaps.set(t.el.localName + describe(t.el) + '|' + describe(m.el),
          {el: t.el, what: describe(t.el), over: describe(m.el), kind: 'figure'}); break; }
      }
    }
    for (let i = 0; i < runs.length; i++) {
      for (let j = i + 1; j < runs.length; j++) {
        const a = runs[i], b = runs[j];
        if (a.el === b.el) continue;
        const both = a.rects.some(p => b.rects.some(q => { const c = cut(p, q);
          return c.w > 2 * scale && c.h > 0.3 * Math.min(p.bottom - p.top, q.bottom - q.top); }));
        if (both) overlaps.set(describe(a.el) + '|' + describe(b.el), {el: a.el, what: describe(a.el), over: describe(b.el), kind: 'text'});
      }
    }
    out.overlap = [...overlaps.values()];
    // the band of Reveal's controls (arrows) and of the slide number
    // (every arrow's place, shown or not: the band they appear in as the deck is stepped through)
    const shown = el => !!el && getComputedStyle(el).display !== 'none' && el.checkVisibility();
    const bands = [];
    const controls = document.querySelector('.reveal .controls');
    const vertical = Reveal.hasVerticalSlides();  // up and down arrows only in a deck that has vertical slides
    if (shown(controls)) for (const b of controls.querySelectorAll('button')) {
      if (!vertical && /navigate-(up|down)/.test(b.className)) continue;
      bands.push({what: 'the navigation arrows', r: b.getBoundingClientRect()});
    }
    const number = document.querySelector('.reveal .slide-number');
    if (shown(number)) bands.push({what: 'the slide number', r: number.getBoundingClientRect()});
    for (let k = bands.length - 1; k >= 0; k--) if (!(bands[k].r.width > 0 && bands[k].r.height > 0)) bands.splice(k, 1);
    const under = new Map();
    for (const b of bands) {
      for (const t of runs) if (t.rects.some(r => hit(r, b.r))) under.set(t.el, {el: t.el, what: describe(t.el), band: b.what});
      for (const m of media) if (hit(m.r, b.r)) under.set(m.el, {el: m.el, what: describe(m.el), band: b.what});
    }
    out.controls = [...under.values()];
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
    const smalls = [...small].map(([el, v]) => ({el, ...v}));
    out.text = top(smalls).map(({el, px, floor}) => ({what: describe(el), px, floor}));
    out.controls = top(out.controls).map(({what, band}) => ({what, band}));
    out.overlap = out.overlap.map(({what, over, kind}) => ({what, over, kind}));
    out.contrast = top(out.contrast).map(({el, ...rest}) => rest);
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
  // Every displayed SVG: [{what, url, w, h, bg}] (img with an .svg source, inline svg, object).
  const svgs = slide => {
    const out = [];
    for (const el of figures(slide)) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      let url = null;
      if (['iframe', 'video', 'canvas'].includes(el.localName)) continue;
      if (el.localName === 'img') url = el.currentSrc || el.src;
      else if (el.localName === 'object' || el.localName === 'embed') url = el.data || el.src;
      if (url && !/\.svg(\?|#|$)/i.test(url) && !/^data:image\/svg/.test(url)) continue;
      const i = out.length;
      if (el.localName === 'svg') el.setAttribute('data-ces-check-svg', String(i));
      const bg = background(el, slide);
      out.push({what: describe(el), url, inline: el.localName === 'svg' ? i : null, w: r.width, h: r.height,
                bg: bg ? bg.slice(0, 3) : null});
    }
    return out;
  };

  // One SVG laid out again off-screen at its displayed size: the size of every text, texts
  // crossing other texts, plotted lines or markers, and text fills against what is behind them.
  // Texts: matplotlib's text_* groups (glyphs drawn as <use>), or <text> elements (any SVG).
  // Lines: unfilled stroked paths/lines/polylines outside texts (matplotlib's line2d_*); markers:
  // <use> of a marker shape (line2d_*, PathCollection_*) and small filled shapes in those groups.
  const svgFigure = async (item, opt) => {
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
    const hidden = el => !!el.closest('defs, clipPath, mask, pattern, symbol, marker');
    const sizes = [], crossings = [], contrast = [];
    try {
      const ctmScale = el => { const m = el.getScreenCTM(); return m ? Math.sqrt(Math.abs(m.a * m.d - m.b * m.c)) : null; };
      // texts: {el, label, px, r (screen box), fill}
      const texts = new Map();
      const textOf = el => el.closest('g[id^="text_"]') || el;
      for (const el of svg.querySelectorAll('use, text')) {
        if (hidden(el)) continue;
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
        if (px === null || !isFinite(px)) continue;
        sizes.push({px, label: label(el)});
        const key = textOf(el);
        const r = el.getBoundingClientRect();
        const t = texts.get(key) || {el: key, label: label(el), px, boxes: [], fills: new Set()};
        t.px = Math.min(t.px, px);
        if (r.width > 0 && r.height > 0) t.boxes.push(r);
        const cs = getComputedStyle(el);
        t.fills.add(JSON.stringify([cs.fill, parseFloat(cs.fillOpacity), parseFloat(cs.opacity)]));
        texts.set(key, t);
      }
      const list = [...texts.values()].filter(t => t.boxes.length).map(t => {
        const b = t.boxes;
        return {...t, r: {left: Math.min(...b.map(x => x.left)), right: Math.max(...b.map(x => x.right)),
                          top: Math.min(...b.map(x => x.top)), bottom: Math.max(...b.map(x => x.bottom))}};
      });
      const inset = (r, d) => ({left: r.left + d, right: r.right - d, top: r.top + d, bottom: r.bottom - d});
      const inside = (p, r) => p.x > r.left && p.x < r.right && p.y > r.top && p.y < r.bottom;
      // text over text
      for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) {
        const a = list[i], b = list[j];
        if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
        const c = cut(inset(a.r, 1), inset(b.r, 1));
        if (c.w > 1 && c.h > 1) crossings.push({text: a.label, other: 'the text « ' + snippet(b.label, 30) + ' »'});
      }
      // lines and markers
      const isText = el => !!el.closest('g[id^="text_"], text') || [...texts.keys()].some(k => k.contains(el));
      const paint = v => v && v !== 'none' && !/^rgba\(.*,\s*0\)$/.test(v);
      const strokes = [], markers = [];
      for (const el of svg.querySelectorAll('path, line, polyline, polygon, circle, ellipse, rect, use')) {
        // (a tick's grid line and mark, in matplotlib's xtick_/ytick_ groups, are the axes' own: not plotted)
        if (hidden(el) || isText(el) || el.closest('g[id^="xtick_"], g[id^="ytick_"]')) continue;
        const cs = getComputedStyle(el);
        if (cs.display === 'none') continue;  // (visibility: the off-screen holder hides everything)
        const group = el.closest('g[id^="line2d_"], g[id^="PathCollection_"], g[id^="Line2D"]');
        if (el.localName === 'use') {
          if (glyph(el)) continue;
          if (group || el.closest('g[id^="markers"]')) markers.push(el);
          continue;
        }
        if (paint(cs.stroke) && !paint(cs.fill) && el.localName !== 'rect' && parseFloat(cs.strokeWidth) > 0) strokes.push(el);
        else if (group && paint(cs.fill)) markers.push(el);
      }
      const named = el => { const g = el.closest('g[id]'); return g && g !== svg ? g.id : el.localName; };
      // The screen box a shape is clipped to (matplotlib clips plotted lines to the axes:
      // their geometry runs on past it, unseen), or null.
      const clipBox = el => {
        const owner = el.closest('[clip-path]');
        const m = owner && /url\(\s*["']?#([^"')]+)/.exec(owner.getAttribute('clip-path'));
        const clip = m && svg.querySelector('[id="' + m[1] + '"]');
        const shape = clip && clip.querySelector('rect');
        const ctm = owner && owner.getScreenCTM();
        if (!shape || !ctm) return null;
        const b = shape.getBBox();
        const xs = [b.x, b.x + b.width], ys = [b.y, b.y + b.height];
        const pts = xs.flatMap(x => ys.map(y => ({x: ctm.a * x + ctm.c * y + ctm.e, y: ctm.b * x + ctm.d * y + ctm.f})));
        return {left: Math.min(...pts.map(p => p.x)), right: Math.max(...pts.map(p => p.x)),
                top: Math.min(...pts.map(p => p.y)), bottom: Math.max(...pts.map(p => p.y))};
      };
      const clipped = (box, el) => { const c = clipBox(el); if (!c) return box;
        return {left: Math.max(box.left, c.left), right: Math.min(box.right, c.right),
                top: Math.max(box.top, c.top), bottom: Math.min(box.bottom, c.bottom)}; };
      // each stroke sampled once, about every screen pixel, when a text's box meets its box
      const sampled = new Map();
      const points = el => {
        if (!sampled.has(el)) {
          const pts = [];
          const m = el.getScreenCTM();
          const len = el.getTotalLength ? el.getTotalLength() : 0;
          if (m && isFinite(len) && len > 0) {
            const n = Math.min(3000, Math.ceil(len * (ctmScale(el) || 1)) + 1);
            const c = clipBox(el);
            for (let k = 0; k <= n; k++) {
              const p = el.getPointAtLength(len * k / n);
              const q = {x: m.a * p.x + m.c * p.y + m.e, y: m.b * p.x + m.d * p.y + m.f};
              if (!c || inside(q, inset(c, -1))) pts.push(q);
            }
          }
          sampled.set(el, pts);
        }
        return sampled.get(el);
      };
      const boxOf = new Map(strokes.map(el => [el, clipped(el.getBoundingClientRect(), el)]));
      const markerBox = new Map(markers.map(el => [el, clipped(el.getBoundingClientRect(), el)]));
      for (const t of list) {
        const r = inset(t.r, 1);
        let found = null;
        for (const el of strokes) {
          const b = boxOf.get(el);
          if (cut(b, r).w < 0 || cut(b, r).h < 0) continue;  // boxes apart (a zero-width line still counts)
          if (points(el).some(q => inside(q, r))) { found = 'a line (' + named(el) + ')'; break; }
        }
        if (!found) for (const el of markers) {
          const c = cut(markerBox.get(el), r);
          if (c.w > 1 && c.h > 1) { found = 'a marker (' + named(el) + ')'; break; }
        }
        if (found) crossings.push({text: t.label, other: found});
      }
      // text fill against the shape behind it (the last filled shape before it whose box holds
      // its centre), else the page's background behind the figure
      const filled = [...svg.querySelectorAll('rect, path, polygon, circle, ellipse')].filter(el => {
        if (hidden(el) || isText(el)) return false;
        const cs = getComputedStyle(el);
        return paint(cs.fill) && !(el.closest('g[id^="line2d_"], g[id^="PathCollection_"]'));
      });
      if (item.bg) for (const t of list) {
        if (t.fills.size !== 1) continue;
        const [fill, fo, op] = JSON.parse([...t.fills][0]);
        const fg = rgba(fill);
        if (!fg) continue;
        const cx = (t.r.left + t.r.right) / 2, cy = (t.r.top + t.r.bottom) / 2;
        let bg = item.bg.concat([1]);
        for (const el of filled) {
          if (t.el.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) break;
          const b = el.getBoundingClientRect();
          if (!(cx > b.left && cx < b.right && cy > b.top && cy < b.bottom)) continue;
          if (el.localName === 'path' && !el.isPointInFill(new DOMPoint(...(() => {
            const m = el.getScreenCTM().inverse(); return [m.a * cx + m.c * cy + m.e, m.b * cx + m.d * cy + m.f]; })()))) continue;
          const cs = getComputedStyle(el);
          const c = rgba(cs.fill);
          if (c) bg = over([c[0], c[1], c[2], c[3] * parseFloat(cs.fillOpacity) * parseFloat(cs.opacity)], bg);
        }
        const shown = over([fg[0], fg[1], fg[2], fg[3] * fo * op], bg);
        const need = t.px >= opt.largeTextPx ? opt.contrastLarge : opt.contrast;
        const got = ratio(shown, bg);
        if (got < need - 0.005) contrast.push({text: t.label, ratio: got, need, fg: hex(shown), bg: hex(bg)});
      }
    } finally {
      holder.remove();
    }
    return {sizes, crossings, contrast};
  };
  window.__cesCheck = {sleep, frames, title, settle, measure, broken, svgs, svgFigure, boxes, describe};
})();
