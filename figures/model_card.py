"""« un LLM (Large Language Model) inconnu » — the card of an open model few people know: Falcon-180B.

The architecture (layers, width, heads, vocabulary, published size) is the row of
figures/data/architectures.json (docs/sources.md §B, each with its source); training tokens, licence and
Hub repository come from figures/data/model_card.json, each with its source. The parameter count
is recounted from the architecture with figures/_params.py (the same formula as param-counts), and
split into embeddings, attention and MLP; tokens per parameter is the training tokens over that
recount.

Run alone: python figures/model_card.py --profile quick   (writes into _scratch/model-card/)
"""

FIGURE = {
    "name": "model-card",
    "caption": "Fiche d’un LLM ouvert peu connu : Falcon-180B (TII, 2023)",
    "alt": "Fiche du modèle Falcon-180B : 80 couches, dimension 14 848, 232 têtes d’attention dont 8 "
           "pour les clés et valeurs, vocabulaire de 65 024 jetons, 3 500 milliards de jetons "
           "d’entraînement, licence Falcon-180B TII License. À droite, une barre répartit ses "
           "paramètres recomptés, environ 179 milliards : la plus grande part dans les couches MLP, "
           "puis l’attention, les plongements pesant moins de 1 %.",
    "outputs": ["model-card.svg", "model-card.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"model": "Falcon-180B"},
}

import json
from pathlib import Path

from builder.script import setup
from _params import count, load
from _style import PALETTE, canvas, french_number, assert_no_overlap

run = setup(FIGURE)
p = run.params
card = json.loads((Path(__file__).parent / "data" / "model_card.json").read_text(encoding="utf-8"))
assert card["model"] == p["model"], f"figures/data/model_card.json describes {card['model']}, not {p['model']}"
arch = next(a for a in load()["models"] if a["name"] == p["model"])
parts = count(arch)
tokens_per_param = card["training_tokens"] / parts["total"]


def md(n):
    return french_number(n / 1e9, 1) + "\u00a0Md"


ROWS = [
    ("couches", french_number(arch["layers"])),
    ("dimension", french_number(arch["d_model"])),
    ("têtes d’attention", f"{french_number(arch['n_heads'])} ({french_number(arch['n_kv_heads'])} pour K, V)"),
    ("vocabulaire", f"{french_number(arch['vocab'])} jetons"),
    ("paramètres", f"{md(parts['total'])} recomptés ({french_number(arch['published'] / 1e9)}\u00a0Md annoncés)"),
    ("entraînement", f"{french_number(card['training_tokens'] / 1e9)}\u00a0Md de jetons, "
                     f"{french_number(tokens_per_param, 1)} par paramètre"),
    ("licence", card["licence"]),
    ("sur le Hub", card["repo"]),
]

# -- plot: the card on the left, where the parameters sit on the right ---------------------------
fig, (text_ax, bar_ax) = canvas(1200, 510, 1, 2, width_ratios=(2.1, 1))
text_ax.axis("off")
text_ax.text(0, 1, p["model"], fontsize=30, fontweight="bold", va="top", transform=text_ax.transAxes)
text_ax.text(0, 0.86, card["maker"], fontsize=17, color="0.35", va="top", transform=text_ax.transAxes)
for i, (key, value) in enumerate(ROWS):
    y = 0.72 - i * 0.1
    text_ax.text(0, y, key, fontsize=19, color="0.35", va="top", transform=text_ax.transAxes)
    text_ax.text(0.3, y, value, fontsize=19, va="top", transform=text_ax.transAxes)

SHARES = [("MLP", "mlp", PALETTE[0]), ("attention", "attention", PALETTE[1]),
          ("plongements", "embeddings", PALETTE[2])]
bottom = 0.0
for label, key, colour in SHARES:
    share = parts[key] / parts["total"]
    bar_ax.bar(0, share * 100, bottom=bottom, color=colour, width=0.6)
    if share > 0.05:   # a label beside its part
        bar_ax.text(0.36, bottom + share * 50, f"{label}\n{french_number(100 * share, 1)}\u202f%",
                    va="center", fontsize=17)
    else:              # too thin: above the bar
        bar_ax.text(-0.3, 101, f"{label} {french_number(100 * share, 1)}\u202f%", va="bottom", fontsize=17)
    bottom += share * 100
bar_ax.set_xlim(-0.4, 1.6)
bar_ax.set_ylim(0, 110)
bar_ax.axis("off")
assert_no_overlap(fig)
run.savefig(fig, "model-card.svg")

run.save_json("model-card.json", {
    "model": p["model"], "architecture": arch, "card": card,
    "parameters": parts, "shares": {k: parts[k] / parts["total"] for _, k, _ in SHARES},
    "tokens_per_parameter": tokens_per_param,
})
