"""« Développeur à l'ère des LLM » — a controlled experiment with GitHub Copilot.

Peng, Kalliamvakou, Cihon, Demirer, "The Impact of AI on Developer Productivity: Evidence from
GitHub Copilot", arXiv 2302.06590 (docs/sources.md A10): developers asked to implement an HTTP server
in JavaScript finished 55.8 % faster with Copilot [V]. The mean times, 71.17 min with Copilot vs
160.89 min without, come from a secondary page only [S]; the plot says so. The speed-up is
recomputed from those two means and must give back the paper's 55.8 %.

Run alone: python figures/developer.py --profile quick   (writes into _scratch/developer/)
"""

FIGURE = {
    "name": "developer",
    "caption": "Avec GitHub Copilot, la tâche (un serveur HTTP en JavaScript) est terminée 55,8 % plus "
               "vite (Peng et al., 2023)",
    "alt": "Deux barres horizontales : 160,89 minutes en moyenne sans Copilot, 71,17 minutes avec, "
           "soit 55,8 % de temps en moins ; les durées viennent d’une source secondaire.",
    "outputs": ["developer.svg", "developer.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {},
}

from builder.script import setup
from _style import TEXT, PALETTE, canvas, french_axes, french_number, assert_no_overlap

run = setup(FIGURE)
MINUTES = {"sans Copilot\n(groupe témoin)": 160.89, "avec Copilot": 71.17}   # [S] secondary page
PAPER_SPEEDUP = 55.8                                                           # % faster [V]

without, with_ = MINUTES.values()
speedup = 100 * (without - with_) / without                 # time saved, as the paper counts it
assert round(speedup, 1) == PAPER_SPEEDUP, speedup          # the [S] means must agree with the [V] 55.8 %

fig, ax = canvas(1180, 470)
bars = ax.barh(list(MINUTES), list(MINUTES.values()), color=[PALETTE[1], PALETTE[0]], height=0.6)
for bar, minutes in zip(bars, MINUTES.values()):
    ax.text(bar.get_width() + 2, bar.get_y() + bar.get_height() / 2, f"{french_number(minutes, 2)} min",
            va="center", fontsize=20)
ax.text(3, 0.5, f"soit {french_number(speedup, 1)}\u202f% plus rapide", va="center",
        fontsize=22, color=TEXT[3], fontweight="bold")
ax.set_xlim(0, 210)
ax.set_xticks(range(0, 201, 50))
ax.spines["bottom"].set_bounds(0, 200)
ax.set_ylim(-0.5, 1.5)
ax.tick_params(axis="y", labelsize=18)
ax.set_xlabel("durée moyenne pour finir la tâche (minutes)", fontsize=17)
ax.set_title("Écrire un serveur HTTP en JavaScript (Peng et al., 2023)", fontsize=19)
ax.text(1.0, -0.24, "55,8\u202f% : article (arXiv 2302.06590) ; durées moyennes : source secondaire",
        transform=ax.transAxes, ha="right", va="top", fontsize=15, color="0.3")
french_axes(ax, y=False)   # the y axis holds the two groups
assert_no_overlap(fig)
run.savefig(fig, "developer.svg")

run.save_json("developer.json", {
    "minutes": {"with_copilot": with_, "without_copilot": without, "status": "S: secondary page"},
    "speedup_percent": speedup,
    "paper_speedup_percent": PAPER_SPEEDUP,
    "source": "Peng et al. 2023, arXiv 2302.06590 (55.8 % faster) [V]; means 71.17 vs 160.89 min [S] "
              "(docs/sources.md A10)",
})
