"""« LLM : modèles qui passent à l'échelle » — scaling laws measured, on a language whose
entropy we know.

The slide's law y(x) = a·x^(−γ) + b has a floor b, the entropy of the data, that nobody
knows for real text (facts.md A13). Here the text comes from a synthetic « quanta »
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
frontier N_opt ∝ C^(β/(α+β)) with C ≈ 6·N·D.

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
    "profiles": {
        # widths: model sizes (2 layers, 4 heads); shards: examples seen, one pass each.
        "smoke": {"vocab": 32, "context": 3, "quanta": 2000, "zipf": 0.5, "noise": 0.2,
                  "layers": 2, "widths": [8, 32], "shards": [2000, 4000, 8000, 16000, 32000],
                  "batch": 128, "lr": 0.003, "bootstrap": 30, "amp": False},
        "quick": {"vocab": 32, "context": 3, "quanta": 20000, "zipf": 0.5, "noise": 0.2,
                  "layers": 2, "widths": [8, 16, 32, 64],
                  "shards": [8000, 16000, 32000, 64000, 128000, 256000],
                  "batch": 128, "lr": 0.003, "bootstrap": 200, "amp": False},
        "full": {"vocab": 32, "context": 4, "quanta": 100000, "zipf": 0.5, "noise": 0.2,
                 "layers": 2, "widths": [16, 32, 48, 64, 96, 128],
                 "shards": [16000, 32000, 64000, 128000, 256000, 512000, 1024000, 2048000, 4096000],
                 "batch": 512, "lr": 0.003, "bootstrap": 1000, "amp": True},
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
from _style import plt, PALETTE, french_number
from _gpt import GPT, GPTConfig, adamw, cosine_lr, prepare, autocast

fig = setup(FIGURE)
p = fig.params
device = fig.device()
prepare(device)
V, c, K, eps = p["vocab"], p["context"], p["quanta"], p["noise"]

# -- the language: K distinct contexts, Zipf frequencies, one answer each, noise ε ----------
g = torch.Generator().manual_seed(fig.seed)
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
X = contexts[k].to(device)
contexts_d, answers_d, freq_d = contexts.to(device), answers.to(device), freq.to(device)


@torch.no_grad()
def population_loss(model):
    """Exact expected loss over the language: Σ_k p_k · E[−log q(y | context_k)]."""
    logp = F.log_softmax(model(contexts_d)[:, -1].double(), dim=-1)
    per_context = -(eps / V) * logp.sum(1) - (1 - eps) * logp.gather(1, answers_d[:, None])[:, 0]
    return (freq_d * per_context).sum().item()


def train(width, D):
    torch.manual_seed(fig.seed)                                   # same init for every shard
    model = GPT(GPTConfig(vocab_size=V, block_size=c, n_layer=p["layers"], n_head=4,
                          n_embd=width)).to(device)
    opt = adamw(model, p["lr"], weight_decay=0.0)
    B = p["batch"]
    steps = D // B
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, steps, p["lr"], warmup=min(100, steps // 10))
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


def fit_power_law(x, y, boot, rng):
    """Least squares in log space (errors are relative); b bounded by [0, min y]."""
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
    return {n: {"value": best[i], "ci95": [lo[i], hi[i]]} for i, n in enumerate(names)}


rng = np.random.default_rng(fig.seed)
big = Ns == Ns.max()
fit_D = fit_power_law(Ds[big] / c, Ls[big], p["bootstrap"], rng)   # x = examples, as the plot
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


def fit_chinchilla(logN, logD, logL, starts):
    best = None
    for theta0 in starts:
        res = minimize(chinchilla_objective, theta0, args=(logN, logD, logL), jac=True,
                       method="L-BFGS-B", options={"maxiter": 1000})
        if best is None or res.fun < best.fun:
            best = res
    return best.x


def hoffmann_starts(logN, logD, logL, keep=10):
    """Hoffmann et al.'s grid of initialisations (a, b ∈ {0, 5, …, 25}, e ∈ {−1, −0.5, …, 1},
    α, β ∈ {0, 0.5, …, 2}: 4 500 points), thinned to the `keep` best for L-BFGS."""
    axes = (np.arange(0, 26, 5.0), np.arange(0, 26, 5.0), np.arange(-1, 1.1, 0.5),
            np.arange(0, 2.1, 0.5), np.arange(0, 2.1, 0.5))
    grid = np.stack(np.meshgrid(*axes), -1).reshape(-1, 5)
    scores = [chinchilla_objective(t, logN, logD, logL)[0] for t in grid]
    return grid[np.argsort(scores)[:keep]]


logN, logD, logL = np.log(Ns), np.log(Ds), np.log(Ls)
theta = fit_chinchilla(logN, logD, logL, hoffmann_starts(logN, logD, logL))
# Pairs bootstrap (Besiroglu et al. 2024), warm-started from the best fit.
boot = []
for _ in range(p["bootstrap"]):
    i = rng.integers(0, len(Ls), len(Ls))
    boot.append(fit_chinchilla(logN[i], logD[i], logL[i], [theta]))
boot = np.array(boot)
A, B, E, alpha, beta = math.exp(theta[0]), math.exp(theta[1]), math.exp(theta[2]), theta[3], theta[4]
a_exp = beta / (alpha + beta)                                    # N_opt ∝ C^a (Hoffmann eq. 4)
a_boot = boot[:, 4] / (boot[:, 3] + boot[:, 4])
ci = lambda v: np.percentile(v, [2.5, 97.5]).tolist()
G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
C_grid = np.geomspace((6 * Ns * Ds).min(), (6 * Ns * Ds).max(), 60)
N_opt = G * (C_grid / 6) ** a_exp
D_opt = C_grid / (6 * N_opt)
L_opt = E + A / N_opt ** alpha + B / D_opt ** beta

# -- figure -----------------------------------------------------------------------------------
plot, (left, right) = plt.subplots(1, 2, figsize=(14, 5.6))
widths = p["widths"]
# Model size is ordered: a sequential, colour-blind safe map (viridis); the truth in vermilion.
colors = {w: plt.cm.viridis(0.85 * i / max(1, len(widths) - 1)) for i, w in enumerate(widths)}
for w in widths:
    sel = np.array([r["width"] == w for r in runs])
    label = f"N = {french_number(Ns[sel][0], 0)}"
    left.loglog(Ds[sel] / c, Ls[sel], "o-", color=colors[w], label=label, ms=6)
    right.loglog(6 * Ns[sel] * Ds[sel], Ls[sel], "o-", color=colors[w], ms=6, alpha=0.8)
x = np.geomspace((Ds / c).min(), (Ds / c).max() * 8, 100)
fD = {k: v["value"] for k, v in fit_D.items()}
left.loglog(x, power_law(x, **fD), "--", color="black", lw=2,
            label=f"a·D$^{{-γ}}$ + b, γ = {french_number(fD['gamma'], 2)}")
lo, hi = fit_D["b"]["ci95"]
ci_text = f"[{french_number(lo, 2)} ; {french_number(hi, 2)}]"
left.axhline(fD["b"], color="black", ls=":", lw=2,
             label=f"b ajusté = {french_number(fD['b'], 2)} {ci_text}")
left.axhline(H_true, color=PALETTE[3], lw=2, label=f"entropie vraie = {french_number(H_true, 2)}")
left.set(xlabel="exemples vus D", ylabel="perte (nats/jeton)", title="Plus de données")
left.legend(loc="upper right", fontsize=11)
right.loglog(C_grid, L_opt, color="black", lw=2.5,
             label=f"frontière : N$_{{opt}}$ ∝ C$^{{{french_number(a_exp, 2)}}}$")
right.axhline(H_true, color=PALETTE[3], lw=2)
right.set(xlabel="calcul C ≈ 6·N·D (FLOP)", ylabel="perte (nats/jeton)",
          title=f"Chinchilla : α = {french_number(alpha, 2)}, β = {french_number(beta, 2)}")
right.legend(loc="upper right", fontsize=12)
low, high = 0.93 * min(H_true, fD["b"], Ls.min()), 1.05 * Ls.max()
ticks = [t for t in (0.5, 0.7, 1, 1.2, 1.5, 2, 2.5, 3, 4) if low <= t <= high]
for ax in (left, right):
    ax.set_ylim(low, high)
    ax.set_yticks(ticks, [french_number(t) for t in ticks])       # log axis: decimal comma by hand
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
plot.tight_layout()
fig.savefig(plot, "scaling-synthetic.svg")

fig.save_json("scaling-synthetic.json", {
    "params": dict(p),
    "device": device,
    "true_entropy": H_true,
    "max_loss": math.log(V),
    "runs": runs,
    "fit_D": fit_D,                       # L(D) of the largest model, D in examples
    "fit_N": fit_N,                       # L(N) at the largest shard
    "chinchilla": {
        "E": E, "A": A, "B": B, "alpha": alpha, "beta": beta,
        "alpha_ci95": ci(boot[:, 3]), "beta_ci95": ci(boot[:, 4]), "E_ci95": ci(np.exp(boot[:, 2])),
        "a": a_exp, "a_ci95": ci(a_boot),
        "frontier": {"C": C_grid, "N_opt": N_opt, "D_opt": D_opt, "L_opt": L_opt},
    },
    # Zipf theory (Michaud et al. 2023): a model holding n facts misses Σ_{k>n} p_k ∝ n^−z;
    # data reveal n ∝ D^(1/(1+z)) facts, so γ_D → z/(1+z); capacity gives n ∝ N, so α → z.
    "theory": {"gamma_D": p["zipf"] / (1 + p["zipf"]), "alpha_N": p["zipf"]},
})
