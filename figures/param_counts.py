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
    "caption": "Nombre de paramètres recompté à partir de l’architecture publiée de chaque modèle, "
               "à côté du chiffre annoncé ; pour GPT-4, seulement des rumeurs (taille non publiée)",
    "alt": "Barres horizontales, échelle logarithmique : pour GPT-3, OPT, PaLM, Llama 2 (7, 13 et "
           "70 milliards), Vicuna, Mistral et Falcon, le nombre recompté et le nombre annoncé sont "
           "presque égaux ; PaLM compte 540 milliards de paramètres et non 500. Deux barres hachurées "
           "marquées rumeur donnent 1,76 et 1,8 billion de paramètres pour GPT-4.",
    "outputs": ["param-counts.svg", "param-counts.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {},
}

from builder.script import setup
from _params import load, count
from _style import TEXT, PALETTE, canvas, french_number, assert_no_overlap

run = setup(FIGURE)
data = load()


def billions(n, decimals=3):
    return french_number(n / 1e9, decimals) + " Md"   # « Md » = milliards


def digits(x):
    """Decimals docs/sources.md prints for a value in billions (174.6 -> 1)."""
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
        # docs/sources.md prints the recount rounded; ours must round to the same digits
        "matches_factsheet": round(parts["total"] / 1e9, digits(fs)) == round(fs, digits(fs)),
        "recount_over_published": parts["total"] / arch["published"],
        "source": arch["source"],
    })
mismatch = [r["name"] for r in rows if not r["matches_factsheet"]]
assert not mismatch, f"recount differs from docs/sources.md §B for {mismatch}"

# -- plot: one bar per model (the recount), a black tick at the announced size, GPT-4 hatched --
fig, ax = canvas(520, 440)
labels = []
for i, r in enumerate(reversed(rows)):       # first list entry (GPT-3) at the top
    # from the axis' left end (1e9), not from 0 (on a log axis: clipped at -inf, under the labels)
    ax.barh(i, r["recount"] - 1e9, 0.7, left=1e9, color=PALETTE[0])
    ax.plot([r["published"]] * 2, [i - 0.42, i + 0.42], color="black", lw=2.5)
    ax.text(r["recount"] * 1.15, i, billions(r["recount"], 0 if r["recount"] >= 1e11 else 1), va="center",
            fontsize=15)
    labels.append(r["name"])
top = len(rows)
for rumour in data["rumours"][-1:]:     # the largest rumour; the JSON keeps both
    ax.barh(top, rumour["params"] - 1e9, 0.7, left=1e9, facecolor="none", edgecolor=PALETTE[3], hatch="//", lw=1.5, ls="--")
    ax.text(rumour["params"] * 1.15, top, "rumeur", va="center", fontsize=15, color=TEXT[3])
labels.append("GPT-4 ?")
ax.set_yticks(range(len(labels)), labels, fontsize=15)
ax.set_xscale("log")
ax.set_xlim(1e9, 3e13)
ax.set_ylim(-0.6, len(labels) - 0.4)
ax.set_xticks([1e9, 1e10, 1e11, 1e12, 1e13], ["1", "10", "100", "1\u202f000", "10\u202f000"])
ax.minorticks_off()
ax.set_xlabel("milliards de paramètres (échelle log.)")
ax.text(0.99, 1.5, "barre : recompté\ntrait noir : annoncé", ha="right", va="center", fontsize=15,
        color="0.3", transform=ax.get_yaxis_transform())   # beside the short bars, clear of the corner
assert_no_overlap(fig)
run.savefig(fig, "param-counts.svg")

run.save_json("param-counts.json", {
    "models": rows,
    "rumours": data["rumours"],
    "formula": "attention d·n_h·d_h + 2·d·n_kv·d_h + n_h·d_h·d; MLP (3 if SwiGLU else 2)·d·d_ff; "
               "+ biases, norms, V·d·(1 if tied else 2), learned positions (docs/sources.md §B)",
    "falcon_180b_untied": count({**next(a for a in data["models"] if a["name"] == "Falcon-180B"),
                                 "tied": False})["total"],   # docs/sources.md: 179.5B if untied [tying M]
})
