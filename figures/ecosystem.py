"""« Stanford ecosystem » — who is built on whom: datasets, models and applications.

The slide most likely shows Stanford CRFM's Ecosystem Graphs (Bommasani, Soylu, Liao, Creel,
Liang, arXiv 2303.15772; docs/sources.md A2): assets linked by dependencies (262 assets and 356
dependencies as of 16 Mar 2023). This is a small hand-curated piece of such a graph around the
talk's models, read from figures/data/ecosystem.yaml where every edge has a source URL that was
read (status V); an edge without one is refused, so only verified links are drawn.

Run alone: python figures/ecosystem.py --profile quick   (writes into _scratch/ecosystem/)
"""

FIGURE = {
    "name": "ecosystem",
    "caption": "Un fragment de l’écosystème des LLM : jeux de données, modèles et applications "
               "reliés par leurs dépendances, sur le principe des Ecosystem Graphs "
               "(Bommasani et al., 2023) ; chaque lien a sa source (figures/data/ecosystem.yaml)",
    "alt": "Graphe orienté : LLaMA mène à Alpaca et Vicuna, ShareGPT mène à Vicuna et Vicuna v1.5, "
           "Llama 2 mène à Code Llama et Vicuna v1.5, Common Crawl mène à RefinedWeb puis à Falcon, "
           "GPT-4 mène à Bing Chat. Couleurs selon le type : jeu de données, modèle, application.",
    "outputs": ["ecosystem.svg", "ecosystem.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"layout_iterations": 200},
}

from pathlib import Path

import networkx as nx
import yaml

from builder.script import setup
from _style import plt, PALETTE, canvas, assert_no_overlap

run = setup(FIGURE)
p = run.params
data = yaml.safe_load((Path(__file__).parent / "data" / "ecosystem.yaml").read_text(encoding="utf-8"))
KINDS = {"dataset": ("jeu de données", PALETTE[1], "square,pad=0.4"),
         "model": ("modèle", PALETTE[0], "round,pad=0.4"),
         "application": ("application", PALETTE[2], "roundtooth,pad=0.4")}

# -- the graph: refuse an edge without a source, or one that names an unknown node ----------
G = nx.DiGraph()
for node in data["nodes"]:
    G.add_node(node["id"], **node)
for e in data["edges"]:
    assert e["source"].startswith("https://"), f"edge {e['from']} -> {e['to']} has no source URL"
    assert e["from"] in G and e["to"] in G, f"edge {e['from']} -> {e['to']}: unknown node"
    assert e["status"] == "V", f"edge {e['from']} -> {e['to']} is not verified: leave it out"
    G.add_edge(e["from"], e["to"], **e)

# Layout: x = generation (data flows left to right: sources, then what is built on them).
# y: a spring layout, seeded so that the picture is the same on every build, gives the first
# order; two barycentre sweeps (each node moves to the mean rank of its neighbours in the
# previous column) then remove most crossings. A plain spring layout piles the components up.
layers = [sorted(layer) for layer in nx.topological_generations(G)]
spring = nx.spring_layout(G, seed=run.seed, iterations=p["layout_iterations"])
layers[0].sort(key=lambda n: spring[n][1])
for sweep in range(2):
    for g in list(range(1, len(layers))) + list(range(len(layers) - 2, -1, -1)):
        ref = {n: i for i, n in enumerate(layers[g - 1 if g > 0 else 1])}
        near = (lambda n: G.predecessors(n)) if g > 0 else (lambda n: G.successors(n))
        layers[g].sort(key=lambda n: sum(ref[m] for m in near(n)) / max(1, len(list(near(n)))))
pos = {n: (float(g), -(i - (len(layer) - 1) / 2)) for g, layer in enumerate(layers)
       for i, n in enumerate(layer)}

# -- plot: nodes are labelled boxes (shape by kind), edges go from box edge to box edge -----
fig, ax = canvas(1180, 490)
boxes = {}
for n, d in G.nodes(data=True):
    label, colour, style = KINDS[d["kind"]]
    boxes[n] = ax.text(*pos[n], d["label"], ha="center", va="center", fontsize=17,
                       bbox=dict(boxstyle=style, facecolor=colour, alpha=0.35, edgecolor=colour, lw=2))
for u, v, e in G.edges(data=True):
    ax.annotate("", xy=(0, 0.5), xycoords=boxes[v], xytext=(1, 0.5), textcoords=boxes[u],
                arrowprops=dict(arrowstyle="-|>", color="0.3", lw=2, mutation_scale=20, shrinkA=4,
                                shrinkB=4))
handles = [plt.Rectangle((0, 0), 1, 1, facecolor=c, alpha=0.35, edgecolor=c, lw=2, label=l)
           for l, c, _ in KINDS.values()]
handles += [plt.Line2D([], [], color="0.3", lw=2, label="dépend de (source vérifiée)")]
ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=16,
          frameon=False, handlelength=1.6, columnspacing=1.4)
ax.set_xlim(-0.45, len(layers) - 0.55)
ax.set_ylim(-max(map(len, layers)) / 2 - 0.1, max(map(len, layers)) / 2 + 0.1)
ax.axis("off")
assert_no_overlap(fig)
run.savefig(fig, "ecosystem.svg")

run.save_json("ecosystem.json", {
    "nodes": [{**d, "x": float(pos[n][0]), "y": float(pos[n][1])} for n, d in G.nodes(data=True)],
    "edges": data["edges"],
    "ecosystem_graphs_16_mar_2023": {   # docs/sources.md A2 [V]: the full graph this fragment imitates
        "assets": 262, "datasets": 64, "models": 128, "applications": 70,
        "organisations": 63, "dependencies": 356,
        "source": "Bommasani et al. 2023, arXiv 2303.15772",
    },
})
