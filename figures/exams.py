"""« Performances dans d'autres domaines » — only what is verified: the simulated bar exam.

The slide's image is unknown; most likely the exam figure of the GPT-4 report, OpenAI 2023,
arXiv 2303.08774 [M] (docs/sources.md A11). Verified [V]: GPT-4 passes a simulated bar exam with a score
"around the top 10 %" of test takers. GPT-3.5 "around the bottom 10 %" comes from a secondary
source [S], so its bar is hatched and labelled as such. Every other exam row of that figure is
unverified and left out. Percentiles are drawn as ≈ 90 and ≈ 10, the reading of "top/bottom 10 %".

Run alone: python figures/exams.py --profile quick   (writes into _scratch/exams/)
"""

FIGURE = {
    "name": "exams",
    "caption": "Examen du barreau simulé : GPT-4 autour des 10 % meilleurs candidats, GPT-3.5 autour "
               "des 10 % moins bons (rapport GPT-4, 2023) ; les autres examens ne sont pas montrés, faute "
               "de vérification",
    "alt": "Deux barres sur une échelle de rang centile de 0 à 100 : GPT-3.5 vers 10, GPT-4 vers 90. "
           "Une note précise que seul le résultat de GPT-4 est vérifié dans le rapport, celui de GPT-3.5 "
           "venant d’une source secondaire.",
    "outputs": ["exams.svg", "exams.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "profiles": {  # two numbers (< 1 s): the three profiles are the same
        "smoke": {},
        "quick": {},
        "full": {},
    },
}

from builder.script import setup
from _style import plt, PALETTE, french_axes

fig = setup(FIGURE)
ROWS = [  # model, percentile read from "top/bottom 10 %", status, what the source says
    {"model": "GPT-3.5", "percentile": 10, "status": "S", "says": "around the bottom 10% of test takers"},
    {"model": "GPT-4", "percentile": 90, "status": "V", "says": "around the top 10% of test takers"},
]

plot, ax = plt.subplots(figsize=(10, 4.5))
for i, r in enumerate(ROWS):
    verified = r["status"] == "V"
    ax.barh(i, r["percentile"], height=0.5, color=PALETTE[0] if verified else "none",
            edgecolor=PALETTE[0], hatch=None if verified else "//", lw=2)
    label = f"≈ {r['percentile']}ᵉ centile" + ("" if verified else " (source secondaire)")
    inside = r["percentile"] > 50   # long bars carry their label inside
    ax.text(r["percentile"] + (-2 if inside else 2), i, label, va="center", ha="right" if inside else "left",
            fontsize=15, color="white" if inside else "black")
ax.set_yticks(range(len(ROWS)), [r["model"] for r in ROWS])
ax.set_xlim(0, 100)
ax.set_xlabel("rang centile parmi les candidats humains")
ax.set_title("Examen du barreau (simulé) : GPT-3.5 et GPT-4")
ax.text(0.0, -0.36, "Vérifié dans le rapport GPT-4 (arXiv 2303.08774) : GPT-4 ≈ 10\u202f% meilleurs candidats.\n"
        "GPT-3.5 ≈ 10\u202f% moins bons : source secondaire. Autres examens : non vérifiés, non montrés.",
        transform=ax.transAxes, fontsize=12, style="italic", color="0.3", va="top")
french_axes(ax, y=False)   # the y axis holds the two models
plot.tight_layout()
fig.savefig(plot, "exams.svg")

fig.save_json("exams.json", {
    "exam": "simulated bar exam",
    "rows": ROWS,
    "source": "OpenAI 2023, GPT-4 Technical Report, arXiv 2303.08774: GPT-4 top 10 % [V]; "
              "GPT-3.5 bottom 10 % [S]; 298/400 ≈ 90th percentile [S] (facts.md A11)",
    "not_shown": "every other exam row (not verified)",
})
