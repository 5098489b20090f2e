// `ces check` inside one frame (an iframe's document, whatever its origin; run in that frame by
// Playwright): does the document scroll or clip, and which texts fall under the floor once
// scaled to window pixels (`scale`: this frame's CSS px in window px).
({scale, floor, tolerance}) => {
  const clean = s => (s || '').replace(/\s+/g, ' ').trim();
  const doc = document.scrollingElement || document.documentElement;
  const body = document.body;
  const cs = el => el ? getComputedStyle(el) : null;
  const hidden = [cs(document.documentElement), cs(body)].some(s => s && /hidden|clip/.test(s.overflowY + s.overflowX));
  const frame = window.frameElement;  // null across origins: then only the document says
  const noScroll = frame && frame.getAttribute('scrolling') === 'no';
  const out = {url: location.href, w: doc.clientWidth, h: doc.clientHeight, sw: doc.scrollWidth, sh: doc.scrollHeight,
               mode: hidden || noScroll ? 'clips' : 'scrolls', small: [], minText: null};
  out.dy = out.sh - out.h; out.dx = out.sw - out.w;
  if (out.dy <= tolerance && out.dx <= tolerance) out.dy = out.dx = 0;
  if (!body) return out;
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.data.trim() || !el || el.closest('script, style, svg, noscript')) continue;
    if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    let s = 1;
    if (el instanceof HTMLElement && el.offsetWidth > 0) { s = r.width / el.offsetWidth; if (Math.abs(s - 1) < 0.03) s = 1; }
    const px = parseFloat(getComputedStyle(el).fontSize) * s * scale;
    if (out.minText === null || px < out.minText) out.minText = px;
    if (px < floor) out.small.push({px, text: clean(n.data).slice(0, 40)});
  }
  out.small.sort((a, b) => a.px - b.px);
  out.smallCount = out.small.length;
  out.small = out.small.slice(0, 1);
  return out;
}
