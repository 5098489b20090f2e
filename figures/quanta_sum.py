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
    "alt": "Modèle illustratif. À gauche, en log-log, la perte moyenne sur 500 compétences décroît en ligne droite avec la "
           "taille du modèle. À droite, la perte de quelques compétences prises isolément : chacune "
           "reste haute puis tombe d’un coup à zéro, chacune à une taille différente.",
    "outputs": ["quanta-sum.svg", "quanta-sum.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "tolerance": 1e-12,   # math.exp is libm's: its last bit may differ on another machine
    "params": {"K": 500, "a": 0.5, "N0": 1000000.0, "width": 0.08, "jitter": 0.15, "points": 300},
}

import math

import numpy as np
from scipy.special import zeta

from builder.script import setup
from _style import TEXT, plt, PALETTE, canvas, french_axes, french_number, assert_no_overlap

run = setup(FIGURE)
p = run.params
rng = np.random.default_rng(run.seed)
SHOWN = [1, 10, 100]   # skills drawn one by one (ranks by frequency)

# -- skills: Zipf frequencies, learned in order, each as a sigmoid in log10 N ---------------------
# The skills are infinitely many (Zipf normalised by ζ(1+a)); the first K are modelled one by one,
# the rest are not learned before N_0·K, where the plot stops, and weigh as a constant loss.
# Sums are math.fsum and exponentials math.exp (not numpy's SIMD kernels nor BLAS, whose last
# bit depends on the machine), so the JSON is the same everywhere.
k = np.arange(1, p["K"] + 1)
freq = [float(kk) ** -(1.0 + p["a"]) / float(zeta(1.0 + p["a"])) for kk in k]
tail = 1.0 - math.fsum(freq)
jitter = rng.standard_normal(p["K"])
log_Nk = [math.log10(p["N0"] * kk) + p["jitter"] * float(j) for kk, j in zip(k, jitter)]
lo_N, hi_N = math.log10(p["N0"]) - 1, math.log10(p["N0"] * p["K"]) - 0.3
log_N = np.array([lo_N + (hi_N - lo_N) * i / (p["points"] - 1) for i in range(p["points"])])
N = np.array([10.0 ** x for x in log_N])
# loss of skill k at size N: 1 (not learned, in units of the loss of a missing quantum) → 0
skill_loss = np.array([[1 / (1 + math.exp((x - c) / p["width"])) for x in log_N] for c in log_Nk])
mean_loss = np.array([math.fsum(f * skill_loss[i, j] for i, f in enumerate(freq)) + tail
                      for j in range(p["points"])])

# -- the aggregate is a power law: least squares of log L = log A − slope·log N on the middle
# decades (closed form, fsum), not np.polyfit's LAPACK
sel = (N > 3 * p["N0"]) & (N < p["N0"] * p["K"] / 10)
xs, ys = list(log_N[sel]), [math.log10(v) for v in mean_loss[sel]]
mx, my = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
slope = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.fsum((x - mx) ** 2 for x in xs)
intercept = my - slope * mx


def jump_decades(y):
    """Decades of N for a skill's loss to fall from 90 % to 10 %."""
    return float(np.interp(-0.1, -y, log_N) - np.interp(-0.9, -y, log_N))


jumps = {str(i): jump_decades(skill_loss[i - 1]) for i in SHOWN}   # logistic: 2·ln 9·width

# -- plot: the slide's full width; both panels are a model (« illustratif »), N in units of N_0 ----
fig, (left, right) = canvas(1180, 430, 1, 2)
x = N / p["N0"]
left.loglog(x, mean_loss, color=PALETTE[0], lw=3)
left.loglog(x[sel], 10 ** (intercept + slope * log_N[sel]), "--", color=PALETTE[3], lw=2.5)
left.text(0.04, 0.04, f"droite ajustée\u202f: pente {french_number(slope, 2)}", transform=left.transAxes,
          color=TEXT[3])
left.set_ylabel("perte moyenne pondérée")
left.set_title(f"moyenne des {p['K']} compétences (illustratif)")
for i, colour, tc, h in zip(SHOWN, (PALETTE[1], PALETTE[2], PALETTE[3]), (TEXT[1], TEXT[2], TEXT[3]),
                            (0.75, 0.5, 0.25)):
    right.semilogx(x, skill_loss[i - 1], color=colour, lw=3)
    at = log_Nk[i - 1] + p["width"] * math.log(1 / h - 1)     # where skill i's loss is h
    right.text(10 ** (at - 0.12) / p["N0"], h, f"n°\u00a0{i}", color=tc, ha="right", va="center")
right.set_ylabel("perte d’une compétence")
right.set_title("les compétences n° 1, 10 et 100 (illustratif)")
right.set_ylim(-0.03, 1.05)
right.set_yticks([0, 0.5, 1])
for ax in (left, right):
    ax.set_xticks([0.1, 1, 10, 100], ["0,1", "1", "10", "100"])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("taille du modèle N / N$_0$")
left.set_yticks([0.05, 0.1, 0.2, 0.5, 1], ["0,05", "0,1", "0,2", "0,5", "1"])
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
