"""« Les LLMs sont des transformers » — model sizes recounted from their architectures.

The slide lists sizes (PaLM 500b, GPT-4 8 x 200b ??, OPT 175b, Llama2 70b, Falcon 180b,
Vicuna 7b, Mistral 7b). Here every size except GPT-4's is recomputed from the published
hyperparameters (figures/data/architectures.json, docs/sources.md §B) with the formula of
figures/_params.py, and drawn beside the size the authors announce. GPT-4's size was never
published (GPT-4 report, arXiv 2303.08774): only the two rumours are shown, hatched.

Run alone: python figures/param_counts.py --profile quick   (writes into _scratch/param-counts/)
"""

FIGURE = {
    "name": "param-counts",
    "caption": "Nombre de paramètres recompté à partir de l'architecture publiée de chaque modèle, "
               "à côté du chiffre annoncé ; pour GPT-4, seulement des rumeurs (taille non publiée)",
    "alt": "Barres horizontales, échelle logarithmique : pour GPT-3, OPT, PaLM, Llama 2 (7, 13 et "
           "70 milliards), Vicuna, Mistral et Falcon, le nombre recompté et le nombre annoncé sont "
           "presque égaux ; PaLM compte 540 milliards de paramètres et non 500. Deux barres hachurées "
           "marquées rumeur donnent 1,76 et 1,8 billion de paramètres pour GPT-4.",
    "outputs": ["param-counts.svg", "param-counts.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "profiles": {  # pure arithmetic (< 1 s): the three profiles are the same
        "smoke": {},
        "quick": {},
        "full": {},
    },
}

from builder.script import setup
from _params import load, count
from _style import plt, PALETTE, french_number

fig = setup(FIGURE)
data = load()


def billions(n, decimals=3):
    return french_number(n / 1e9, decimals) + " Md"   # « Md » = milliards


def digits(x):
    """Decimals facts.md prints for a value in billions (174.6 -> 1)."""
    text = f"{x:.6g}"
    return len(text.split(".")[1]) if "." in text else 0


# -- recount every model --------------------------------------------------------------------
rows = []
for arch in data["models"]:
    parts = count(arch)
    fs = arch["recount_factsheet"] / 1e9
    rows.append({
        "name": arch["name"],
        "recount": parts["total"],
        "parts": parts,
        "published": arch["published"],
        "recount_factsheet": arch["recount_factsheet"],
        # facts.md prints the recount rounded; ours must round to the same digits
        "matches_factsheet": round(parts["total"] / 1e9, digits(fs)) == round(fs, digits(fs)),
        "recount_over_published": parts["total"] / arch["published"],
        "source": arch["source"],
    })
mismatch = [r["name"] for r in rows if not r["matches_factsheet"]]
assert not mismatch, f"recount differs from facts.md §B for {mismatch}"

# -- plot: recount and announced size side by side, GPT-4 rumours hatched at the top --------
plot, ax = plt.subplots(figsize=(12, 7.5))
h = 0.38
labels, ys = [], []
for i, r in enumerate(reversed(rows)):       # largest list entry (GPT-3) at the top
    ax.barh(i + h / 2, r["recount"], h, color=PALETTE[0],
            label="recompté (architecture publiée)" if i == 0 else None)
    ax.barh(i - h / 2, r["published"], h, color=PALETTE[1],
            label="annoncé par les auteurs" if i == 0 else None)
    ax.text(r["recount"] * 1.08, i + h / 2, billions(r["recount"]), va="center", fontsize=12)
    ax.text(r["published"] * 1.08, i - h / 2, billions(r["published"], None), va="center",
            fontsize=11, color="0.35")
    labels.append(r["name"])
    ys.append(i)
top = len(rows)
for j, rumour in enumerate(data["rumours"]):
    y = top + j * 0.55
    ax.barh(y, rumour["params"], 0.45, facecolor="none", edgecolor=PALETTE[3], hatch="//",
            linestyle="--", linewidth=1.5, label="GPT-4 : rumeur (taille non publiée)" if j == 0 else None)
    ax.text(rumour["params"] * 1.08, y, f"rumeur : {rumour['label']}", va="center",
            fontsize=12, color=PALETTE[3])
labels.append("GPT-4")
ys.append(top + 0.275)
ax.set_yticks(ys, labels)
ax.set_xscale("log")
ax.set_xlim(1e9, 2e13)
ax.set_xlabel("nombre de paramètres (échelle log.)")
ax.set_title("Taille des modèles : recomptée depuis l’architecture, et annoncée")
ax.legend(loc="lower right", fontsize=12)
plot.tight_layout()
fig.savefig(plot, "param-counts.svg")

fig.save_json("param-counts.json", {
    "models": rows,
    "rumours": data["rumours"],
    "formula": "attention d·n_h·d_h + 2·d·n_kv·d_h + n_h·d_h·d; MLP (3 if SwiGLU else 2)·d·d_ff; "
               "+ biases, norms, V·d·(1 if tied else 2), learned positions (facts.md §B)",
    "falcon_180b_untied": count({**next(a for a in data["models"] if a["name"] == "Falcon-180B"),
                                 "tied": False})["total"],   # facts.md: 179.5B if untied [tying M]
})
