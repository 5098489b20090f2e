"""Shared look of every figure: large fonts for a lecture hall, a colour-blind safe
palette (Okabe & Ito), French number formatting (decimal comma on the axes).

    import matplotlib; matplotlib.use("Agg")
    from _style import plt, PALETTE, french_axes
"""

import matplotlib

matplotlib.use("Agg")  # no display anywhere ces runs
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

# Okabe & Ito (2008), safe for the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

plt.rcParams.update({
    "figure.figsize": (8, 4.5),      # 16:9, the deck's shape
    "figure.dpi": 100,
    "font.size": 16,                 # readable from the back of the room
    "axes.titlesize": 18,
    "axes.labelsize": 16,
    "legend.fontsize": 13,
    "lines.linewidth": 2.5,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",          # same glyphs on every machine that opens the SVG
    "axes.formatter.use_mathtext": True,
})


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
