"""Shared look of every figure: drawn at the size it is shown, large fonts for a lecture
hall, a colour-blind safe palette (Okabe & Ito), French number formatting (decimal comma).

    from _style import plt, PALETTE, canvas, french_axes
    fig, ax = canvas(580, 480)      # the figure's size on the 1280×720 slide, in CSS px

A figure is drawn at its display size: `canvas(w, h)` makes a w×h px figure (1 in = 96 px,
the browser's CSS inch), the slide shows the SVG at that natural size (the ces filter gives
the <img> its width and height), so 16 pt text is 21 px on the slide and the smallest font
allowed here, MIN_FONT_PT = 14 pt, is 18.7 px — above ces check's 16 px floor even when
Reveal scales the slide to 96 %. Do not pass figsize or bbox_inches="tight": both change
the size the slide was laid out for.

Slots of the deck's layout (slides/deck.css), in px: a full-width figure under a title is
at most SLOT["full"]; one in a 50 % column at most SLOT["half"].
"""

import matplotlib

matplotlib.use("Agg")  # no display anywhere ces runs
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

# Okabe & Ito (2008), safe for the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

PX_PER_INCH = 96          # CSS px per inch: an SVG of w pt is shown w·96/72 px wide
MIN_FONT_PT = 14          # 18.7 px on the slide; nothing smaller in any figure
SLOT = {                  # largest figure that fits each layout slot of the deck, CSS px
    "full": (1180, 540),  # under a title, alone on the slide
    "full-source": (1180, 500),   # the same with a source line under it
    "half": (580, 520),   # a 50 % column
}

# Mathtext draws sub- and superscripts at 70 % of the text: a log axis' 10^-9 at 15 pt would
# have a 14 px exponent. At 87 % the exponent of the smallest font (14 pt) is 16 px, the floor.
# (A module constant of matplotlib's mathtext; fail loudly if a new matplotlib drops it.)
import matplotlib._mathtext as _mathtext  # noqa: E402

assert hasattr(_mathtext, "SHRINK_FACTOR"), "matplotlib changed its mathtext: update _style.py"
_mathtext.SHRINK_FACTOR = 0.87

plt.rcParams.update({
    "figure.figsize": (580 / PX_PER_INCH, 520 / PX_PER_INCH),   # a half slot unless canvas() says
    "figure.dpi": PX_PER_INCH,
    "figure.constrained_layout.use": True,   # fit labels inside the declared size
    "font.size": 16,                 # 21 px on the slide: readable from the back of the room
    "axes.titlesize": 17,
    "axes.labelsize": 16,
    "xtick.labelsize": 15,
    "ytick.labelsize": 15,
    "legend.fontsize": 15,
    "legend.title_fontsize": 15,
    "figure.titlesize": 17,
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
