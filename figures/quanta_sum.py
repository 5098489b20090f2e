"""« Anthropic paper 2022 » — a smooth scaling law made of many sudden skills.

The slide's claim, "la scaling law résulte de la combinaison d'émergences", is the quantization
model of Michaud, Liu, Girit, Tegmark, "The Quantization Model of Neural Scaling", NeurIPS 2023,
arXiv 2303.13506 [V] (docs/sources.md A19, A21), not Ganguli et al.'s: skills ("quanta") are used with
Zipf frequencies f_k ∝ k^−(1+a) and learned in that order, each one abruptly. Here K skills are
each a sigmoid in log N, centred at N_k ≈ N_0·k (one quantum per N_0 parameters, with a little
seeded jitter). The frequency-weighted mean loss Σ f_k ℓ_k(N) is then a smooth power law of
exponent ≈ a, while every single skill jumps within a fraction of a decade. The Zipf law is
normalised over infinitely many skills: those past the K-th are not learned before N_0·K, where
the plot stops, and add a constant (without it the sum would bend down near N_0·K).

Run alone: python figures/quanta_sum.py --profile quick   (writes into _scratch/quanta-sum/)
"""

FIGURE = {
    "name": "quanta-sum",
    "caption": "Une loi d’échelle lisse faite de sauts (modèle des quanta, Michaud et al., 2023) : "
               "chaque compétence s’acquiert brusquement, leur moyenne pondérée décroît en loi de puissance",
    "alt": "À gauche, en log-log, la perte moyenne sur 500 compétences décroît en ligne droite avec la "
           "taille du modèle. À droite, la perte de quelques compétences prises isolément : chacune "
           "reste haute puis tombe d’un coup à zéro, chacune à une taille différente.",
    "outputs": ["quanta-sum.svg", "quanta-sum.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"K": 500, "a": 0.5, "N0": 1000000.0, "width": 0.08, "jitter": 0.15, "points": 300},
}

import numpy as np
from scipy.special import zeta

from builder.script import setup
from _style import plt, PALETTE, canvas, french_axes, french_number, assert_no_overlap

run = setup(FIGURE)
p = run.params
rng = np.random.default_rng(run.seed)
SHOWN = [1, 10, 100]   # skills drawn one by one (ranks by frequency)

# -- skills: Zipf frequencies, learned in order, each as a sigmoid in log10 N ---------------------
# The skills are infinitely many (Zipf normalised by ζ(1+a)); the first K are modelled one by one,
# the rest are not learned before N_0·K, where the plot stops, and weigh as a constant loss.
k = np.arange(1, p["K"] + 1)
freq = k ** -(1.0 + p["a"]) / zeta(1.0 + p["a"])
tail = 1.0 - freq.sum()
log_Nk = np.log10(p["N0"] * k) + p["jitter"] * rng.standard_normal(p["K"])
log_N = np.linspace(np.log10(p["N0"]) - 1, np.log10(p["N0"] * p["K"]) - 0.3, p["points"])
N = 10 ** log_N
# loss of skill k at size N: 1 (not learned, in units of the loss of a missing quantum) → 0
skill_loss = 1 / (1 + np.exp((log_N[None, :] - log_Nk[:, None]) / p["width"]))
mean_loss = freq @ skill_loss + tail

# -- the aggregate is a power law: fit log L = log A − slope·log N on the middle decades ---------
sel = (N > 3 * p["N0"]) & (N < p["N0"] * p["K"] / 10)
slope, intercept = np.polyfit(log_N[sel], np.log10(mean_loss[sel]), 1)


def jump_decades(y):
    """Decades of N for a skill's loss to fall from 90 % to 10 %."""
    return float(np.interp(-0.1, -y, log_N) - np.interp(-0.9, -y, log_N))


jumps = {str(i): jump_decades(skill_loss[i - 1]) for i in SHOWN}   # logistic: 2·ln 9·width

# -- plot -----------------------------------------------------------------------------------------
fig, (left, right) = canvas(650, 450, 1, 2)
left.loglog(N, mean_loss, color=PALETTE[0], lw=3)
left.loglog(N[sel], 10 ** (intercept + slope * log_N[sel]), "--", color=PALETTE[3], lw=2)
left.text(0.05, 0.05, f"pente\n{french_number(slope, 2).replace('-', '−')}", transform=left.transAxes,
          color=PALETTE[3], fontsize=16)
left.set_ylabel("perte moyenne")
left.set_title(f"moyenne de {p['K']}")
for i, colour in zip(SHOWN, (PALETTE[1], PALETTE[2], PALETTE[3])):
    right.semilogx(N, skill_loss[i - 1], color=colour, lw=3)
    right.text(10 ** (log_Nk[i - 1] - 0.08), 0.5, f"{i}", color=colour, ha="right", va="center", fontsize=16)
right.set_ylabel("perte d’une compétence")
right.set_title("n° 1, 10 et 100")
right.set_ylim(-0.03, 1.05)
right.set_yticks([0, 0.5, 1])
for ax in (left, right):
    ax.set_xticks([1e5, 1e6, 1e7, 1e8])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("taille N")
left.yaxis.set_minor_formatter(plt.NullFormatter())
french_axes(right)
assert_no_overlap(fig)
run.savefig(fig, "quanta-sum.svg")

run.save_json("quanta-sum.json", {
    "params": dict(p),
    "N": N, "mean_loss": mean_loss,
    "fit": {"slope": slope, "intercept": intercept, "range": [3 * p["N0"], p["N0"] * p["K"] / 10]},
    "expected_slope": -p["a"],
    "unmodelled_skills_mass": tail,
    "skills_shown": {str(i): skill_loss[i - 1] for i in SHOWN},
    "jump_decades": jumps,
    "source": "after Michaud et al. 2023, arXiv 2303.13506 [V] (docs/sources.md A19, A21, F7b)",
})
