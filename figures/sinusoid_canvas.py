"""« Les LLM savent programmer » — what codeLlama's sinusoid code really draws.

The slide quotes codeLlama's answer to "How can I draw a sinusoid in javascript?" (Code Llama:
Rozière et al., arXiv 2308.12950). Simulated on the default 300×150 canvas, in canvas
coordinates (origin top-left, y pointing down), the code draws one 1-px horizontal dash per
column at y = 100·sin(i) (docs/sources.md A7 [C]):
  - no vertical offset: 149 of the 300 dashes fall at y < 0, off the canvas, and the rest is
    upside down;
  - frequency 1 rad/px: a period of 2π ≈ 6.3 px, ≈ 47.7 periods across, which looks like hatching;
  - dashes are never joined: consecutive y jump by up to 95.88 px;
  - amplitude 100 > 75 = H/2, so it would clip even once centred.
The corrected version centres the curve, draws 2 periods of amplitude 60 and strokes one path.

Run alone: python figures/sinusoid_canvas.py --profile quick   (writes into _scratch/sinusoid-canvas/)
"""

FIGURE = {
    "name": "sinusoid-canvas",
    "caption": "La sinusoïde de codeLlama, simulée sur un canevas de 300 × 150 pixels : des tirets "
               "épars dont la moitié sort du canevas, puis la version corrigée",
    "alt": "À gauche, le canevas vu avec la zone au-dessus de lui : 300 petits tirets horizontaux "
           "éparpillés entre −100 et 100 pixels, dont 149 au-dessus du bord, hors du canevas. À droite, "
           "une sinusoïde continue de deux périodes, centrée dans le canevas.",
    "outputs": ["sinusoid-canvas.svg", "sinusoid-canvas.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"amplitude_fixed": 60, "cycles": 2},
}

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from builder.script import setup
from _style import TEXT, PALETTE, canvas, assert_no_overlap

run = setup(FIGURE)
p = run.params
W, H = 300, 150   # default <canvas> size, in CSS pixels

# -- 1. the slide's loop: amplitude 100, frequency 1, phase 0, one dash (x, y) -> (x + 1, y) ------
i = np.arange(W)
y = 100 * np.sin(1 * i + 0)
off = y < 0                                   # above the top edge: not on the canvas
dashes = [[(x, v), (x + 1, v)] for x, v in zip(i, y)]
jumps = np.abs(np.diff(y))

# -- 2. the fix: centred, 2 periods across, amplitude under H/2, one joined path -------------------
xs = np.arange(W + 1)
ys = H / 2 - p["amplitude_fixed"] * np.sin(2 * np.pi * p["cycles"] * xs / W)
FIXED_JS = f"""const canvas = document.getElementById("myCanvas");
const ctx = canvas.getContext("2d");
const amplitude = {p['amplitude_fixed']};   // below canvas.height / 2, so nothing is clipped
const cycles = {p['cycles']};        // periods across the canvas
ctx.beginPath();
for (let x = 0; x <= canvas.width; x++) {{
  const y = canvas.height / 2 - amplitude * Math.sin(2 * Math.PI * cycles * x / canvas.width);
  if (x === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
}}
ctx.stroke();"""

# -- plot: both canvases side by side, y pointing down as in the browser ------------------------
GAP = 40                        # px between the two canvases, in canvas units
fig, ax = canvas(800, 400)   # the PDF stand-in for the slide's 1200×420 live frame
ax.add_patch(Rectangle((0, -110), W, 110, facecolor="0.9", edgecolor="none", zorder=0))   # off-canvas band
for x0 in (0, W + GAP):
    ax.add_patch(Rectangle((x0, 0), W, H, facecolor="white", edgecolor="0.2", lw=1.5, zorder=0))
ax.add_collection(LineCollection([d for d, o in zip(dashes, off) if not o], colors=PALETTE[0], linewidths=3))
ax.add_collection(LineCollection([d for d, o in zip(dashes, off) if o], colors="0.55", linewidths=3))
ax.text(W / 2, H + 12, f"{int(off.sum())} tirets sur {W}\nhors du canevas (gris)", ha="center", va="top",
        fontsize=15, color="0.15")
ax.plot(xs + W + GAP, ys, color=PALETTE[2], lw=3)
ax.text(W + GAP + W / 2, H + 12, "version corrigée", ha="center", va="top", fontsize=15, color=TEXT[2],
        fontweight="bold")
ax.set_xlim(-3, 2 * W + GAP + 3)
ax.set_ylim(H + 62, -112)       # inverted: canvas y grows downwards
ax.set_aspect("equal")
ax.axis("off")
assert_no_overlap(fig)
run.savefig(fig, "sinusoid-canvas.svg")

run.save_json("sinusoid-canvas.json", {
    "canvas": [W, H],
    "dashes": W,
    "off_canvas": int(off.sum()),
    "max_abs_jump_px": float(jumps.max()),       # = 200·sin(0.5), docs/sources.md A7
    "periods": W / (2 * np.pi),
    "amplitude_over_half_height": 100 / (H / 2),
    "y": y,
    "fixed": {"amplitude": p["amplitude_fixed"], "cycles": p["cycles"], "javascript": FIXED_JS,
              "y_min": float(ys.min()), "y_max": float(ys.max())},
    "source": "codeLlama answer on the slide; Code Llama: Rozière et al. 2023, arXiv 2308.12950 [V]; "
              "numbers as in docs/sources.md A7 [C]",
})
