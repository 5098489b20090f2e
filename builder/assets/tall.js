// The one rule of a slide taller than its printed page, shared by `ces check` (screen view) and
// `ces pdf` (Reveal's print view): the height of the slide's content (its own height let go:
// a deck that fixes sections at 720 px still has content that runs past them) against the room
// of the page Reveal prints it on (printview.js: floor(height × (1 + margin)) +
// pdfPageHeightOffset, less 2 px of rounding). Both commands load this file, so they never disagree.
(() => {
  window.__cesTall = (slide) => {
    const cfg = Reveal.getConfig();
    const offset = typeof cfg.pdfPageHeightOffset === 'number' ? cfg.pdfPageHeightOffset : -1;
    const room = Math.floor(cfg.height * (1 + (cfg.margin || 0))) + offset - 2;
    const saved = slide.getAttribute('style');
    slide.style.setProperty('height', 'auto', 'important');
    slide.style.setProperty('min-height', '0', 'important');
    const need = slide.scrollHeight;
    if (saved === null) slide.removeAttribute('style'); else slide.setAttribute('style', saved);
    return {need, room, tall: need > room};
  };
})();
