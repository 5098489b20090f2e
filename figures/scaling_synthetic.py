"""« LLM : modèles qui passent à l'échelle » — scaling laws measured, on a language whose
entropy we know.

The slide's law y(x) = a·x^(−γ) + b has a floor b, the entropy of the data, that nobody
knows for real text (docs/sources.md A13). Here the text comes from a synthetic « quanta »
language (Michaud et al. 2023): K contexts of c tokens, drawn with Zipf frequencies
p_k ∝ k^(−1−z); each context has one right next token, replaced with probability ε by a
uniform token. The best possible loss is then exactly the noise entropy H (nats/token).
A model must memorise one fact per context, the frequent ones first, which is what makes
power laws appear (Hestness et al. 2017; Kaplan et al. 2020).

We train small GPTs on a grid of model sizes N (non-embedding parameters, as Kaplan) and
data sizes D (one pass, nested shards of one stream, cosine schedule matched to D as
Hoffmann et al. 2022), and measure the exact population loss (no test-set noise).
Then (1) fit L(D) = a·D^(−γ) + b for the largest model and compare b with H; (2) fit
Chinchilla's L(N, D) = E + A/N^α + B/D^β (Huber δ = 1e−3 on log-loss, L-BFGS from a grid
of starts: Hoffmann et al. 2022, Besiroglu et al. 2024) and draw the compute-optimal
frontier N_opt ∝ C^(β/(α+β)) with C ≈ 6·N·D, bounded so that E ≥ H (a loss floor cannot lie
below the entropy; an exponent stuck on its bound marks the fit as failed). Both fits carry
bootstrap 95 % intervals, drawn on the plot (bands, and [lo ; hi] in the text).

The phenomenon, in the JSON: `fit_D.gamma.ci95` contains `theory.gamma_D` = z/(1+z) and
`fit_D.b.ci95` contains `true_entropy`; `chinchilla.E` ≥ `true_entropy`.
tests/test_trained_figures.py::test_scaling_law_in_the_deck fails without it. The joint fit's α
is the GPT's capacity exponent, not the ideal memoriser's z: it is reported, not asserted.

Run alone: python figures/scaling_synthetic.py --profile quick
(writes into _scratch/scaling-synthetic/)
"""

FIGURE = {
    "name": "scaling-synthetic",
    "caption": "Lois d'échelle mesurées sur une langue synthétique d'entropie connue",
    "alt": "À gauche, la perte de petits modèles de langage en fonction du nombre d'exemples "
           "vus, en échelle log-log, pour plusieurs tailles de modèle ; la loi a·D^(−γ) + b "
           "ajustée au plus grand modèle et son plancher b, proche de l'entropie vraie de la "
           "langue. À droite, la perte en fonction du calcul, avec la frontière optimale de "
           "Chinchilla ajustée sur la grille.",
    "outputs": ["scaling-synthetic.svg", "scaling-synthetic.json"],
    "needs": [],
    "gpu": True,
    "seed": 0,
    "params": {"vocab": 32, "context": 3, "quanta": 20000, "zipf": 0.5, "noise": 0.2, "layers": 2,
               "widths": [8, 16, 32, 64], "shards": [16000, 32000, 64000, 128000, 256000, 512000],
               "batch": 256, "lr": 0.003, "bootstrap": 200, "amp": False},
    "profiles": {
        "smoke": {"quanta": 2000, "widths": [8, 32], "shards": [2000, 4000, 8000, 16000, 32000], "batch": 128,
                  "bootstrap": 30},
        "full": {"context": 4, "quanta": 100000, "widths": [16, 32, 48, 64, 96, 128],
                 "shards": [16000, 32000, 64000, 128000, 256000, 512000, 1024000, 2048000, 4096000],
                 "batch": 512, "bootstrap": 1000, "amp": True},
    },
    "tolerance": 1e-4,
}

import math

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: BLAS threads only contend

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import curve_fit, minimize

from builder.script import setup
from _style import plt, PALETTE, canvas, french_number
from _gpt import GPT, GPTConfig, adamw, cosine_lr, prepare, autocast, sabotage, frozen_lr

run = setup(FIGURE)
p = run.params
device = run.device()
prepare(device)
broken = sabotage()                                               # tests only: a run that cannot learn
V, c, K, eps = p["vocab"], p["context"], p["quanta"], p["noise"]

# -- the language: K distinct contexts, Zipf frequencies, one answer each, noise ε ----------
g = torch.Generator().manual_seed(run.seed)
codes = torch.randperm(V ** c, generator=g)[:K]                   # K distinct contexts
contexts = torch.stack([(codes // V ** i) % V for i in range(c)], 1)
answers = torch.randint(0, V, (K,), generator=g)
freq = torch.arange(1, K + 1, dtype=torch.float64) ** -(1 + p["zipf"])
freq /= freq.sum()
p_right = 1 - eps + eps / V                                       # the noise may redraw the answer
H_true = -(p_right * math.log(p_right) + (V - 1) * (eps / V) * math.log(eps / V))

# One stream of examples; a shard of D examples is its first D (nested, as Hestness et al.).
D_max = max(p["shards"])
k = torch.multinomial(freq, D_max, replacement=True, generator=g)
noisy = torch.rand(D_max, generator=g) < eps
Y = torch.where(noisy, torch.randint(0, V, (D_max,), generator=g), answers[k]).to(device)
if broken == "shuffled":                                          # answers no longer follow contexts
    Y = Y[torch.randperm(D_max, generator=torch.Generator().manual_seed(1))]
X = contexts[k].to(device)
contexts_d, answers_d, freq_d = contexts.to(device), answers.to(device), freq.to(device)


@torch.no_grad()
def population_loss(model):
    """Exact expected loss over the language: Σ_k p_k · E[−log q(y | context_k)]."""
    logp = F.log_softmax(model(contexts_d)[:, -1].double(), dim=-1)
    per_context = -(eps / V) * logp.sum(1) - (1 - eps) * logp.gather(1, answers_d[:, None])[:, 0]
    return (freq_d * per_context).sum().item()


def train(width, D):
    torch.manual_seed(run.seed)                                   # same init for every shard
    model = GPT(GPTConfig(vocab_size=V, block_size=c, n_layer=p["layers"], n_head=4,
                          n_embd=width)).to(device)
    opt = adamw(model, frozen_lr(p["lr"], broken), weight_decay=0.0)
    B = p["batch"]
    steps = D // B
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, steps, frozen_lr(p["lr"], broken), warmup=min(100, steps // 10))
        with autocast(device, p["amp"]):
            logits = model(X[step * B:(step + 1) * B])[:, -1]     # loss on the answer only
        loss = F.cross_entropy(logits.float(), Y[step * B:(step + 1) * B])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.count_params(), population_loss(model)


runs = []
for width in p["widths"]:
    for D in p["shards"]:
        N, L = train(width, D)
        runs.append({"width": width, "N": N, "D": D, "tokens": D * c, "loss": L})
        print(f"width {width:4d}  N {N:8d}  D {D:8d}  loss {L:.4f}  (H = {H_true:.4f})", flush=True)

Ns = np.array([r["N"] for r in runs], float)
Ds = np.array([r["tokens"] for r in runs], float)                # D in tokens for C ≈ 6·N·D
Ls = np.array([r["loss"] for r in runs])


# -- (1) the slide's law, y = a·x^(−γ) + b, with a residual bootstrap ------------------------
def power_law(x, a, gamma, b):
    return a * x ** -gamma + b


def fit_power_law(x, y, boot, rng, grid=None):
    """Least squares in log space (errors are relative); b bounded by [0, min y]. With a grid,
    also the bootstrap's 95 % band of the curve over it."""
    logfit = lambda x, a, gamma, b: np.log(power_law(x, a, gamma, b))
    x0 = (y[0] - 0.9 * y.min()) * x[0] ** 0.3
    bounds = ([0, 0, 0], [np.inf, 3, y.min()])
    best, _ = curve_fit(logfit, x, np.log(y), p0=[x0, 0.3, 0.9 * y.min()], bounds=bounds, maxfev=20000)
    resid = np.log(y) - logfit(x, *best)
    samples = []
    for _ in range(boot):
        y_b = np.exp(logfit(x, *best) + rng.choice(resid, len(resid)))
        try:
            samples.append(curve_fit(logfit, x, np.log(y_b), p0=best, bounds=bounds, maxfev=20000)[0])
        except RuntimeError:                                      # a resample that does not converge
            continue
    lo, hi = np.percentile(samples, [2.5, 97.5], axis=0)
    names = ("a", "gamma", "b")
    fit = {n: {"value": best[i], "ci95": [lo[i], hi[i]]} for i, n in enumerate(names)}
    if grid is not None:
        curves = np.array([power_law(grid, *s) for s in samples])
        fit["band"] = {"x": grid, "lo": np.percentile(curves, 2.5, 0), "hi": np.percentile(curves, 97.5, 0)}
    return fit


rng = np.random.default_rng(run.seed)
big = Ns == Ns.max()
x_grid = np.geomspace((Ds / c).min(), (Ds / c).max() * 8, 100)
fit_D = fit_power_law(Ds[big] / c, Ls[big], p["bootstrap"], rng, x_grid)   # x = examples, as the plot
largest_D = Ds == Ds.max()
fit_N = None                                                    # L(N) needs ≥ 4 model sizes
if largest_D.sum() >= 4:
    fit_N = fit_power_law(Ns[largest_D], Ls[largest_D], p["bootstrap"], rng)


# -- (2) Chinchilla's parametric law, fitted as Hoffmann et al. (approach 3) ----------------
def chinchilla_objective(theta, logN, logD, logL, delta=1e-3):
    """Huber loss (summed, as Besiroglu et al. 2024 advise) between log L and
    log(E + A/N^α + B/D^β) = LSE(a − α·log N, b − β·log D, e); gradient by hand."""
    a, b, e, alpha, beta = theta
    terms = np.stack([a - alpha * logN, b - beta * logD, np.full_like(logN, e)])
    top = terms.max(0)
    w = np.exp(terms - top)
    pred = top + np.log(w.sum(0))
    w /= w.sum(0)                                                # d pred / d term
    r = pred - logL
    huber = np.where(np.abs(r) <= delta, 0.5 * r ** 2, delta * (np.abs(r) - 0.5 * delta))
    dr = np.clip(r, -delta, delta)
    grad = np.array([(dr * w[0]).sum(), (dr * w[1]).sum(), (dr * w[2]).sum(),
                     -(dr * w[0] * logN).sum(), -(dr * w[1] * logD).sum()])
    return huber.sum(), grad


def chinchilla_bounds(e_min):
    """E ≥ e^e_min (no loss floor lies below the data's entropy), 0 ≤ α, β ≤ 3."""
    return [(None, None), (None, None), (e_min, None), (0.0, 3.0), (0.0, 3.0)]


def fit_chinchilla(logN, logD, logL, starts, e_min=-np.inf):
    """The best L-BFGS-B result over the starts, inside chinchilla_bounds(e_min)."""
    bounds = chinchilla_bounds(e_min)
    lo = [-np.inf if b[0] is None else b[0] for b in bounds]
    hi = [np.inf if b[1] is None else b[1] for b in bounds]
    best = None
    for theta0 in starts:
        res = minimize(chinchilla_objective, np.clip(theta0, lo, hi), args=(logN, logD, logL),
                       jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 1000})
        if best is None or res.fun < best.fun:
            best = res
    return best


def hoffmann_starts(logN, logD, logL, keep=10, e_min=-np.inf):
    """Hoffmann et al.'s grid of initialisations (a, b ∈ {0, 5, …, 25}, e ∈ {−1, −0.5, …, 1},
    α, β ∈ {0, 0.5, …, 2}: 4 500 points), e raised to e_min, thinned to the `keep` best."""
    axes = (np.arange(0, 26, 5.0), np.arange(0, 26, 5.0), np.arange(-1, 1.1, 0.5),
            np.arange(0, 2.1, 0.5), np.arange(0, 2.1, 0.5))
    grid = np.stack(np.meshgrid(*axes), -1).reshape(-1, 5)
    grid[:, 2] = np.maximum(grid[:, 2], e_min)
    grid = np.unique(grid, axis=0)
    scores = [chinchilla_objective(t, logN, logD, logL)[0] for t in grid]
    return grid[np.argsort(scores)[:keep]]


logN, logD, logL = np.log(Ns), np.log(Ds), np.log(Ls)
e_min = math.log(H_true)                        # the floor cannot lie below the known entropy
result = fit_chinchilla(logN, logD, logL, hoffmann_starts(logN, logD, logL, e_min=e_min), e_min)
theta = result.x
# Pairs bootstrap (Besiroglu et al. 2024), warm-started from the best fit.
boot = []
for _ in range(p["bootstrap"]):
    i = rng.integers(0, len(Ls), len(Ls))
    boot.append(fit_chinchilla(logN[i], logD[i], logL[i], [theta], e_min).x)
boot = np.array(boot)
A, B, E, alpha, beta = math.exp(theta[0]), math.exp(theta[1]), math.exp(theta[2]), theta[3], theta[4]
# The fit has failed when L-BFGS-B did not converge or an exponent sits on its bound (0: no law).
fit_failed = (not result.success) or min(alpha, beta) < 1e-3 or max(alpha, beta) > 3 - 1e-3
ci = lambda v: np.percentile(v, [2.5, 97.5]).tolist()
C_grid = np.geomspace((6 * Ns * Ds).min(), (6 * Ns * Ds).max(), 60)


def frontier(theta, C):
    """Hoffmann et al. eq. 4: N_opt = G·(C/6)^(β/(α+β)), D_opt = C/(6·N_opt), and the loss there."""
    A, B, E, alpha, beta = math.exp(theta[0]), math.exp(theta[1]), math.exp(theta[2]), theta[3], theta[4]
    if alpha + beta <= 0:
        return np.full_like(C, np.nan), np.full_like(C, np.nan), np.full_like(C, np.nan)
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta)) if beta > 0 else np.inf
    N_opt = G * (C / 6) ** (beta / (alpha + beta))
    D_opt = C / (6 * N_opt)
    return N_opt, D_opt, E + A / N_opt ** alpha + B / D_opt ** beta


with np.errstate(all="ignore"):
    N_opt, D_opt, L_opt = frontier(theta, C_grid)
    L_boot = np.array([frontier(t, C_grid)[2] for t in boot])
L_band = np.nanpercentile(L_boot, [2.5, 97.5], axis=0)
a_exp = beta / (alpha + beta) if alpha + beta > 0 else np.nan    # N_opt ∝ C^a (Hoffmann eq. 4)
a_boot = boot[:, 4] / np.maximum(boot[:, 3] + boot[:, 4], 1e-12)
E_ci, alpha_ci, beta_ci = ci(np.exp(boot[:, 2])), ci(boot[:, 3]), ci(boot[:, 4])
theory = {"gamma_D": p["zipf"] / (1 + p["zipf"]), "alpha_N": p["zipf"]}

# -- figure: drawn at its size on the slide (620 × 470 px) -------------------------------------
fr = lambda v, d=2: french_number(v, d)
interval = lambda lo_hi: f"[{fr(lo_hi[0])} ; {fr(lo_hi[1])}]"
fig, (left, right) = canvas(620, 470, 1, 2, sharey=True)
widths = p["widths"]
# Model size is ordered: a sequential, colour-blind safe map (viridis); the truth in vermilion.
colors = {w: plt.cm.viridis(0.85 * i / max(1, len(widths) - 1)) for i, w in enumerate(widths)}
for w in widths:
    sel = np.array([r["width"] == w for r in runs])
    label = f"N = {french_number(Ns[sel][0], 0)}" if w == widths[0] else french_number(Ns[sel][0], 0)
    left.loglog(Ds[sel] / c, Ls[sel], "o-", color=colors[w], ms=5, lw=2)
    right.loglog(6 * Ns[sel] * Ds[sel], Ls[sel], "o-", color=colors[w], label=label, ms=5, lw=2,
                 alpha=0.8)
fD = {k: v["value"] for k, v in fit_D.items() if k != "band"}
left.fill_between(x_grid, fit_D["band"]["lo"], fit_D["band"]["hi"], color="black", alpha=0.15, lw=0)
left.loglog(x_grid, power_law(x_grid, **fD), "--", color="black", lw=2)
left.axhline(H_true, color=PALETTE[3], lw=2)
left.annotate("entropie vraie", (0.03, H_true), xycoords=("axes fraction", "data"), xytext=(0, -4),
              textcoords="offset points", va="top", fontsize=14, color=PALETTE[3])
left.text(0.97, 0.97, f"γ = {fr(fD['gamma'])} {interval(fit_D['gamma']['ci95'])}\n"
          f"théorie {fr(theory['gamma_D'])}\nb = {fr(fD['b'])} {interval(fit_D['b']['ci95'])}",
          transform=left.transAxes, fontsize=14, ha="right", va="top")
left.set(xlabel="exemples vus D", ylabel="perte (nats/jeton)", title="Plus de données")
if not fit_failed:
    right.fill_between(C_grid, L_band[0], L_band[1], color="black", alpha=0.15, lw=0)
    right.loglog(C_grid, L_opt, color="black", lw=2.5)
    right_title = f"α = {fr(alpha)} {interval(alpha_ci)}\nβ = {fr(beta)} {interval(beta_ci)}"
else:
    right_title = "ajustement L(N, D) échoué"
right.axhline(H_true, color=PALETTE[3], lw=2)
right.text(0.96, 0.96, right_title, transform=right.transAxes, fontsize=14, ha="right", va="top")
right.set(xlabel="calcul 6·N·D (FLOP)", title="Calcul optimal")
fig.legend(loc="outside upper center", ncol=len(widths), fontsize=14, handlelength=0.8,
            columnspacing=0.7, handletextpad=0.3, frameon=False)
low, high = 0.93 * min(H_true, fD["b"], Ls.min()), 1.05 * Ls.max()
ticks = [t for t in (0.5, 0.7, 1, 1.2, 1.5, 2, 2.5, 3, 4) if low <= t <= high]
for ax in (left, right):
    ax.set_ylim(low, high)
    ax.set_yticks(ticks, [french_number(t) for t in ticks])       # log axis: decimal comma by hand
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
run.savefig(fig, "scaling-synthetic.svg")

def finite(v):
    """JSON has no inf or NaN: a degenerate fit (a broken run) writes null there."""
    a = np.asarray(v, float)
    if a.ndim == 0:
        return float(a) if np.isfinite(a) else None
    return [finite(x) for x in a]


run.save_json("scaling-synthetic.json", {
    "params": dict(p),
    "device": device,
    "sabotage": broken,                   # None: a real run (tests break runs on purpose)
    "true_entropy": H_true,
    "max_loss": math.log(V),
    "runs": runs,
    "fit_D": fit_D,                       # L(D) of the largest model, D in examples
    "fit_N": fit_N,                       # L(N) at the largest shard: the larger models are still
    "fit_N_note": "data-limited at the largest shard: the larger models' losses are set by the "
                  "data, so gamma here is not the capacity exponent z",
    "chinchilla": {
        "failed": bool(fit_failed), "converged": bool(result.success), "E_min": H_true,
        "E": E, "A": finite(A), "B": finite(B), "alpha": alpha, "beta": beta,
        "alpha_ci95": alpha_ci, "beta_ci95": beta_ci, "E_ci95": E_ci,
        "a": finite(a_exp), "a_ci95": finite(ci(a_boot)),
        "frontier": {"C": C_grid, "N_opt": finite(N_opt), "D_opt": finite(D_opt),
                     "L_opt": finite(L_opt), "L_opt_ci95": finite(L_band)},
    },
    # Zipf theory (Michaud et al. 2023): a model holding n facts misses Σ_{k>n} p_k ∝ n^−z;
    # data reveal n ∝ D^(1/(1+z)) facts, so γ_D → z/(1+z); capacity gives n ∝ N, so α → z.
    "theory": theory,
})
