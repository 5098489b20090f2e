"""« L'émergence de nouvelles capacités » — the same model, smooth or "emergent" by the metric.

Schaeffer, Miranda, Koyejo, "Are Emergent Abilities of Large Language Models a Mirage?",
NeurIPS 2023, arXiv 2304.15004 (docs/sources.md A19) [V]: emergence can come from a nonlinear metric.
Toy version (docs/sources.md F7b): the per-token accuracy improves smoothly with size N,
p(N) = 1 − c·N^−α, but the exact match of a k-token answer needs every token right, p(N)^k,
which stays near zero and then shoots up on the same log-N axis. c is set so that p(N_min) = 0.

Run alone: python figures/emergence_metric.py --profile quick   (writes into _scratch/emergence-metric/)
"""

FIGURE = {
    "name": "emergence-metric",
    "caption": "Illustration : une émergence qui vient de la métrique (d’après Schaeffer et al., 2023) : la précision "
               "par jeton progresse régulièrement, la réponse exacte sur 5 jetons semble surgir",
    "alt": "Deux courbes illustratives (inventées, pas mesurées) en fonction de la taille relative du "
           "modèle, axe horizontal logarithmique : la précision "
           "par jeton monte régulièrement, la précision en correspondance exacte, sa puissance 5, reste "
           "près de zéro puis monte brusquement.",
    "outputs": ["emergence-metric.svg", "emergence-metric.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"alpha": 0.4, "N_min": 10000000.0, "N_max": 1000000000000.0, "k": 5, "points": 200},
}

import numpy as np

from builder.script import setup
from _style import TEXT, plt, PALETTE, canvas, french_axes, french_number, assert_no_overlap

run = setup(FIGURE)
p = run.params

N = np.logspace(np.log10(p["N_min"]), np.log10(p["N_max"]), p["points"])
c = p["N_min"] ** p["alpha"]                 # p(N_min) = 0: the smallest model gets nothing right
token = 1 - c * N ** -p["alpha"]             # smooth in log N
exact = token ** p["k"]                      # all k tokens right


def crossing(y, level):
    return float(np.interp(level, y, N))     # both curves increase with N


# What the exact-match metric reports while the per-token accuracy is already fair.
N_token_half = crossing(token, 0.5)
exact_at_token_half = float(np.interp(N_token_half, N, exact))     # = 0.5^k
N_first = {name: crossing(y, 0.1) for name, y in (("token", token), ("exact", exact))}

# The curves are invented (no model was measured): the x axis is a size relative to the smallest
# model, without a unit, and each curve says « illustratif ».
fig, ax = canvas(520, 500)
rel = N / p["N_min"]
ax.semilogx(rel, 100 * token, color=PALETTE[0], lw=3)
ax.semilogx(rel, 100 * exact, color=PALETTE[3], lw=3)
ax.text(1.3, 99, "par jeton\n(illustratif)", color=TEXT[0], ha="left", va="top")
ax.text(rel[-1], 44, f"réponse exacte,\n{p['k']} jetons\n(illustratif)", color=TEXT[3], ha="right",
        va="center")
ax.plot([N_token_half / p["N_min"]] * 2, [0, 50], color="0.4", ls=":", lw=1.5)
ax.plot([N_token_half / p["N_min"]] * 2, [50, 100 * exact_at_token_half], "o", color="0.2", ms=7)
ax.text(rel[-1], 2, f"au pointillé\u202f: jeton 50\u202f%,\nexacte {french_number(100 * exact_at_token_half, 1)}\u202f%",
        ha="right", va="bottom")
ax.set_xticks([1, 100, 10000], ["1", "100", "10\u202f000"])
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xlabel("taille du modèle (× la plus petite)")
ax.set_ylabel("précision (%)")
ax.set_ylim(0, 100)
french_axes(ax)
assert_no_overlap(fig)
run.savefig(fig, "emergence-metric.svg")

run.save_json("emergence-metric.json", {
    "params": dict(p), "c": c,
    "N": N, "token_accuracy": token, "exact_match": exact,
    "N_half": {"token": N_token_half, "exact": crossing(exact, 0.5)},
    "exact_match_when_token_accuracy_is_half": exact_at_token_half,
    "N_reaching_10_percent": N_first,
    "source": "toy after Schaeffer et al. 2023, arXiv 2304.15004 [V] (docs/sources.md A19, F7)",
})
