"""« Double descente » — test error against model size rises, peaks where the model just
fits the training set, then falls again (Belkin et al. 2019; Nakkiran et al. 2020).

docs/sources.md F12: d = 20 inputs, n = 200 training points, y = tanh(w·x) + 0.1·noise (F12's
slope 2 made 1: a smoother teacher, whose min-norm interpolant at large N beats the classical
optimum, the first minimum, as in Belkin et al.'s Fig. 1; with slope 2 they tie). The model
is N random ReLU features φ(x) = relu(V x) with a linear read-out fitted by minimum-norm
least squares (pinv): below N = n it is a classical regression, at N ≈ n it must interpolate
noisy labels with barely enough freedom (huge weights, huge test error), above N = n the
minimum-norm solution among many interpolants is smooth again. Median over seeds.
In `full` we add what Nakkiran et al. did with deep nets, on the same data: two-layer ReLU
networks of growing width trained to (near) zero training error, no regularisation.

The phenomenon, in the JSON: the median test error peaks within 1.5× of N = n, above twice
the best error on either side; tests/test_trained_figures.py::test_double_descent_in_the_deck
fails without it.

Run alone: python figures/double_descent.py --profile quick   (writes into _scratch/double-descent/)
"""

FIGURE = {
    "name": "double-descent",
    "caption": "Double descente : l’erreur de test culmine quand le modèle a juste assez de "
               "paramètres pour apprendre par cœur les données (N = n), puis redescend sous le "
               "meilleur modèle classique (N < n)",
    "alt": "Erreur de test en fonction du nombre de caractéristiques aléatoires N, en échelle "
           "log-log : elle baisse jusqu’à un premier minimum, l’optimum classique, remonte "
           "jusqu’à un pic quand N vaut le nombre d’exemples n = 200, puis redescend sous "
           "l’optimum classique quand N grandit encore ; l’erreur d’apprentissage devient "
           "nulle à partir de N = n.",
    "outputs": ["double-descent.svg", "double-descent.json"],
    "needs": [],
    "gpu": True,                 # the network sweep of `full`; the rest is numpy
    "seed": 0,
    "params": {"d": 20, "n": 200, "n_test": 2000, "noise": 0.1, "N_min": 10, "N_max": 20000, "n_N": 44,
               "seeds": 5, "nn_widths": [], "nn_seeds": 0, "nn_steps": 0},
    "profiles": {
        "smoke": {"n_test": 1000, "N_max": 10000, "n_N": 24, "seeds": 3},
        "full": {"n_test": 5000, "N_max": 50000, "n_N": 60, "seeds": 20,
                 "nn_widths": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 17, 20, 25, 32, 45, 64, 100, 160, 256, 400],
                 "nn_seeds": 5, "nn_steps": 50000},
    },
    "tolerance": 1e-6,
}

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: BLAS threads only contend

import numpy as np

from builder.script import setup
from _style import PALETTE, canvas

run = setup(FIGURE)
hp = run.params
d, n = hp["d"], hp["n"]
Ns = np.unique(np.geomspace(hp["N_min"], hp["N_max"], hp["n_N"]).astype(int))


def make_data(rng):
    """The teacher: a tanh of a random direction (F12, at slope 1), plus Gaussian label noise."""
    w = rng.standard_normal(d) / np.sqrt(d)                      # w·x ~ N(0, 1)
    X, X_test = rng.standard_normal((n, d)), rng.standard_normal((hp["n_test"], d))
    y = np.tanh(X @ w) + hp["noise"] * rng.standard_normal(n)
    y_test = np.tanh(X_test @ w)                             # clean targets: the error we care about
    return X, y, X_test, y_test


# -- random features + minimum-norm least squares --------------------------------------------------
# Features come in blocks (nested: N uses the first N); past N = n the minimum-norm solution is
# β = Φᵀ(ΦΦᵀ)⁻¹y, so only the Gram matrices ΦΦᵀ (n × n) and Φ_test·Φᵀ are kept, summed block by block.
test_mse = np.zeros((hp["seeds"], len(Ns)))
train_mse = np.zeros_like(test_mse)
weight_norm = np.zeros_like(test_mse)
for s in range(hp["seeds"]):
    rng = np.random.default_rng(run.seed + s)
    X, y, X_test, y_test = make_data(rng)
    G, G_test, cols, cols_test, done = np.zeros((n, n)), np.zeros((len(X_test), n)), [], [], 0
    for j, N in enumerate(Ns):
        V = rng.standard_normal((d, N - done)) / np.sqrt(d)      # the features N_{j-1} … N_j
        Phi, Phi_test = np.maximum(X @ V, 0), np.maximum(X_test @ V, 0)
        G += Phi @ Phi.T
        G_test += Phi_test @ Phi.T
        done = N
        if N <= n:                                                # least squares, N unknowns
            cols.append(Phi)
            cols_test.append(Phi_test)
            A, A_test = np.hstack(cols), np.hstack(cols_test)
            beta = np.linalg.lstsq(A, y, rcond=None)[0]
            fit, pred, norm2 = A @ beta, A_test @ beta, beta @ beta
        else:                                                     # min-norm interpolant: β = Φᵀα
            alpha = np.linalg.lstsq(G, y, rcond=None)[0]
            fit, pred, norm2 = G @ alpha, G_test @ alpha, alpha @ G @ alpha
        train_mse[s, j] = np.mean((fit - y) ** 2)
        test_mse[s, j] = np.mean((pred - y_test) ** 2)
        weight_norm[s, j] = np.sqrt(max(norm2, 0.0))

median = np.median(test_mse, 0)
q25, q75 = np.percentile(test_mse, [25, 75], axis=0)
peak = int(np.argmax(median))
N_peak = int(Ns[peak])
under_n = Ns < n                                                  # the classical regime
under = Ns < n / 2
print(f"peak test MSE {median[peak]:.3f} at N = {N_peak} (n = {n})")

# -- full only: trained two-layer networks of growing width (Nakkiran et al. 2020) ---------------
nn = None
if hp["nn_widths"]:
    import torch

    import _train

    device = _train.start(run)
    torch.manual_seed(run.seed)
    widths = hp["nn_widths"]
    H, S = max(widths), hp["nn_seeds"]
    M = len(widths) * S                                          # every (width, seed) net at once
    data = [make_data(np.random.default_rng(run.seed + s)) for s in range(S)]   # the RF data
    stacked = lambda i: torch.tensor(np.stack([data[s][i] for s in range(S)] * len(widths)),
                                     dtype=torch.float32, device=device)
    X, y, Xt, yt = stacked(0), stacked(1), stacked(2), stacked(3)
    # One padded batch of M networks; a mask switches off the hidden units beyond each width,
    # so each net trains exactly as if alone (their units get no gradient, Adam is per weight).
    width_of = torch.tensor(np.repeat(widths, S), device=device)
    mask = (torch.arange(H, device=device) < width_of[:, None]).float()[:, None, :]
    W1 = (torch.randn(M, d, H, device=device) / d ** 0.5).requires_grad_()
    b1 = torch.zeros(M, 1, H, device=device, requires_grad=True)
    W2 = (torch.randn(M, H, 1, device=device) / width_of[:, None, None] ** 0.5).requires_grad_()
    b2 = torch.zeros(M, 1, 1, device=device, requires_grad=True)
    net = lambda X: (torch.relu(X @ W1 + b1) * mask) @ W2 + b2
    opt = torch.optim.Adam([W1, b1, W2, b2], lr=1e-3)
    for step in range(hp["nn_steps"]):
        loss = ((net(X)[..., 0] - y) ** 2).mean(1).sum()         # sum over nets: independent grads
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        tr = ((net(X)[..., 0] - y) ** 2).mean(1).view(len(widths), S).cpu().numpy()
        te = ((net(Xt)[..., 0] - yt) ** 2).mean(1).view(len(widths), S).cpu().numpy()
    params = np.array(widths) * (d + 2) + 1
    nn = {"widths": widths, "params": params, "train_mse": tr, "test_mse": te,
          "test_median": np.median(te, 1), "peak_params": int(params[np.argmax(np.median(te, 1))])}

# -- figure: drawn at its size on the slide (560 × 440 px) ----------------------------------------
fig, ax = canvas(560, 440)
ax.fill_between(Ns, q25, q75, color=PALETTE[0], alpha=0.2, lw=0)
ax.loglog(Ns, median, color=PALETTE[0], label="test")
ax.loglog(Ns, np.maximum(np.median(train_mse, 0), 1e-6), color=PALETTE[1], ls="--",
          label="apprentissage")
if nn:   # full only: the trained networks, by their number of parameters
    ax.loglog(nn["params"], nn["test_median"], "o", color=PALETTE[2], ms=6,
              label="réseaux à 2 couches (test)")
ax.axhline(median[under_n].min(), color="black", ls="--", lw=1.5, label="optimum classique")
ax.axvline(n, color="grey", ls=":", lw=2)
ax.annotate(f"N = n = {n}", (n, 1), xycoords=("data", "axes fraction"), xytext=(6, -4),
            textcoords="offset points", va="top")                # above the peak: free space
ax.set(xlabel="paramètres ajustés N", ylabel="erreur quadratique",
       ylim=(1e-3, 12 * median.max()), title="Caractéristiques aléatoires")
ax.legend(loc="upper right", bbox_to_anchor=(1, 0.9), frameon=False)   # above the second descent
run.savefig(fig, "double-descent.svg")

run.save_json("double-descent.json", {
    "params": dict(hp),
    "N": Ns,
    "test_mse": {"median": median, "q25": q25, "q75": q75, "per_seed": test_mse},
    "train_mse_median": np.median(train_mse, 0),
    "weight_norm_median": np.median(weight_norm, 0),
    "peak": {"N": N_peak, "test_mse": median[peak], "N_over_n": N_peak / n},
    "underparameterised_best": float(median[under].min()),
    "overparameterised_last": float(median[-1]),
    "classical_optimum": {"N": int(Ns[under_n][np.argmin(median[under_n])]), "test_mse": float(median[under_n].min())},
    "second_descent_below_classical": bool(median[-1] < median[under_n].min()),
    "networks": nn,
})
