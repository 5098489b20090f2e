"""« Google paper 2022 » — at which training compute each ability emerged (Wei et al. 2022, Table 1).

Wei, Tay, Bommasani, … Fedus, "Emergent Abilities of Large Language Models", TMLR 08/2022,
arXiv 2206.07682 (docs/sources.md A18): Table 1 gives, for each emergent ability, the smallest scale at
which it appears (training FLOPs, parameters, model) [V, from a mirror of the TMLR PDF]. The rows
are in figures/data/wei2022_table1.csv, each with its source. Where docs/sources.md does not name the
model, the cell is left empty. The split into few-shot abilities and augmented prompting
strategies follows the table's layout as remembered, NOT verified [M].

Run alone: python figures/emergence_scales.py --profile quick   (writes into _scratch/emergence-scales/)
"""

FIGURE = {
    "name": "emergence-scales",
    "caption": "Échelle d’émergence de 21 capacités, en calcul d’entraînement (Wei et al., 2022, tableau 1)",
    "alt": "Un point par capacité sur un axe logarithmique du calcul d’entraînement : presque toutes "
           "apparaissent entre 10 puissance 22 et 10 puissance 24 opérations ; la plus précoce est le "
           "brouillon pour l’addition à 8 chiffres (8,9 fois 10 puissance 19), la plus tardive WiC "
           "(2,5 fois 10 puissance 24, PaLM 540 milliards).",
    "outputs": ["emergence-scales.svg", "emergence-scales.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "profiles": {  # reading a 21-row table (< 1 s): the three profiles are the same
        "smoke": {},
        "quick": {},
        "full": {},
    },
}

import csv
from pathlib import Path

import numpy as np

from builder.script import setup
from _style import plt, PALETTE, french_number

fig = setup(FIGURE)
with open(Path(__file__).parent / "data" / "wei2022_table1.csv", encoding="utf-8", newline="") as f:
    rows = list(csv.DictReader(f))
for r in rows:
    assert r["source"], f"row {r['task']!r} has no source"
    r["flops"], r["params"] = float(r["flops"]), float(r["params"])
rows.sort(key=lambda r: r["flops"])
CATEGORIES = {"few-shot": ("capacité avec quelques exemples (few-shot)", PALETTE[0], "o"),
              "augmented": ("stratégie de prompting augmentée", PALETTE[1], "D")}


def size(n):
    return french_number(n / 1e9, None) + " Md" if n >= 1e9 else french_number(n / 1e6, None) + " M"


# -- plot: one row per ability, sorted by compute --------------------------------------------
plot, ax = plt.subplots(figsize=(12, 9))
for i, r in enumerate(rows):
    label, colour, marker = CATEGORIES[r["category"]]
    ax.plot(r["flops"], i, marker, color=colour, ms=10)
    ax.hlines(i, 1e19, r["flops"], color=colour, alpha=0.25, lw=1)
    ax.text(r["flops"] * 1.6, i, size(r["params"]) + (f" · {r['model']}" if r["model"] else ""),
            va="center", fontsize=11, color="0.3")
for label, colour, marker in CATEGORIES.values():
    ax.plot([], [], marker, color=colour, ms=10, label=label)
ax.set_yticks(range(len(rows)), [r["task_fr"] for r in rows], fontsize=12)
ax.set_xscale("log")
ax.set_xlim(3e19, 3e25)
ax.set_ylim(-0.7, len(rows) - 0.3)
ax.set_xlabel("calcul d’entraînement à l’émergence (FLOP, échelle log.)")
ax.set_title("À quelle échelle chaque capacité émerge (Wei et al., 2022)")
ax.legend(loc="upper left", fontsize=12)
ax.spines["left"].set_visible(False)
ax.tick_params(axis="y", length=0)
plot.tight_layout()
fig.savefig(plot, "emergence-scales.svg")

log_flops = np.log10([r["flops"] for r in rows])
fig.save_json("emergence-scales.json", {
    "rows": rows,
    "median_flops": float(10 ** np.median(log_flops)),
    "share_between_1e22_and_1e24": float(np.mean((log_flops >= 22) & (log_flops <= 24))),
    "note": "Table 1 of Wei et al. 2022 [V]; the few-shot / augmented split is from memory [M]; "
            "empty model cells are not named in facts.md",
})
