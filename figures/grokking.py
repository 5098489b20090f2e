"""« Les LLM structurent l'information » — grokking on modular addition, and the circle it
draws in the embeddings.

A network learns a + b mod p from a fraction of the p² pairs. It first memorises (train
accuracy 100 %, test accuracy at chance), then, much later and without new data, generalises
(Power et al. 2022). Weight decay drives it from the memorising solution to a simpler one:
numbers placed on circles, addition computed as a rotation (Nanda et al. 2023; Liu et al.
2022; Gromov 2023). We show both: accuracy against step (log axis), and the token
embeddings W_E before and after: their principal plane (a circle appears) and their Fourier
power over the p tokens (a few key frequencies take it all).

Profiles: `full` is Nanda et al.'s setup (docs/sources.md A23): p = 113, 30 % of pairs, a 1-layer
ReLU transformer without LayerNorm (d 128, 4 heads, MLP 512), full batch AdamW lr 1e−3,
wd 1, β = (0.9, 0.98), up to 40k steps. On a CPU it groks only after ~10⁴ steps, minutes
too late, so `quick` uses the cheaper model of Liu et al. 2022 and Gromov 2023: learned
embeddings of a and b, concatenated, one hidden ReLU layer (p = 97, 40 % of pairs, lr 3e−3),
which memorises in ~60 steps and groks in ~1 300.

The phenomenon, in the JSON (`log`): train accuracy reaches 0.99 while test accuracy is below
0.1, and test accuracy reaches 0.9 at least 5× later;
tests/test_trained_figures.py::test_grokking_in_the_deck fails without it.

Run alone: python figures/grokking.py --profile quick   (writes into _scratch/grokking/)
"""

FIGURE = {
    "name": "grokking",
    "caption": "Grokking : un petit réseau (plongements des deux nombres puis une couche cachée "
               "ReLU, entraîné sur 40 % des paires a + b mod 97) mémorise d’abord, puis "
               "généralise bien plus tard ; ses plongements se rangent alors sur des cercles",
    "alt": "Exactitude sur l’apprentissage et sur le test en fonction du pas (échelle "
           "logarithmique) pour l’addition modulo p : l’apprentissage atteint 100 % très tôt, "
           "le test reste au hasard puis bondit vers 100 % bien plus tard. Seconde image : "
           "projection des plongements des nombres sur leurs deux axes principaux, désordonnée "
           "après mémorisation, en cercle après grokking ; et leur spectre de Fourier, diffus "
           "puis concentré sur quelques fréquences.",
    "outputs": ["grokking.svg", "grokking-embeddings.svg", "grokking.json"],
    "needs": [],
    "gpu": True,
    "seed": 0,
    "params": {"model": "mlp", "p": 97, "train_frac": 0.4, "d": 128, "hidden": 256, "heads": 4, "lr": 0.003,
               "weight_decay": 1.0, "max_steps": 4000, "evals": 150, "after_grok": 1.5, "compile": False},
    "profiles": {
        "smoke": {"max_steps": 300, "evals": 40},
        "full": {"model": "transformer", "p": 113, "train_frac": 0.3, "hidden": 512, "lr": 0.001,
                 "max_steps": 40000, "evals": 300, "after_grok": 3.0, "compile": True},
    },
    "tolerance": 1e-4,
}

import _train  # noqa: F401  (thread settings first)
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from builder.script import setup
from _style import PALETTE, canvas, french_axes
from _gpt import GPT, GPTConfig
from _sabotage import sabotage, mode

run = setup(FIGURE)
hp = run.params
device = _train.start(run)
P = hp["p"]

# -- data: all p² pairs, a random fraction for training ---------------------------------------
a, b = torch.cartesian_prod(torch.arange(P), torch.arange(P)).T
y = (a + b) % P
perm = torch.randperm(P * P)
n_train = int(hp["train_frac"] * P * P)
train, test = perm[:n_train].to(device), perm[n_train:].to(device)
a, b, y = a.to(device), b.to(device), y.to(device)


# -- the two models: both map (a, b) to p logits and expose the number embeddings W_E -----------
class EmbedMLP(nn.Module):
    """Liu et al. 2022 / Gromov 2023: embed a and b, concatenate, one hidden ReLU layer."""

    def __init__(self, p, d, hidden):
        super().__init__()
        self.embed = nn.Embedding(p, d)
        self.hidden = nn.Linear(2 * d, hidden)
        self.out = nn.Linear(hidden, p)

    def forward(self, a, b):
        return self.out(F.relu(self.hidden(torch.cat([self.embed(a), self.embed(b)], -1))))

    def W_E(self):
        return self.embed.weight


class Transformer(nn.Module):
    """Nanda et al. 2023: the sequence `a b =`, a 1-layer transformer, read out at `=`."""

    def __init__(self, p, d, hidden, heads):
        super().__init__()
        self.p = p
        self.gpt = GPT(GPTConfig(vocab_size=p + 1, block_size=3, n_layer=1, n_head=heads, n_embd=d,
                                 d_mlp=hidden, act="relu", layernorm=False, tied=False))

    def forward(self, a, b):
        seq = torch.stack([a, b, torch.full_like(a, self.p)], 1)   # token p is `=`
        return self.gpt(seq)[:, -1, :self.p]

    def W_E(self):
        return self.gpt.wte.weight[:self.p]


if hp["model"] == "mlp":
    model = EmbedMLP(P, hp["d"], hp["hidden"]).to(device)
else:
    model = Transformer(P, hp["d"], hp["hidden"], hp["heads"]).to(device)
# Power et al. 2022 and Nanda et al. 2023: AdamW, β2 = 0.98, weight decay 1 on every weight.
LR = hp["lr"]
# Tests only, a frozen run (no `shuffled` here: memorising permuted answers still memorises).
opt, _ = sabotage(torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=hp["weight_decay"],
                                    betas=(0.9, 0.98)))
step_fn = _train.maybe_compile(model, device, hp["compile"])


@torch.no_grad()
def accuracy(idx):
    return (step_fn(a[idx], b[idx]).argmax(-1) == y[idx]).float().mean().item()


def embeddings():
    return model.W_E().detach().float().cpu().numpy().copy()


# -- training: full batch, fp32 (the slow clean-up phase lives on tiny gradients) ---------------
eval_at = set(np.unique(np.geomspace(1, hp["max_steps"], hp["evals"]).astype(int)).tolist())
log = {"step": [], "train_acc": [], "test_acc": [], "train_loss": []}
snapshots = {"init": embeddings()}
memorised = grokked = None
stop = hp["max_steps"]
for step in range(1, hp["max_steps"] + 1):
    for group in opt.param_groups:
        group["lr"] = LR * min(1.0, step / 10)             # 10 warm-up steps (Power et al.)
    logits = step_fn(a[train], b[train])
    loss = F.cross_entropy(logits.float(), y[train])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if step in eval_at or step == stop:
        train_acc = (logits.argmax(-1) == y[train]).float().mean().item()
        test_acc = accuracy(test)
        log["step"].append(step)
        log["train_acc"].append(train_acc)
        log["test_acc"].append(test_acc)
        log["train_loss"].append(loss.item())
        if memorised is None and train_acc >= 0.99:
            memorised = step
            snapshots["memorised"] = embeddings()
        if grokked is None and test_acc >= 0.95:
            grokked = step
            # Go on for a while: the plateau, and the clean-up phase of Nanda et al. 2023 that
            # concentrates W_E on a few frequencies; then stop.
            stop = min(hp["max_steps"], int(hp["after_grok"] * step))
            eval_at |= set(np.unique(np.geomspace(step, stop, 20).astype(int)).tolist())
    if step >= stop:
        break
snapshots["final"] = embeddings()
snapshots.setdefault("memorised", snapshots["init"])             # smoke may stop before


# -- analysis of W_E: Fourier power over the p tokens, principal plane ---------------------------
def fourier_power(E):
    """Share of the embeddings' variance carried by each frequency k = 1 … (p−1)/2."""
    F_k = np.fft.rfft(E - E.mean(0), axis=0)[1:]                  # k = 0 is the mean, removed
    power = (np.abs(F_k) ** 2).sum(1)
    return power / power.sum()


def pca2(E):
    E = E - E.mean(0)
    _, s, Vt = np.linalg.svd(E, full_matrices=False)
    return E @ Vt[:2].T, (s[:2] ** 2 / (s ** 2).sum()).tolist()


spectra = {name: fourier_power(E) for name, E in snapshots.items()}
freqs = np.arange(1, len(spectra["final"]) + 1)
# Key frequencies: more than 3× the share of a flat spectrum (Nanda et al. find ~5).
ranked = np.argsort(spectra["final"])[::-1]
key = ranked[spectra["final"][ranked] > 3 / len(freqs)]
key_freqs = freqs[key].tolist()
key_share = {name: float(s[key].sum()) for name, s in spectra.items()}

# -- figure 1: accuracy against step ---------------------------------------------------------------
fig, ax = canvas(580, 400)
ax.semilogx(log["step"], log["train_acc"], color=PALETTE[0], label="apprentissage")
ax.semilogx(log["step"], log["test_acc"], color=PALETTE[3], label="test (paires jamais vues)")
ax.axhline(1 / P, color="grey", ls=":", lw=1.5)
if memorised:
    ax.axvline(memorised, color=PALETTE[0], ls="--", lw=1.5)
    ax.annotate("mémorisation", (memorised, 0.5), xytext=(4, 0), textcoords="offset points",
                rotation=90, ha="left", va="center")           # right of the line: free space
if grokked:
    ax.axvline(grokked, color=PALETTE[3], ls="--", lw=1.5)
    ax.annotate("généralisation", (grokked, 0.5), xytext=(4, 0), textcoords="offset points",
                rotation=90, ha="left", va="center")
ax.set(xlabel="pas d’apprentissage", ylabel="exactitude", ylim=(-0.03, 1.03))
# (a + b) mod p and the share of pairs are in the caption; the legend sits above the axes.
fig.legend(loc="outside upper center", ncol=2, frameon=False, handlelength=1.2)
french_axes(ax)
run.savefig(fig, "grokking.svg")

# -- figure 2: the embeddings, after memorisation and after grokking -----------------------------
k_star = int(freqs[ranked[0]])
order = np.argsort((np.arange(P) * k_star) % P)                   # walk around the k* circle
plot2, axes = canvas(580, 400, 2, 2, gridspec_kw={"height_ratios": [1, 0.9]})
gs = axes[1, 0].get_gridspec()
for ax in axes[1]:
    ax.remove()
axes = [axes[0, 0], axes[0, 1], plot2.add_subplot(gs[1, :])]
pcs = {}
for ax, name, title in ((axes[0], "memorised", "mémorisation"),
                        (axes[1], "final", f"grokking (k = {k_star})")):
    xy, share = pca2(snapshots[name])
    pcs[name] = {"xy": xy, "variance_share": share}
    # Colour and line follow k*·a mod p, the angle of token a on the strongest circle.
    ax.plot(*xy[order].T, color="grey", lw=0.8, alpha=0.6)
    ax.scatter(*xy.T, c=(np.arange(P) * k_star) % P, cmap="twilight", s=30, zorder=3)
    ax.set(title=title, xticks=[], yticks=[])
    ax.set_aspect("equal", adjustable="datalim")
width = 0.4
axes[2].bar(freqs - width / 2, spectra["memorised"], width, color=PALETTE[5], label="mémorisation")
axes[2].bar(freqs + width / 2, spectra["final"], width, color=PALETTE[0], label="grokking")
top = max(spectra["memorised"].max(), spectra["final"].max())
axes[2].set(xlabel="fréquence k", ylabel="variance", ylim=(0, 1.5 * top))
axes[2].legend(loc="upper center", ncol=2, frameon=False, borderaxespad=0.1)
french_axes(axes[2])
run.savefig(plot2, "grokking-embeddings.svg")

run.save_json("grokking.json", {
    "params": dict(hp),
    "device": device,
    "sabotage": mode(),                 # None: a real run (tests break runs on purpose)
    "n_train": n_train,
    "n_test": P * P - n_train,
    "chance": 1 / P,
    "memorisation_step": memorised,      # first logged step with train accuracy ≥ 99 %
    "grokking_step": grokked,            # first logged step with test accuracy ≥ 95 %
    "final_train_acc": log["train_acc"][-1],
    "final_test_acc": log["test_acc"][-1],
    "log": log,
    "fourier": {"frequencies": freqs, "power": spectra, "key_frequencies": key_freqs,
                "key_share": key_share},          # share of variance on the final key frequencies
    "pca": pcs,
    "circle_frequency": k_star,
})
