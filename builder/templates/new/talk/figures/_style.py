"""The look of every figure of this talk: drawn at the size it is shown, large fonts, a
colour-blind safe palette (Okabe & Ito), numbers written the way the slides write them.

    from _style import PALETTE, SLOT, canvas, number_axes
    fig, ax = canvas(1100, 520)     # the figure's size on the 1280×720 slide, in CSS px

`canvas(w, h)` makes a w×h px figure (1 in = 96 px, the browser's CSS inch) and the slide
shows the SVG at that natural size, so a 16 pt font is 21 px on the slide: every font here is
16 pt or more, above `ces check`'s floor for text in figures. Do not pass figsize= or
bbox_inches="tight": both change the size the slide was laid out for.
A helper module (its name starts with `_`): ces keys every figure that imports it on its code.
"""

import matplotlib

matplotlib.use("Agg")  # no display where ces runs figures
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

DECIMAL_COMMA = __DECIMAL_COMMA__   # 0,5 and 1 000 (French) rather than 0.5 and 1,000

# Okabe & Ito (2008), safe for the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

PX_PER_INCH = 96          # CSS px per inch
SLOT = {                  # the largest figure each place of slides/deck.css holds, CSS px
    "full": (1180, 540),  # alone under a title
    "half": (580, 520),   # in a 50 % column
}

plt.rcParams.update({
    "figure.dpi": PX_PER_INCH,
    "figure.figsize": (SLOT["half"][0] / PX_PER_INCH, SLOT["half"][1] / PX_PER_INCH),
    "figure.constrained_layout.use": True,   # labels inside the declared size
    "font.size": 18,                 # 24 px on the slide
    "axes.titlesize": 20,
    "axes.labelsize": 18,
    "xtick.labelsize": 17,
    "ytick.labelsize": 17,
    "legend.fontsize": 17,
    "legend.title_fontsize": 17,
    "figure.titlesize": 20,
    "lines.linewidth": 3,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",          # the same glyphs on every machine
})


def canvas(width_px: float, height_px: float, nrows: int = 1, ncols: int = 1, **subplots_kw):
    """plt.subplots for a figure shown width_px × height_px on the 1280×720 slide."""
    if width_px > 1280 or height_px > 720:
        raise ValueError(f"a {width_px}×{height_px} px figure does not fit a 1280×720 slide")
    return plt.subplots(nrows, ncols, figsize=(width_px / PX_PER_INCH, height_px / PX_PER_INCH), **subplots_kw)


def number(value: float, decimals: int | None = None) -> str:
    """A number as the slides write it: 3.14 or 3,14; 10000 as 10,000 or 10 000."""
    if decimals is not None:
        text = f"{value:,.{decimals}f}"
    elif float(value).is_integer() and abs(value) < 1e15:
        text = f"{int(value):,}"
    else:
        text = f"{value:,.6g}"
    if DECIMAL_COMMA:
        text = text.replace(",", "\u202f").replace(".", ",")
    return text.replace("-", "\u2212")


def number_axes(ax, x=True, y=True):
    """Plain numbers on the axes, written by `number` (log axes too: 1,000 rather than 10³,
    whose small exponent would be under the floor; no labels on minor ticks)."""
    formatter = FuncFormatter(lambda value, _pos: number(round(value, 10)))
    for wanted, axis in ((x, ax.xaxis), (y, ax.yaxis)):
        if wanted:
            axis.set_major_formatter(formatter)
            axis.set_minor_formatter(NullFormatter())
    return ax
