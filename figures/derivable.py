"""« Les réseaux neuronaux sont des programmes dérivables » — the talk's f(x), trained.

The slide's program `if x > C: x *= 2 else: x *= 3` cannot be trained: f(3) is 6 or 9,
never the target 10, and dF/dC = 0 wherever it exists (docs/sources.md, A4). The runnable
version replaces the branch by a sigmoid of slope k, f(x) = x·(3 − σ(k·(x − C))), which
is ≈3x for x ≪ C and ≈2x for x ≫ C, and learns C by gradient descent so that f(3) = 8
(reached at C = 3 + ln 2 / k).

Run alone: python figures/derivable.py --profile quick   (writes into _scratch/derivable/)
"""

FIGURE = {
    "name": "derivable",
    "caption": "Descente de gradient sur le seuil C d'une version dérivable du programme f",
    "alt": "À gauche, f(3) en fonction de C : un escalier (programme du transparent, 9 puis 6) "
           "et sa version lissée. À droite, l'erreur qui décroît et C qui converge vers 3,35.",
    "outputs": ["derivable.svg", "derivable.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "profiles": {
        "smoke": {"steps": 40, "lr": 0.1, "k": 2.0, "target": 8.0, "c0": 2.0},
        "quick": {"steps": 80, "lr": 0.1, "k": 2.0, "target": 8.0, "c0": 2.0},
        "full": {"steps": 80, "lr": 0.1, "k": 2.0, "target": 8.0, "c0": 2.0},
    },
}

import math

import torch

from builder.script import setup
from _style import plt, french_axes, PALETTE

fig = setup(FIGURE)
p = fig.params
x = torch.tensor(3.0)


def f(x, C):
    # The slide's branch, made differentiable: the step x > C becomes a sigmoid in C.
    return x * (3 - torch.sigmoid(p["k"] * (x - C)))


# -- training: the slide's loop, written so that it runs --------------------------------
C = torch.tensor(p["c0"], requires_grad=True)
history = {"step": [], "loss": [], "C": [], "f3": []}
for step in range(p["steps"]):
    err = (f(x, C) - p["target"]) ** 2
    err.backward()                      # calc dérivée
    with torch.no_grad():               # a leaf that requires grad is updated outside autograd
        C -= p["lr"] * C.grad           # diminue erreur
    C.grad.zero_()                      # gradients accumulate otherwise
    history["step"].append(step)
    history["loss"].append(err.item())
    history["C"].append(C.item())
    history["f3"].append(f(x, C).item())

C_exact = 3 + math.log(2) / p["k"]     # σ(k(3 − C)) = 1/3  ⇔  C = 3 + ln 2 / k

# -- what the slide's f(3) looks like as a function of C --------------------------------
cs = torch.linspace(0, 6, 241)
hard = torch.where(x > cs, 2 * x, 3 * x)
smooth = f(x, cs)

plot, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
left.plot(cs, hard, color=PALETTE[3], label="programme du transparent")
left.plot(cs, smooth, color=PALETTE[0], label=f"version dérivable (k = {p['k']:g})")
left.axhline(p["target"], color="grey", ls=":", lw=1.5)
left.set(xlabel="C", ylabel="f(3)", title="f(3) selon C")
left.legend(loc="lower right")
right.semilogy(history["step"], history["loss"], color=PALETTE[0], label="erreur (f(3) − 8)²")
right.set(xlabel="itération", ylabel="erreur", title="Apprentissage de C")
twin = right.twinx()
twin.plot(history["step"], history["C"], color=PALETTE[1], label="C")
twin.set_ylabel("C")
twin.spines["top"].set_visible(False)
for ax in (left, twin):
    french_axes(ax)
right.legend(handles=right.get_lines() + twin.get_lines(), loc="center right")
plot.tight_layout()
fig.savefig(plot, "derivable.svg")

fig.save_json("derivable.json", {
    "params": dict(p),
    "C_final": history["C"][-1],
    "C_exact": C_exact,
    "f3_final": history["f3"][-1],
    "loss_final": history["loss"][-1],
    "history": history,
    "hard_values": sorted(set(hard.tolist())),
})
