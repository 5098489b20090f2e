"""Shared look of every figure: drawn at the size it is shown, in the slides' font (Source Sans
Pro, the Reveal white theme's), large fonts for a lecture hall, a colour-blind safe palette
(Okabe & Ito) whose text shades meet WCAG AA, French number formatting (decimal comma), and a
guard that nothing lies on top of anything.

    from _style import plt, PALETTE, canvas, french_axes, assert_no_overlap
    fig, ax = canvas(580, 480)      # the figure's size on the 1280×720 slide, in CSS px
    ...
    assert_no_overlap(fig)          # before run.savefig: text size, contrast, overlaps
    run.savefig(fig, "name.svg")

A figure is drawn at its display size: `canvas(w, h)` makes a w×h px figure (1 in = 96 px,
the browser's CSS inch), the slide shows the SVG at that natural size (the ces filter gives
the <img> its width and height), so 16 pt text is 21 px on the slide and the smallest font
allowed here, MIN_FONT_PT = 15 pt, is 20 px, the talk's floor for any text (issue 19).
Do not pass figsize or bbox_inches="tight": both change the size the slide was laid out for.

The font: figures/fonts/ holds Source Sans Pro Regular and Semibold, copied unchanged from the
Reveal.js 5.2.1 tarball ces ships (dist/theme/fonts/source-sans-pro/, SIL Open Font License 1.1,
figures/fonts/OFL.txt); it has no Greek, so α, β, γ come from DejaVu Sans (matplotlib's own).

Slots of the deck's layout (slides/deck.css), in px: a full-width figure under a title is
at most SLOT["full"]; one in a 50 % column at most SLOT["half"].
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display anywhere ces runs
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

# Okabe & Ito (2008), safe for the common colour-vision deficiencies. Lines and areas use these;
# text in a colour uses TEXT[i] (the same hue darkened to 4.5:1 on white, WCAG AA).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
INK = "#222222"           # Reveal white theme's --r-main-color: every plain text of a figure
GREY = "#595959"          # the lightest grey text allowed on white (7:1)

PX_PER_INCH = 96          # CSS px per inch: an SVG of w pt is shown w·96/72 px wide
MIN_FONT_PT = 15          # 20 px on the slide; nothing smaller in any figure, scripts included
MIN_TEXT_PX = MIN_FONT_PT * PX_PER_INCH / 72
SLOT = {                  # largest figure that fits each layout slot of the deck, CSS px
    "full": (1180, 540),  # under a title, alone on the slide
    "full-source": (1180, 500),   # the same with a source line under it
    "half": (580, 520),   # a 50 % column
}

FONT_DIR = Path(__file__).resolve().parent / "fonts"
for _file in sorted(FONT_DIR.glob("*.ttf")):
    font_manager.fontManager.addfont(str(_file))
assert "Source Sans Pro" in {f.name for f in font_manager.fontManager.ttflist}, \
    f"{FONT_DIR}: Source Sans Pro missing (the figures' font)"

# Mathtext draws sub- and superscripts at 70 % of the text: a log axis' 10^-9 at 16 pt would
# have a 15 px exponent. At 94 % the exponent of a 16 pt tick label is 20 px, the floor.
# (A module constant of matplotlib's mathtext; fail loudly if a new matplotlib drops it.)
import matplotlib._mathtext as _mathtext  # noqa: E402

assert hasattr(_mathtext, "SHRINK_FACTOR"), "matplotlib changed its mathtext: update _style.py"
_mathtext.SHRINK_FACTOR = 0.94

plt.rcParams.update({
    "figure.figsize": (580 / PX_PER_INCH, 520 / PX_PER_INCH),   # a half slot unless canvas() says
    "figure.dpi": PX_PER_INCH,
    "figure.constrained_layout.use": True,   # fit labels inside the declared size
    "font.family": ["Source Sans Pro", "DejaVu Sans"],   # DejaVu: the Greek Source Sans Pro lacks
    "mathtext.fontset": "custom",
    "mathtext.rm": "Source Sans Pro",
    "mathtext.it": "Source Sans Pro",
    "mathtext.bf": "Source Sans Pro:semibold",
    "mathtext.sf": "Source Sans Pro",
    "mathtext.cal": "Source Sans Pro",
    "mathtext.tt": "DejaVu Sans Mono",
    "mathtext.fallback": "stixsans",
    "font.size": 17,                 # 23 px on the slide: readable from the back of the room
    "axes.titlesize": 18,
    "axes.labelsize": 17,
    "xtick.labelsize": 16,           # 21 px; a log tick's exponent at 94 %: 20 px
    "ytick.labelsize": 16,
    "legend.fontsize": 16,
    "legend.title_fontsize": 16,
    "figure.titlesize": 18,
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "lines.linewidth": 2.5,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",          # same glyphs on every machine that opens the SVG
    "axes.formatter.use_mathtext": True,
})


def canvas(width_px: float, height_px: float, nrows: int = 1, ncols: int = 1, **subplots_kw):
    """plt.subplots for a figure shown width_px × height_px on the 1280×720 slide."""
    if width_px > 1280 or height_px > 720:
        raise ValueError(f"a {width_px}×{height_px} px figure does not fit a 1280×720 slide")
    return plt.subplots(nrows, ncols, figsize=(width_px / PX_PER_INCH, height_px / PX_PER_INCH),
                        **subplots_kw)


def french_number(value: float, decimals: int | None = None) -> str:
    """12.5 -> '12,5'; 1234567 -> '1 234 567' (narrow no-break space as thousands separator)."""
    if decimals is not None:
        text = f"{value:,.{decimals}f}"
    elif float(value).is_integer() and abs(value) < 1e15:
        text = f"{int(value):,}"
    else:
        text = f"{value:,.6g}"
    return text.replace(",", "\u202f").replace(".", ",").replace("-", "\u2212")


def _tick(value, _pos):
    text = f"{value:.6g}"
    if "e" in text:
        return text
    return text.replace(".", ",").replace("-", "\u2212")


def french_axes(ax, x=True, y=True):
    """Decimal comma on linear numeric axes (log axes keep their 10^k labels; category
    axes keep their labels)."""
    from matplotlib.ticker import ScalarFormatter

    for wanted, axis, scale in ((x, ax.xaxis, ax.get_xscale()), (y, ax.yaxis, ax.get_yscale())):
        if wanted and scale == "linear" and isinstance(axis.get_major_formatter(), ScalarFormatter):
            axis.set_major_formatter(FuncFormatter(_tick))
    return ax


# -- contrast (WCAG 2.1) -------------------------------------------------------------------------
def luminance(colour) -> float:
    """WCAG relative luminance of a matplotlib colour (alpha ignored)."""
    from matplotlib.colors import to_rgb

    def linear(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg, bg="white") -> float:
    """WCAG contrast ratio of two colours, 1 to 21."""
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_colour(colour, bg="white", ratio: float = 4.5) -> str:
    """The colour's hue, darkened until text in it reads at `ratio` on bg (WCAG AA: 4.5)."""
    import colorsys

    from matplotlib.colors import to_hex, to_rgb

    h, l, s = colorsys.rgb_to_hls(*to_rgb(colour))
    while contrast(colorsys.hls_to_rgb(h, l, s), bg) < ratio and l > 0:
        l = max(0.0, l - 0.01)
    return to_hex(colorsys.hls_to_rgb(h, l, s))


TEXT = [text_colour(c) for c in PALETTE]   # PALETTE[i] for a text on white: same hue, AA contrast


# -- the guard: text size, contrast, and nothing on top of anything -------------------------------
def _drawn_texts(fig):
    """Draw the figure; return the Text artists actually drawn (visible, non-empty, in view)."""
    from matplotlib.text import Text

    drawn, original = [], Text.draw

    def spy(self, renderer):
        if self.get_visible() and self.get_text().strip() and self.get_alpha() != 0 \
                and all(self is not t for t in drawn):
            drawn.append(self)
        return original(self, renderer)

    import logging

    class Missing(logging.Handler):   # mathtext logs a glyph its fonts lack, and draws a box
        def emit(self, record):
            if "does not have a glyph" in record.getMessage():
                missing.append(record.getMessage())

    missing, handler, log = [], Missing(), logging.getLogger("matplotlib")
    Text.draw = spy
    log.addHandler(handler)
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
        log.removeHandler(handler)
    return drawn, missing


def _script_scale(text: str) -> float:
    """Size of the smallest glyph of a text relative to its font size (mathtext scripts shrink)."""
    import re

    maths = "".join(re.findall(r"\$([^$]*)\$", text))
    depth = 1 if re.search(r"[_^]", maths) else 0   # one level of scripts is what figures use
    return _mathtext.SHRINK_FACTOR ** depth


def _segments_hit(points, box) -> bool:
    """Does the polyline `points` (n×2 display px, NaN breaks it) enter the rectangle `box`?"""
    import numpy as np

    p = np.asarray(points, dtype=float)
    if len(p) == 0:
        return False
    x0, y0, x1, y1 = box
    finite = p[np.isfinite(p).all(1)]
    if ((finite[:, 0] > x0) & (finite[:, 0] < x1) & (finite[:, 1] > y0) & (finite[:, 1] < y1)).any():
        return True
    a, b = p[:-1], p[1:]
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    a, b = a[ok], b[ok]
    if len(a) == 0:
        return False
    # Liang–Barsky clipping of every segment against the box, vectorised.
    d = b - a
    t0, t1 = np.zeros(len(a)), np.ones(len(a))
    hit = np.ones(len(a), bool)
    for pk, qk in ((-d[:, 0], a[:, 0] - x0), (d[:, 0], x1 - a[:, 0]),
                   (-d[:, 1], a[:, 1] - y0), (d[:, 1], y1 - a[:, 1])):
        parallel = pk == 0
        hit &= ~(parallel & (qk < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = qk / pk
        t0 = np.where(~parallel & (pk < 0), np.maximum(t0, r), t0)
        t1 = np.where(~parallel & (pk > 0), np.minimum(t1, r), t1)
    return bool((hit & (t0 < t1)).any())


def _obstacles(fig, renderer):
    """(what, kind, points in display px, radius px, clip box, zorder) of every plotted line and marker."""
    import numpy as np
    from matplotlib.collections import LineCollection, PathCollection

    out = []
    for ax in fig.axes:
        clip = ax.bbox.extents
        for line in ax.lines:
            if not line.get_visible():
                continue
            what = f"line {line.get_label()!r}" if not line.get_label().startswith("_") else "a line"
            path = line.get_transform().transform_path(line.get_path())
            xy = path.vertices
            if line.get_linestyle() not in ("None", "", " ") and len(xy) > 1:
                out.append((what, "line", xy, line.get_linewidth() * PX_PER_INCH / 72 / 2, clip, line.get_zorder()))
            if line.get_marker() not in (None, "None", "", " ", ","):
                r = line.get_markersize() * PX_PER_INCH / 72 / 2
                for point in xy:
                    out.append((what + " (marker)", "marker", point[None, :], r, clip, line.get_zorder()))
        for coll in ax.collections:
            if not coll.get_visible():
                continue
            if isinstance(coll, LineCollection):
                for seg in coll.get_segments():
                    xy = coll.get_transform().transform(np.asarray(seg))
                    out.append(("a line", "line", xy, 1.0, clip, coll.get_zorder()))
            elif isinstance(coll, PathCollection) and len(coll.get_offsets()):
                xy = coll.get_offset_transform().transform(coll.get_offsets())
                sizes = coll.get_sizes() if len(coll.get_sizes()) else [36.0]
                for i, point in enumerate(xy):
                    r = np.sqrt(sizes[i % len(sizes)]) * PX_PER_INCH / 72 / 2
                    out.append(("a marker", "marker", point[None, :], r, clip, coll.get_zorder()))
    return out


def layout_problems(fig) -> list[str]:
    """Every text of `fig` that is too small (< MIN_TEXT_PX, scripts included), too pale
    (WCAG AA on white: 4.5:1, 3:1 from 24 px), outside the figure, or on top of another text,
    a plotted line or a marker (legends count as one box). One line per problem."""
    import numpy as np
    from matplotlib.legend import Legend
    from matplotlib.text import Text

    texts, missing = _drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    legends = [a for a in fig.findobj(Legend) if a.get_visible()]
    in_legend = {id(t) for lg in legends for t in lg.findobj(lambda a: hasattr(a, "get_text"))}
    problems, boxes = [m.split(",")[0] + " (write it in $…$ maths)" for m in missing], []
    W, H = fig.bbox.width, fig.bbox.height

    def name(t):
        s = t.get_text().replace("\n", " ")
        return f"« {s if len(s) <= 40 else s[:39] + '…'} »"

    for t in texts:
        px = t.get_fontsize() * PX_PER_INCH / 72
        smallest = px * _script_scale(t.get_text())
        if smallest < MIN_TEXT_PX - 0.01:
            problems.append(f"{name(t)}: text {smallest:.1f} px < {MIN_TEXT_PX:.0f} px")
        patch = t.get_bbox_patch()
        bg = patch.get_facecolor() if patch is not None and patch.get_facecolor()[3] > 0 else None
        if bg is None and t.axes is not None:   # a text on a bar or a box: the topmost patch under it
            cx, cy = Text.get_window_extent(t, renderer).get_points().mean(0)
            under = [q for q in t.axes.patches if q.get_visible() and q.get_facecolor()[3] > 0
                     and q.get_window_extent(renderer).contains(cx, cy)]
            bg = under[-1].get_facecolor() if under else None
        if bg is None:
            bg = "white"
        else:   # a translucent fill: blend it on the white figure
            rgba = np.asarray(bg)
            bg = tuple(rgba[:3] * rgba[3] + (1 - rgba[3]))
        need = 3.0 if px >= 24 else 4.5
        ratio = contrast(t.get_color(), bg)
        if ratio < need - 1e-9:
            problems.append(f"{name(t)}: contrast {ratio:.2f}:1 < {need}:1")
        # the text's own box (an Annotation's get_window_extent adds its arrow)
        ext = patch.get_window_extent(renderer) if patch is not None else Text.get_window_extent(t, renderer)
        if ext.x0 < -0.5 or ext.y0 < -0.5 or ext.x1 > W + 0.5 or ext.y1 > H + 0.5:
            problems.append(f"{name(t)}: outside the figure")
        if id(t) not in in_legend:
            boxes.append((name(t), ext.extents, t))
    for lg in legends:
        boxes.append(("the legend", lg.get_window_extent(renderer).extents, lg))

    pad = 1.0   # px: boxes that only touch are apart
    shrunk = [(n, (x0 + pad, y0 + pad, x1 - pad, y1 - pad), a) for n, (x0, y0, x1, y1), a in boxes]
    for i, (n1, b1, _) in enumerate(shrunk):
        for n2, b2, _ in shrunk[i + 1:]:
            if b1[0] < b2[2] and b2[0] < b1[2] and b1[1] < b2[3] and b2[1] < b1[3]:
                problems.append(f"{n1} overlaps {n2}")
    def hides(artist, zorder):   # an opaque text box drawn above a line hides it: nothing on top
        patch = getattr(artist, "get_bbox_patch", lambda: None)()
        return patch is not None and patch.get_facecolor()[3] == 1 and artist.get_zorder() > zorder

    for what, kind, xy, r, clip, zorder in _obstacles(fig, renderer):
        for n, (x0, y0, x1, y1), artist in shrunk:
            if hides(artist, zorder):
                continue
            box = (max(x0 - r, clip[0]), max(y0 - r, clip[1]), min(x1 + r, clip[2]), min(y1 + r, clip[3]))
            if box[0] >= box[2] or box[1] >= box[3]:
                continue
            if _segments_hit(xy, box):
                problems.append(f"{n} is crossed by {what}" if kind == "line" else f"{n} covers {what}")
    return sorted(set(problems))


def assert_no_overlap(fig) -> None:
    """Call before run.savefig: fail the figure if any text is too small, too pale, outside the
    figure, or crosses another text, a plotted line or a marker (see layout_problems)."""
    problems = layout_problems(fig)
    if problems:
        raise AssertionError("figure layout: " + "; ".join(problems))
