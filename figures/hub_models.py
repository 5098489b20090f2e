"""« https://huggingface.co/models » — the talk's open models as they appear on the Hugging Face Hub.

The slide is the Hub's model list. No dated count of Hub models was found in a citable source, so
the figure shows what a visitor finds there for the talk's own open models: repository id,
licence (figures/data/hub_models.json, each with its source) and size, recounted from the
published architecture (figures/data/architectures.json, docs/sources.md §B) with figures/_params.py.
"Open" is not one thing: one licence is OSI-approved, the others restrict use.

Run alone: python figures/hub_models.py --profile quick   (writes into _scratch/hub-models/)
"""

FIGURE = {
    "name": "hub-models",
    "caption": "Les modèles ouverts de l’exposé sur le Hub de Hugging Face : dépôt, licence et taille "
               "recomptée",
    "alt": "Cinq barres horizontales sur une échelle logarithmique du nombre de paramètres, une par "
           "dépôt du Hub : tiiuae/falcon-180B (179 milliards, licence Falcon-180B TII License), "
           "meta-llama/Llama-2-70b-hf (69 milliards) et meta-llama/Llama-2-7b-hf (6,7 milliards, "
           "licence Llama 2 Community License), mistralai/Mistral-7B-v0.1 (7,2 milliards, Apache 2.0, "
           "la seule licence open source au sens de l’OSI) et lmsys/vicuna-7b-v1.3 (6,7 milliards, "
           "usage non commercial).",
    "outputs": ["hub-models.svg", "hub-models.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {},
}

import json
from pathlib import Path

import numpy as np
from matplotlib.patches import Patch

from builder.script import setup
from _params import count, load
from _style import plt, PALETTE, canvas, french_number, assert_no_overlap

run = setup(FIGURE)
hub = json.loads((Path(__file__).parent / "data" / "hub_models.json").read_text(encoding="utf-8"))
arch = {a["name"]: a for a in load()["models"]}
KINDS = {"osi": ("licence open source (OSI)", PALETTE[2]),
         "custom": ("licence propre, usages restreints", PALETTE[1]),
         "noncommercial": ("usage non commercial", PALETTE[3])}
rows = []
for m in hub["models"]:
    assert m["source"], f"figures/data/hub_models.json: {m['name']} has no source"
    assert m["name"] in arch, f"figures/data/hub_models.json: {m['name']} is not in architectures.json"
    rows.append({**m, "params": count(arch[m["name"]])["total"], "published": arch[m["name"]]["published"]})

# -- plot: one bar per repository, log size; licence written at the bar's end --------------------
fig, ax = canvas(1200, 480)
y = np.arange(len(rows))[::-1]
for yi, r in zip(y, rows):
    label, colour = KINDS[r["kind"]]
    # from the axis' left end (1e9), not from 0: on a log axis a bar from 0 runs off to -inf,
    # clipped, and its box lies under the tick labels
    ax.barh(yi, r["params"] - 1e9, left=1e9, color=colour, height=0.62)
    ax.text(r["params"] * 1.15, yi, f"{french_number(r['params'] / 1e9, 1)}\u00a0Md · {r['licence']}",
            va="center", fontsize=17)
ax.set_yticks(y, [r["repo"] for r in rows], fontsize=17)
ax.set_xscale("log")
ax.set_xlim(1e9, 3e13)
ax.set_xticks([1e9, 1e10, 1e11, 1e12])
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xlabel("paramètres (recomptés depuis l’architecture publiée)")
ax.tick_params(axis="y", length=0)
ax.legend(handles=[Patch(color=colour, label=label) for label, colour in KINDS.values()],
          loc="lower right", fontsize=15, frameon=False)
assert_no_overlap(fig)
run.savefig(fig, "hub-models.svg")

run.save_json("hub-models.json", {"models": rows, "note": hub["_doc"]})
