"""__HEADLINE__ — a figure of this talk, computed from code (the π estimate below is the
example ces wrote: replace the computation, keep the shape).

Darts thrown uniformly at the unit square land inside the quarter disc with probability π/4,
so 4 × (the fraction inside) estimates π; its error shrinks like 1/√n.

Run alone: python figures/__FILE__.py --profile quick   (writes into _scratch/__NAME__/)
Under ces: `ces build` runs it when its key changed, and caches its outputs in cache/__NAME__/.
"""

FIGURE = {
    "name": "__NAME__",                       # slides show _figures/__NAME__/<output>
    "caption": __CAPTION__,
    "alt": __ALT__,
    "outputs": ["__NAME__.svg", "__NAME__.json"],   # every file it writes, no more
    "needs": [],                              # figures whose outputs it reads (run.upstream)
    "seed": 0,
    "params": {"darts": 100_000},             # the `quick` profile, the default deck
    "profiles": {                             # per profile, what differs
        "smoke": {"darts": 2_000},            # seconds, for tests
        "full": {"darts": 10_000_000},        # the final deck
    },
}

import numpy as np

from _style import PALETTE, canvas, number, number_axes
from builder.script import setup

run = setup(FIGURE)        # ces's run: the profile's params, the seed, where outputs go
darts = run.params["darts"]

# Compute: throw the darts, follow the estimate as they land.
rng = np.random.default_rng(run.seed)
x, y = rng.random(darts), rng.random(darts)
inside = np.cumsum(x * x + y * y <= 1.0)
thrown = np.arange(1, darts + 1)
estimate = 4.0 * inside / thrown
shown = np.unique(np.geomspace(10, darts, 120).astype(int)) - 1   # log-spaced points to draw

# Draw at the size the slide shows it (CSS px on the 1280×720 slide), fonts from _style.
fig, ax = canvas(1100, 500)
ax.plot(thrown[shown], estimate[shown], color=PALETTE[0], label=__LEGEND__)
ax.axhline(np.pi, color=PALETTE[3], linestyle="--", label="π")
ax.set_xscale("log")
ax.set_xlabel(__XLABEL__)
ax.set_ylabel(__YLABEL__)
ax.legend(loc="upper right", frameon=False)
number_axes(ax)

# Save: the SVG the slide shows, and the numbers behind it (a note can quote them).
run.savefig(fig, "__NAME__.svg")
run.save_json("__NAME__.json", {
    "darts": darts,
    "estimate": float(estimate[-1]),
    "error": float(abs(estimate[-1] - np.pi)),
    "estimate_text": number(float(estimate[-1]), 4),
})
