"""« Scaling laws for Neural LM 2020 » — Kaplan et al.'s three power laws, as published.

Kaplan, McCandlish, Henighan, Brown, Chess, Child, Gray, Radford, Wu, Amodei, "Scaling Laws for
Neural Language Models", arXiv 2001.08361 (docs/sources.md A15). The slide's image is most likely their
Fig. 1: test loss (nats/token, WebText2) against compute, data and non-embedding parameters.
This script does NOT reproduce their data: it plots the three published fits [V]

    L(C_min) = (3.1e8 PF-days / C_min)^0.050      (eq. 1.3; Fig. 1's label reads 2.3e8)
    L(D)     = (5.4e13 tokens / D)^0.095
    L(N)     = (8.8e13 params / N)^0.076

over the ranges their runs covered. Those ranges are NOT verified: N up to 1.5e9 [S], the rest
read off Fig. 1 from memory [M]; the JSON says so.

Run alone: python figures/kaplan.py --profile quick   (writes into _scratch/kaplan/)
"""

FIGURE = {
    "name": "kaplan",
    "caption": "Les trois lois d’échelle publiées par Kaplan et al. (2020) : perte de test en fonction "
               "du calcul, des données et des paramètres. Ce sont les ajustements publiés, pas des données.",
    "alt": "Trois panneaux en échelle log-log, chacun une droite décroissante : la perte baisse en loi "
           "de puissance avec le calcul (exposant 0,050), la taille du jeu de données (0,095) et le "
           "nombre de paramètres hors plongements (0,076).",
    "outputs": ["kaplan.svg", "kaplan.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"points": 50},
}

import numpy as np
from matplotlib.ticker import NullFormatter

from builder.script import setup
from _style import PALETTE, canvas, french_number, assert_no_overlap

run = setup(FIGURE)
p = run.params

# -- the published laws (docs/sources.md A15, all [V]) and the ranges they were fitted on ---------
LAWS = [
    # key, x label, constant, exponent, fitted range, range status, colour
    ("C", r"calcul $C_{\min}$ (PF-jours)", 3.1e8, 0.050, (1e-9, 1e1), "M: Fig. 1 axis, from memory", PALETTE[0]),
    ("D", "données D (jetons)", 5.4e13, 0.095, (2.2e7, 2.3e10), "M: 22M-23B tokens, from memory", PALETTE[2]),
    ("N", "paramètres N (hors plong.)", 8.8e13, 0.076, (1e5, 1.5e9),
     "S: up to 1.5B [S]; 1e5 = Fig. 1 axis [M]", PALETTE[3]),
]

curves = {}
for key, _, const, alpha, (lo, hi), status, _ in LAWS:
    x = np.logspace(np.log10(lo), np.log10(hi), p["points"])
    curves[key] = {"x": x, "loss": (const / x) ** alpha, "constant": const, "exponent": alpha,
                   "range": [lo, hi], "range_status": status,
                   "loss_factor_per_10x": 10 ** -alpha}   # docs/sources.md: 0.891, 0.804, 0.839

# -- plot -------------------------------------------------------------------------------------
fig, axes = canvas(1180, 470, 1, 3, sharey=True)
for ax, (key, xlabel, const, alpha, (lo, hi), _, colour) in zip(axes, LAWS):
    c = curves[key]
    ax.loglog(c["x"], c["loss"], color=colour, lw=3)
    ax.set_xlabel(xlabel)
    ax.set_title(f"L = ({key}$_c$ / {key})$^{{{french_number(alpha, 3).replace(',', '{,}')}}}$")
    ax.grid(True, which="major", alpha=0.3)
    decades = range(int(np.ceil(np.log10(lo))), int(np.floor(np.log10(hi))) + 1)
    ax.set_xticks([10.0 ** k for k in decades][::3 if len(decades) > 5 else 2])   # 15 pt labels fit
    ax.xaxis.set_minor_formatter(NullFormatter())
    # 10× more of the resource multiplies the loss by 10^-alpha
    ax.text(0.95, 0.95, f"×10 → perte ×{french_number(10 ** -alpha, 2)}", transform=ax.transAxes,
            ha="right", va="top", fontsize=15)
ticks = [2, 3, 4, 5, 6, 7]
axes[0].set_yticks(ticks, [str(t) for t in ticks])
axes[0].yaxis.set_minor_formatter(NullFormatter())
axes[0].set_ylabel("perte de test (nats/jeton)")
assert_no_overlap(fig)
run.savefig(fig, "kaplan.svg")

run.save_json("kaplan.json", {
    "laws": curves,
    "source": "Kaplan et al. 2020, arXiv 2001.08361, eq. 1.1-1.3 (docs/sources.md A15) [V]",
    "note": "published fits only, no data; L(C_min) uses eq. 1.3's 3.1e8 PF-days, Fig. 1's label "
            "reads 2.3e8; fitted ranges not verified (see range_status)",
})
