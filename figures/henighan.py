"""« Open-AI 2020 » — the scaling laws of Henighan et al. across modalities, as published.

Henighan, Kaplan, Katz, … McCandlish, "Scaling Laws for Autoregressive Generative Modeling",
arXiv 2010.14701: the same autoregressive Transformer on images, video, image↔text and maths, each
domain fitted with eq. (1.1), L(x) = L∞ + (x0/x)^α. Table 1 gives, per domain, L(N) (N the
non-embedding parameters), L(C) (C in petaflop/s-days) and N_opt(C) = (C/C0)^β. The constants are
in figures/data/henighan2020_table1.json, each with its row of Table 1; they were read on a
full-text copy of the paper (see the JSON's _doc). Like kaplan.py, this plots the published fits,
not data: left, the reducible loss L − L∞ = (N0/N)^α_N (the part a bigger model can remove) over
the model sizes of Tables 4 and 5; right, N_opt(C) over the compute that gives those sizes, with
language (Table 1's row from Kaplan et al.) for comparison: the exponents β ≈ 0.64–0.75 of every
domain are the paper's "nearly universal" optimal-size scaling.

Run alone: python figures/henighan.py --profile quick   (writes into _scratch/henighan/)
"""

FIGURE = {
    "name": "henighan",
    "caption": "Lois d’échelle publiées par Henighan et al. (2020) pour les images, la vidéo, "
               "texte → image et les maths : perte réductible selon la taille du modèle, et taille "
               "optimale selon le calcul. Ce sont les ajustements du tableau 1, pas des données.",
    "alt": "Deux panneaux en échelle log-log. À gauche, six droites décroissantes : la perte "
           "réductible (perte moins son plancher) de chaque domaine baisse en loi de puissance avec "
           "le nombre de paramètres, de 10 puissance 4 à 3 milliards, avec des pentes de 0,13 à 0,24. "
           "À droite, la taille optimale du modèle croît avec le calcul selon des droites presque "
           "parallèles (exposants 0,64 à 0,73), langage compris.",
    "outputs": ["henighan.svg", "henighan.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"points": 50},
}

import json
from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from builder.script import setup
from _style import text_colour, PALETTE, canvas, french_number, assert_no_overlap

run = setup(FIGURE)
p = run.params
with open(Path(__file__).parent / "data" / "henighan2020_table1.json", encoding="utf-8") as f:
    table = json.load(f)
rows = {r["domain"]: r for r in table["rows"]}
for r in table["rows"]:
    assert r["table"], f"row {r['domain']!r} has no table reference"
SHOWN = [  # Table 1 rows drawn (the others are in the JSON): one per modality, and the resolutions' ends
    ("Image 8x8", PALETTE[5]), ("Image 32x32", PALETTE[0]), ("Image VQ 32x32", PALETTE[4]),
    ("Text-to-Im (Image)", PALETTE[1]), ("Video VQ 16x16x16", PALETTE[3]), ("Math (Extrapolate)", PALETTE[2]),
]

# -- compute: the published fits, over the model sizes the paper trained ---------------------------
curves = {}
for domain, _ in SHOWN + [("Language", None)]:
    r = rows[domain]
    lo, hi = table["model_sizes"][r["sizes"] or "Table 5"]
    N = np.logspace(np.log10(lo), np.log10(hi), p["points"])
    curve = {"N": N, "N_opt_C": r["Copt0"] * N ** (1 / r["beta"]),   # C giving N_opt = N
             "beta": r["beta"], "table": r["table"], "size_range": [lo, hi]}
    if r["L_inf"] is not None:
        reducible = (N / r["N0"]) ** -r["alpha_N"]
        curve.update(reducible_loss=reducible, loss=r["L_inf"] + reducible, L_inf=r["L_inf"],
                     alpha_N=r["alpha_N"],
                     N_to_halve_reducible=2 ** (1 / r["alpha_N"]),   # ×N that halves L − L∞
                     reducible_at_1e9=(1e9 / r["N0"]) ** -r["alpha_N"])
    curves[domain] = curve


def spread(values, gap):
    """Label heights (log10) pushed apart to at least `gap`, in their order."""
    order = np.argsort(values)
    out = np.array(values, dtype=float)
    for a, b in zip(order[:-1], order[1:]):
        out[b] = max(out[b], out[a] + gap)
    return out


# -- plot ----------------------------------------------------------------------------------------
fig, (left, right) = canvas(1200, 440, 1, 2, width_ratios=(1.55, 1))
ends = []
for domain, colour in SHOWN:
    c = curves[domain]
    left.loglog(c["N"], c["reducible_loss"], color=colour, lw=3)
    ends.append(np.log10(c["reducible_loss"][-1]))
x_label = 1.5 * max(curves[d]["N"][-1] for d, _ in SHOWN)
for (domain, colour), y in zip(SHOWN, spread(ends, 0.15)):
    c = curves[domain]
    left.text(x_label, 10 ** y,
              f"{rows[domain]['label']} ({french_number(c['alpha_N'], 2)})", color=text_colour(colour),
              va="center", fontsize=15)
left.set_xlim(1e4, 1e14)
left.set_xticks([1e4, 1e6, 1e8])
left.set_xlabel("paramètres N (hors plongements)")
left.set_ylabel("perte réductible L − L$_\\infty$")
left.set_title("L − L$_\\infty$ = (N / N$_0$)$^{-\\alpha}$ (exposant $\\alpha$)")

for domain, colour in SHOWN + [("Language", "0.45")]:
    c = curves[domain]
    right.loglog(c["N_opt_C"], c["N"], color=colour, lw=3 if domain != "Language" else 2,
                 ls="-" if domain != "Language" else "--")
betas = [curves[d]["beta"] for d, _ in SHOWN]
right.text(0.97, 0.04, f"β = {french_number(min(betas), 2)} à {french_number(max(betas), 2)}\n"
           f"langage (tirets)\u202f: {french_number(curves['Language']['beta'], 2)}",
           transform=right.transAxes, ha="right", va="bottom", fontsize=15)
right.set_xticks([1e-8, 1e-4, 1e0, 1e4])
right.set_xlabel("calcul C (PF-jours)")
right.set_ylabel("taille optimale N$_{opt}$")
right.set_title("N$_{opt}$ = (C / C$_0$)$^{\\beta}$")
for ax in (left, right):
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", alpha=0.3)
assert_no_overlap(fig)
run.savefig(fig, "henighan.svg")

run.save_json("henighan.json", {
    "curves": curves,
    "shown": [d for d, _ in SHOWN],
    "table": table["rows"],
    "source": table["source"],
    "note": "published fits only, no data (Henighan et al. 2020, Table 1); curves span the model "
            "sizes of Tables 4-5, whose largest size was not trained in every domain",
})
