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
    "caption": "Descente de gradient sur le seuil C d’une version dérivable du programme f",
    "alt": "f(3) en fonction du seuil C : un escalier (programme du transparent, 6 puis 9) et sa "
           "version lissée ; des points montrent C qui part de 2 et suit la courbe jusqu’à 3,35, "
           "où f(3) atteint la cible 8.",
    "outputs": ["derivable.svg", "derivable.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"steps": 80, "lr": 0.1, "k": 2.0, "target": 8.0, "c0": 2.0},
    "profiles": {"smoke": {"steps": 40}},
}

import math

import torch

from builder.script import setup
from _style import TEXT, PALETTE, canvas, french_axes, french_number, assert_no_overlap

run = setup(FIGURE)
p = run.params
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

fig, ax = canvas(640, 480)
ax.plot(cs, hard, color=PALETTE[3], lw=3)
ax.plot(cs, smooth, color=PALETTE[0], lw=3)
ax.axhline(p["target"], color="grey", ls=":", lw=2)
ax.text(0.1, p["target"] + 0.08, f"cible f(3) = {p['target']:g}", color="0.35", va="bottom")
ax.text(0.1, 9.08, "programme du transparent", color=TEXT[3], va="bottom")
ax.text(5.9, 6.85, f"version dérivable\n(k = {french_number(p['k'])})", color=TEXT[0], ha="right", va="top")
# the descent: C moves from c0 along the smooth curve until f(3) reaches the target
f3_start = f(x, torch.tensor(p["c0"])).item()
ax.plot([p["c0"]] + history["C"][::4], [f3_start] + history["f3"][::4], "o", color=PALETTE[1], ms=8, zorder=3)
ax.annotate(f"C₀ = {french_number(p['c0'])}", (p["c0"], f3_start), xytext=(0.25, 6.3),
            color=TEXT[1], arrowprops=dict(arrowstyle="-", color=PALETTE[1]))
ax.annotate(f"C = {french_number(history['C'][-1], 2)}\naprès {p['steps']} pas", (history["C"][-1], history["f3"][-1]),
            xytext=(4.4, 7.9), va="top", color=TEXT[1], arrowprops=dict(arrowstyle="-", color=PALETTE[1]))
ax.set(xlabel="seuil C", ylabel="f(3)", xlim=(0, 6), ylim=(5.6, 9.7))
french_axes(ax)
assert_no_overlap(fig)
run.savefig(fig, "derivable.svg")

run.save_json("derivable.json", {
    "params": dict(p),
    "C_final": history["C"][-1],
    "C_exact": C_exact,
    "f3_final": history["f3"][-1],
    "loss_final": history["loss"][-1],
    "history": history,
    "hard_values": sorted(set(hard.tolist())),
})
