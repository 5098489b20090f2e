"""« Chinchilla paper 2022 » — iso-FLOP curves and compute-optimal model size, from the fits.

Hoffmann et al., "Training Compute-Optimal Large Language Models", arXiv 2203.15556 (docs/sources.md A17)
fit L(N, D) = E + A/N^α + B/D^β (eq. 10: E 1.69, A 406.4, B 410.7, α 0.34, β 0.28) [V]. Epoch AI
(Besiroglu, Erdil, Barnett, You, arXiv 2404.10102) refit Hoffmann's own points and got E 1.8172,
A 482.01, B 2085.43, α 0.3478, β 0.3658 [V]. With C = 6·N·D the optimum is closed form:
G = (αA/βB)^(1/(α+β)), N_opt = G·(C/6)^(β/(α+β)), D_opt = (C/6)/N_opt.
The plot (a 45 % column) draws the slide's point, the two compute-optimal allocations from
their published exponents: Kaplan et al. 2020 (§6), N_opt ∝ C^0.73 and D_opt ∝ C^0.27;
Hoffmann et al. 2022 (Table 2, approach 1), N_opt ∝ C^0.50 and D_opt ∝ C^0.50; as growth
factors from any starting budget, so that no constant enters. The JSON also holds the iso-FLOP
curves of both fits, N_opt(C) against Kaplan's N_opt = 1.3e9·C^0.73 (C in PF-days [S]), and the
talk's models at C = 6·N·D.

Run alone: python figures/chinchilla.py --profile quick   (writes into _scratch/chinchilla/)
"""

FIGURE = {
    "name": "chinchilla",
    "caption": "Comment répartir un calcul plus grand : Kaplan et al. (2020) font grandir surtout le "
               "modèle (N ∝ C^0,73, D ∝ C^0,27), Hoffmann et al. (2022) modèle et données autant "
               "(N, D ∝ C^0,5)",
    "alt": "Trois droites en échelle log-log, du point (1, 1) : en abscisse, le calcul multiplié par 1 à "
           "10 000 ; en ordonnée, la taille optimale multipliée. Kaplan 2020 : les paramètres N croissent "
           "comme C puissance 0,73 (×830 pour ×10 000), les données D comme C puissance 0,27 (×12). "
           "Hoffmann 2022 : paramètres et données croissent tous deux comme C puissance 0,5 (×100).",
    "outputs": ["chinchilla.svg", "chinchilla.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"points": 200},
}

import numpy as np

from builder.script import setup
from _style import plt, PALETTE, TEXT, canvas, assert_no_overlap

run = setup(FIGURE)
p = run.params

FITS = {  # docs/sources.md A17 [V]
    "hoffmann": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28,
                 "label": "Hoffmann et al. 2022 (éq. 10)", "source": "arXiv 2203.15556, eq. 10"},
    "epoch": {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658,
              "label": "Epoch AI 2024 (réajustement)", "source": "Besiroglu et al., arXiv 2404.10102"},
}
BUDGETS = [10.0 ** k for k in range(19, 26)]   # FLOPs, 1e19 ... 1e25
PF_DAY = 1e15 * 86400                         # FLOPs in a petaflop/s-day (Kaplan's unit)
MODELS = {  # params, training tokens (docs/sources.md A17; Llama 2's 2T tokens: Touvron et al. 2023)
    "GPT-3": (175e9, 300e9), "Gopher": (280e9, 300e9), "Chinchilla": (70e9, 1.4e12),
    "PaLM": (540e9, 780e9), "Llama 2 70B": (70e9, 2e12),
}


def loss(f, N, D):
    return f["E"] + f["A"] / N ** f["alpha"] + f["B"] / D ** f["beta"]


def optimum(f, C):
    """Closed-form argmin of L(N, C/(6N)): set dL/dN = 0."""
    a, b = f["alpha"], f["beta"]
    G = (a * f["A"] / (b * f["B"])) ** (1 / (a + b))
    N = G * (C / 6) ** (b / (a + b))
    return N, C / (6 * N)


# -- compute ------------------------------------------------------------------------------------
results = {}
for key, f in FITS.items():
    iso = []
    for C in BUDGETS:
        N_opt, D_opt = optimum(f, C)
        N = np.logspace(np.log10(N_opt) - 2, np.log10(N_opt) + 2, p["points"])
        iso.append({"C": C, "N": N, "loss": loss(f, N, C / (6 * N)),
                    "N_opt": N_opt, "D_opt": D_opt, "loss_opt": loss(f, N_opt, D_opt)})
    N_g, D_g = optimum(f, 5.76e23)   # Gopher's and Chinchilla's budget
    results[key] = {
        "fit": f,
        "exponent_N_opt": f["beta"] / (f["alpha"] + f["beta"]),   # N_opt ∝ C^a
        "iso_flop": iso,
        "at_5.76e23": {"N_opt": N_g, "D_opt": D_g, "D_over_N": D_g / N_g},
        "at_1e21": dict(zip(("N_opt", "D_opt"), optimum(f, 1e21)),
                        D_over_N=optimum(f, 1e21)[1] / optimum(f, 1e21)[0]),
        "D_over_N_at_1e25": optimum(f, 1e25)[1] / optimum(f, 1e25)[0],
        "model_losses": {m: loss(f, N, D) for m, (N, D) in MODELS.items()},
    }

C_grid = np.logspace(19, 25.5, p["points"])
kaplan_N = 1.3e9 * (C_grid / PF_DAY) ** 0.73

# -- the slide's point: how a bigger compute budget should be split, Kaplan vs Hoffmann -----------
# Published allocation exponents, N_opt ∝ C^a and D_opt ∝ C^b (a + b = 1 since C = 6·N·D):
# Kaplan et al. 2020 (§6): N ∝ C^0.73, D ∝ C^0.27; Hoffmann et al. 2022 (Table 2, approach 1):
# a = b = 0.50. Drawn as growth factors from any starting budget, so only the exponents enter.
ALLOCATION = {
    "kaplan": {"N": 0.73, "D": 0.27, "source": "Kaplan et al. 2020, arXiv 2001.08361, §6 [V]"},
    "hoffmann": {"N": 0.50, "D": 0.50, "source": "Hoffmann et al. 2022, arXiv 2203.15556, Table 2 [V]"},
}
growth = np.logspace(0, 4, p["points"])            # compute multiplied by 1 … 10^4
factors = {who: {what: growth ** e for what, e in ex.items() if what in "ND"}
           for who, ex in ALLOCATION.items()}
at_1000 = {who: {what: 1000.0 ** ALLOCATION[who][what] for what in "ND"} for who in ALLOCATION}

# -- plot: a 45 % column; three straight lines in log-log, labelled where they end -----------------
fig, ax = canvas(580, 480)
BLUE, ORANGE = PALETTE[0], PALETTE[3]
ax.loglog(growth, factors["kaplan"]["N"], color=BLUE, lw=3)
ax.loglog(growth, factors["kaplan"]["D"], color=BLUE, lw=3, ls="--")
ax.loglog(growth, factors["hoffmann"]["N"], color=ORANGE, lw=3)
for who, what, colour, text in (("kaplan", "N", TEXT[0], "Kaplan 2020\nN $\\propto$ C$^{0{,}73}$"),
                                 ("hoffmann", "N", TEXT[3], "Hoffmann 2022\nN et D $\\propto$ C$^{0{,}5}$"),
                                 ("kaplan", "D", TEXT[0], "Kaplan 2020\nD $\\propto$ C$^{0{,}27}$")):
    ax.text(1.3e4, factors[who][what][-1], text, color=colour, ha="left", va="center")
ax.set_xlim(1, 1e4)
ax.set_ylim(1, 1e3)
ax.set_xticks([1, 10, 100, 1000, 10000], ["1", "10", "100", "1\u202f000", "10\u202f000"])
ax.set_yticks([1, 10, 100, 1000], ["1", "10", "100", "1\u202f000"])
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.yaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xlabel("calcul C multiplié par")
ax.set_ylabel("N (paramètres), D (données)\nmultipliés par")
assert_no_overlap(fig)
run.savefig(fig, "chinchilla.svg")

run.save_json("chinchilla.json", {
    "fits": results,
    "models": {m: {"N": N, "D": D, "C": 6 * N * D} for m, (N, D) in MODELS.items()},
    "kaplan": {"C": C_grid, "N_opt": kaplan_N,
               "formula": "N_opt = 1.3e9 * (C / PF-day)^0.73, Kaplan et al. 2020 Table 6 [S]"},
    "allocation": {"exponents": ALLOCATION, "growth": growth, "factors": factors,
                   "at_1000x_compute": at_1000},
    "note": "C = 6ND throughout; Llama 2's 2T tokens: Touvron et al. 2023, arXiv 2307.09288",
})
