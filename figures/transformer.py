"""« 2018: le transformer est un réseau neuronal » — the block diagram, and where the parameters sit.

The transformer is Vaswani et al., "Attention Is All You Need", arXiv 1706.03762, NeurIPS
**2017**, not 2018 (docs/sources.md A5). The slide's image is probably the paper's Fig. 1; here the
structure is drawn by code, as the decoder-only stack the talk's LLMs use: embeddings, N× [multi-
head attention, add & norm, MLP, add & norm], a linear head and a softmax over the vocabulary.
The second plot splits each model's parameters into embeddings / attention / MLP with the count
of figures/_params.py (docs/sources.md §B): the MLP holds most of them, and GQA/MQA shrink attention.

Run alone: python figures/transformer.py --profile quick   (writes into _scratch/transformer/)
"""

FIGURE = {
    "name": "transformer",
    "caption": "Le transformer (Vaswani et al., 2017) : structure d’un bloc, et part des paramètres "
               "dans les plongements, l’attention et le MLP de chaque modèle",
    "alt": "Schéma vertical : jetons, plongements et positions, puis N blocs répétés (attention "
           "multi-têtes, addition et normalisation, MLP, addition et normalisation) avec des "
           "connexions résiduelles, puis une couche linéaire et un softmax qui donne les probabilités "
           "du jeton suivant. Second graphique : barres empilées, le MLP représente de 64 à 89 % des "
           "paramètres selon le modèle, l’attention presque tout le reste.",
    "outputs": ["transformer.svg", "param-share.svg", "transformer.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {},
}

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from builder.script import setup
from _params import load, count
from _style import TEXT, PALETTE, canvas, french_axes, french_number, assert_no_overlap

run = setup(FIGURE)
COLOURS = {"embeddings": PALETTE[1], "attention": PALETTE[0], "mlp": TEXT[2],   # white text on it: AA
           "norm": "#BBBBBB", "head": PALETTE[4]}
LEGEND = {"embeddings": "plongements", "attention": "attention", "mlp": "MLP"}

# -- 1. the block diagram, bottom to top as in Vaswani et al.'s Fig. 1 ----------------------
# (label, colour key, y centre); the N× frame encloses the four middle boxes.
X, W, H = 0.0, 4.6, 0.62
boxes = [
    ("plongements + positions", "embeddings", 1.0),
    ("attention multi-têtes", "attention", 2.3),
    ("addition & normalisation", "norm", 3.2),
    ("MLP", "mlp", 4.3),
    ("addition & normalisation", "norm", 5.2),
    ("linéaire → vocabulaire", "head", 6.5),
    ("softmax", "head", 7.4),
]
fig, ax = canvas(580, 480)
for label, key, y in boxes:
    ax.add_patch(FancyBboxPatch((X - W / 2, y - H / 2), W, H, boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=COLOURS[key], alpha=0.35, edgecolor=COLOURS[key], linewidth=2))
    ax.text(X, y, label, ha="center", va="center", fontsize=15)


def arrow(y0, y1, x0=X, x1=X, **kw):
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=18,
                                 color="0.2", linewidth=1.8, **kw))


ax.text(X, 0.05, "jetons d’entrée", ha="center", va="center", fontsize=15)
arrow(0.3, 1.0 - H / 2)
for (_, _, y0), (_, _, y1) in zip(boxes, boxes[1:]):
    arrow(y0 + H / 2, y1 - H / 2)
ax.text(X, 8.35, "probabilités du jeton suivant", ha="center", va="center", fontsize=15)
arrow(7.4 + H / 2, 8.1)
# Residual connections: the input of each sub-layer is added back after it (the "add").
for y_in, y_out in ((1.75, 3.2), (3.65, 5.2)):
    xr = X - W / 2 - 0.3
    ax.plot([X, xr, xr], [y_in, y_in, y_out], color="0.2", linewidth=1.8)
    arrow(y_out, y_out, x0=xr, x1=X - W / 2)
# The repeated block.
ax.add_patch(Rectangle((X - W / 2 - 0.5, 1.6), W + 1.0, 4.05, facecolor="none",
                       edgecolor="0.4", linewidth=1.5, linestyle="--"))
ax.text(X - W / 2 - 0.65, 3.6, "N ×", ha="right", va="center", fontsize=20)
# Where the parameters are, per layer, for standard multi-head attention and d_ff = 4d.
for text, y in (("4·d²", 2.3), ("8·d²", 4.3), ("V·d", 1.0)):
    ax.text(X + W / 2 + 0.65, y, text, ha="left", va="center", fontsize=16, color="0.25")  # right of the N× frame
ax.text(X + W / 2 + 0.2, 6.05, "paramètres", ha="left", va="center", fontsize=15, color="0.25")
ax.set_xlim(-3.7, 4.1)
ax.set_ylim(-0.3, 8.7)
ax.axis("off")
assert_no_overlap(fig)
run.savefig(fig, "transformer.svg")

# -- 2. share of parameters per part, same data file as param_counts.py ---------------------
models = load()["models"]
shares = {}
for arch in models:
    parts = count(arch)
    shares[arch["name"]] = {k: parts[k] / parts["total"] for k in ("embeddings", "attention", "mlp", "norms")}
    shares[arch["name"]]["total"] = parts["total"]

fig, ax = canvas(580, 480)
names = [a["name"] for a in models][::-1]   # first model of the file at the top
left = [0.0] * len(names)
for key in ("embeddings", "attention", "mlp"):
    widths = [100 * shares[n][key] for n in names]
    ax.barh(names, widths, left=left, color=COLOURS[key], height=0.75, label=LEGEND[key])
    for i, (l, w) in enumerate(zip(left, widths)):
        if w > 14:   # label only the segments wide enough to hold it
            ax.text(l + w / 2, i, french_number(w, 0) + "\u202f%", ha="center", va="center",
                    fontsize=15, color="white" if key != "embeddings" else "black")
    left = [l + w for l, w in zip(left, widths)]
ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.08), ncol=3, frameon=False, fontsize=15,
          handlelength=1.2, columnspacing=1.0)
ax.set_xlim(0, 100)
ax.set_ylim(-0.5, len(names) - 0.1)   # a strip at the top for the provenance link
ax.set_xticks([0, 25, 50, 75, 100], [f"{v}\u202f%" for v in (0, 25, 50, 75, 100)])
ax.tick_params(axis="y", labelsize=15)
french_axes(ax, y=False)
assert_no_overlap(fig)
run.savefig(fig, "param-share.svg")

run.save_json("transformer.json", {
    "diagram": [{"label": label, "part": key, "y": y} for label, key, y in boxes],
    "reference": "Vaswani et al. 2017, arXiv 1706.03762 (NeurIPS 2017) [V]; the slide says 2018",
    "shares": shares,   # fractions of the total; norms are < 0.1 % and not drawn
})
