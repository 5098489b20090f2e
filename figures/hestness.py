"""« Baidu paper 2017 » — the three regions of a learning curve, on a language we can solve exactly.

Hestness et al., "Deep Learning Scaling is Predictable, Empirically", arXiv 1712.00409 (docs/sources.md
A14) fit the generalisation error as ε(m) = α·m^β + γ with β between −0.07 and −0.35 [V] and
sketch three regions: small data (best guess), power law, irreducible error [S].

Here the data come from a synthetic "quanta language" (docs/sources.md F3): K contexts with
Zipf–Mandelbrot frequencies p_k ∝ (k + k0)^−(1+a) (the k0 most frequent about equally rare, so
that the small-data plateau lies above one example), each followed by one fixed token out of V, plus noise of entropy E.
A learner that has seen a context predicts its token; otherwise it guesses uniformly (log V).
After m examples the expected loss is exact:

    L(m) = E + log V · Σ_k p_k (1 − p_k)^m,

a power law of exponent a/(1+a) between the plateau log V + E and the floor E. A scipy
curve_fit of α·m^β + γ on the middle decades must recover β ≈ −a/(1+a) and γ ≈ E. m is read as a
data size from one example.

Run alone: python figures/hestness.py --profile quick   (writes into _scratch/hestness/)
"""

FIGURE = {
    "name": "hestness",
    "caption": "Les trois régions d’une courbe d’apprentissage (Hestness et al., 2017), calculées "
               "exactement sur un langage synthétique : petites données, loi de puissance, erreur irréductible",
    "alt": "Courbe de perte en fonction de la taille des données, de 1 à 10 milliards d’exemples, en échelle log-log : un plateau "
           "près de l’erreur du hasard, puis une droite de pente −0,33, puis un palier à l’erreur "
           "irréductible 0,7. L’ajustement en pointillés retrouve la pente et le palier.",
    "outputs": ["hestness.svg", "hestness.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"K": 1000000, "k0": 10, "a": 0.5, "V": 64, "E": 0.7, "points": 249, "fit_range": [300.0, 3000000.0]},
    "profiles": {"smoke": {"points": 125}},
}

import numpy as np
from scipy.optimize import curve_fit

from builder.script import setup
from _style import TEXT, plt, PALETTE, canvas, french_number, assert_no_overlap

run = setup(FIGURE)
p = run.params


def minus(text):
    return text.replace("-", "\u2212")   # French typography: a true minus sign



# -- the language: Zipf frequencies over K contexts --------------------------------------------
k = np.arange(1, p["K"] + 1)
pk = (k + p["k0"]) ** -(1.0 + p["a"])   # Zipf–Mandelbrot: a flat head of ~k0 equally rare contexts
pk /= pk.sum()
logV = np.log(p["V"])

# -- exact expected loss after m examples --------------------------------------------------------
m = np.logspace(0, 10, p["points"])   # from one example
log_unseen = np.log1p(-pk)                       # (1 − p)^m = exp(m·log1p(−p)), stable for tiny p
excess = np.array([logV * np.sum(pk * np.exp(mi * log_unseen)) for mi in m])
loss = p["E"] + excess

# -- Hestness's fit on the middle decades ------------------------------------------------------
lo, hi = p["fit_range"]
sel = (m >= lo) & (m <= hi)


def eps(x, alpha, beta, gamma):
    return alpha * x ** beta + gamma


(alpha, beta, gamma), cov = curve_fit(eps, m[sel], loss[sel], p0=(3.0, -0.3, 0.5), maxfev=20000)
theory = p["a"] / (1 + p["a"])

# Region boundaries (a convention, for the labels): the plateau ends when the learner has removed
# 10 % of the best-guess excess; the floor starts when the excess is under 10 % of E.
m_small = float(np.interp(-0.9 * logV, -excess, m))
m_floor = float(np.interp(-0.1 * p["E"], -excess, m))

# -- plot ----------------------------------------------------------------------------------------
fig, ax = canvas(1180, 490)
for x0, x1, colour in ((m[0], m_small, PALETTE[5]), (m_floor, m[-1], PALETTE[6])):
    ax.axvspan(x0, x1, color=colour, alpha=0.15, lw=0)
ax.loglog(m, loss, color=PALETTE[0], lw=3, label="perte exacte du langage synthétique")
ax.loglog(m[sel], eps(m[sel], alpha, beta, gamma), "--", color=PALETTE[3], lw=2.5,
          label=f"ajustement $\\alpha\\,m^{{\\beta}} + \\gamma$\u202f: $\\beta$ = {minus(french_number(beta, 2))}, $\\gamma$ = {french_number(gamma, 2)}")
ax.axhline(logV + p["E"], color="0.4", ls=":", lw=1.5)
ax.axhline(p["E"], color="0.4", ls=":", lw=1.5)
ax.text(m[-1], (logV + p["E"]) * 1.04, "hasard\u202f: log V + E", ha="right", va="bottom")
ax.text(m[-1], p["E"] * 0.95, "plancher E", ha="right", va="top")
y_label = 1.6
ax.text(np.sqrt(m[0] * m_small), y_label, "petites\ndonnées", ha="center")
ax.text(1e4, 3.2, f"loi de puissance\u202f: pente −a/(1+a) = −{french_number(theory, 2)}\n"
        f"ajustement $\\alpha\\,m^{{\\beta}} + \\gamma$ (tirets)\u202f: "
        f"$\\beta$ = {minus(french_number(beta, 2))}, $\\gamma$ = {french_number(gamma, 2)}",
        ha="left", va="center")
ax.text(1.5e3, 1.15, "perte exacte du\nlangage synthétique", color=TEXT[0], ha="right", va="center")
ax.text(np.sqrt(m_floor * m[-1]), y_label, "erreur\nirréductible", ha="center")
ax.set_ylim(0.5, 7)
ticks = [0.5, 0.7, 1, 2, 3, 5]
ax.set_yticks(ticks, [french_number(t) for t in ticks])
ax.yaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xticks([10.0 ** k for k in range(0, 11, 2)], ["1", "100", "10$^4$", "10$^6$", "10$^8$", "10$^{10}$"])
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xlabel("taille des données m (exemples)")
ax.set_ylabel("perte (nats/jeton)")
assert_no_overlap(fig)
run.savefig(fig, "hestness.svg")

run.save_json("hestness.json", {
    "params": dict(p),
    "m": m, "loss": loss, "excess": excess,
    "fit": {"alpha": alpha, "beta": beta, "gamma": gamma, "stderr": np.sqrt(np.diag(cov)),
            "range": [lo, hi]},
    "theory": {"exponent": -theory, "floor": p["E"], "best_guess": logV + p["E"]},
    "regions": {"small_data_until": m_small, "irreducible_from": m_floor},
    "source": "Hestness et al. 2017, arXiv 1712.00409 (ε(m) = α·m^β + γ) [V]; "
              "analytic quanta language of docs/sources.md F3 [C]",
})
