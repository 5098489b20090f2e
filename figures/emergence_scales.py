"""« Google paper 2022 » — at which training compute each ability emerged (Wei et al. 2022, Table 1).

Wei, Tay, Bommasani, … Fedus, "Emergent Abilities of Large Language Models", TMLR 08/2022,
arXiv 2206.07682 (docs/sources.md A18): Table 1 gives, for each emergent ability, the smallest scale at
which it appears (training FLOPs, parameters, model) [V, from a mirror of the TMLR PDF]. The rows
are in figures/data/wei2022_table1.csv, each with its source. Where docs/sources.md does not name the
model, the cell is left empty. The split into few-shot abilities and augmented prompting
strategies follows the table's layout as remembered, NOT verified [M].
Drawn for a half-slide column: one dot per ability, stacked in its half-decade of compute (the dot
sits at the bin's centre), with the abilities the notes name labelled with their exact compute.

Run alone: python figures/emergence_scales.py --profile quick   (writes into _scratch/emergence-scales/)
"""

FIGURE = {
    "name": "emergence-scales",
    "caption": "Échelle d’émergence de 21 capacités, en calcul d’entraînement (Wei et al., 2022, tableau 1)",
    "alt": "Un point par capacité, empilé par demi-décade du calcul d’entraînement sur un axe "
           "logarithmique : 19 des 21 capacités apparaissent entre 10 puissance 22 et 10 puissance 24 "
           "opérations, dont 11 vers 2 fois 10 puissance 23 ; la plus précoce est le brouillon pour "
           "l’addition à 8 chiffres (8,9 fois 10 puissance 19), la plus tardive WiC (2,5 fois 10 "
           "puissance 24).",
    "outputs": ["emergence-scales.svg", "emergence-scales.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {},
}

import csv
from pathlib import Path

import numpy as np

from builder.script import setup
from _style import plt, PALETTE, canvas, assert_no_overlap

run = setup(FIGURE)
with open(Path(__file__).parent / "data" / "wei2022_table1.csv", encoding="utf-8", newline="") as f:
    rows = list(csv.DictReader(f))
for r in rows:
    assert r["source"], f"row {r['task']!r} has no source"
    r["flops"], r["params"] = float(r["flops"]), float(r["params"])
rows.sort(key=lambda r: r["flops"])
CATEGORIES = {"few-shot": ("quelques exemples (few-shot)", PALETTE[0], "o"),
              "augmented": ("prompting augmenté", PALETTE[1], "D")}


BIN = 0.5   # decades: each ability is one dot, stacked in its half-decade of compute
NAMED = {  # the abilities the notes name: short label, where it sits (data coordinates), alignment
    "scratchpad (8-digit addition)": ("brouillon, 8 chiffres", 4e19, 4.2, "left"),
    "3-digit addition": ("addition à 3 chiffres", 2.5e21, 7.0, "center"),
    "MMLU (57 tasks)": ("MMLU (57 tâches)", 4e23, 9.5, "left"),
    "WiC": ("WiC", 1e25, 4.2, "right"),
}


def sci(x):
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa.replace('.', ',')}·10$^{{{int(exponent)}}}$"


# -- plot: a dot per ability, stacked by half-decade of compute ---------------------------------
for r in rows:
    r["bin"] = float(np.floor(np.log10(r["flops"]) / BIN) * BIN)
stack = {}
for r in sorted(rows, key=lambda r: (r["bin"], r["category"] != "few-shot", r["flops"])):
    r["stack"] = stack.get(r["bin"], 0)
    stack[r["bin"]] = r["stack"] + 1
fig, ax = canvas(570, 470)
for r in rows:
    label, colour, marker = CATEGORIES[r["category"]]
    ax.plot(10 ** (r["bin"] + BIN / 2), r["stack"], marker, color=colour, ms=13)
for b, n in stack.items():
    ax.text(10 ** (b + BIN / 2), n - 0.3, str(n), ha="center", va="bottom", fontsize=15, color="0.3")
for r in rows:
    if r["task"] in NAMED:
        text, x, y, ha = NAMED[r["task"]]
        ax.annotate(f"{text}\n{sci(r['flops'])}", (10 ** (r["bin"] + BIN / 2), r["stack"]),
                    xytext=(x, y), ha=ha, va="bottom", fontsize=16,
                    arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 1, "shrinkB": 8})
for label, colour, marker in CATEGORIES.values():
    ax.plot([], [], marker, color=colour, ms=11, label=label)
ax.set_xscale("log")
ax.set_xlim(3e19, 1e25)
ax.set_xticks([1e20, 1e21, 1e22, 1e23, 1e24, 1e25])
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set_ylim(-0.8, max(stack.values()) + 4)
ax.set_yticks([])
ax.spines["left"].set_visible(False)
ax.set_xlabel("calcul d’entraînement à l’émergence (FLOP)")
ax.legend(loc="upper left", fontsize=15, frameon=False, handletextpad=0.2, borderaxespad=0)
assert_no_overlap(fig)
run.savefig(fig, "emergence-scales.svg")

log_flops = np.log10([r["flops"] for r in rows])
run.save_json("emergence-scales.json", {
    "rows": rows,
    "median_flops": float(10 ** np.median(log_flops)),
    "share_between_1e22_and_1e24": float(np.mean((log_flops >= 22) & (log_flops <= 24))),
    "note": "Table 1 of Wei et al. 2022 [V]; the few-shot / augmented split is from memory [M]; "
            "empty model cells are not named in docs/sources.md",
})
