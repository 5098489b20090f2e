"""What does recording reads from outside the figure cost (builder.trace: the harness under
strace, vs the audit hook alone, CES_READS=hook)? On copies of the minideck
(tests/fixtures/minideck):

  minideck           its one tiny figure (pure Python: the fixed costs dominate)
  minideck + plot    plus a figure like the deck's own: numpy and matplotlib imported, an SVG drawn
  cold smoke build   `ces build --profile smoke` from an empty cache, traced vs hook
  no-op build        `ces build` with everything cached, traced vs hook

Runs interleaved (traced, hook, traced, …) so that load drifts hit both alike; reports medians
and the traced/hook ratios (the issue's bar: at most 1.10).
Usage: python benchmarks/bench_reads.py [--runs N]. Writes benchmarks/results/reads.json.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
parser = argparse.ArgumentParser()
parser.add_argument("--runs", type=int, default=5)
args = parser.parse_args()
ces = [sys.executable, "-m", "builder.cli"]
base_env = dict(os.environ, CES_NO_CHECK="1", PYTHONPATH=str(REPO))
PLOT = '''FIGURE = {"name": "plot", "caption": "c", "alt": "a", "outputs": ["plot.svg"], "needs": [],
          "profiles": {"smoke": {}, "quick": {}, "full": {}}}
import numpy as np
import matplotlib.pyplot as plt
from builder.script import setup
run = setup(FIGURE)
x = np.linspace(0, 1, 200)
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(x, np.sin(8 * x))
run.savefig(fig, "plot.svg")
'''


def build(root, mode, clean):
    if clean:
        shutil.rmtree(root / "cache", ignore_errors=True)
        shutil.rmtree(root / "_site", ignore_errors=True)
    t = time.perf_counter()
    subprocess.run(ces + ["build", "--profile", "smoke"], cwd=root, check=True, capture_output=True,
                   env=dict(base_env, CES_READS=mode))
    return time.perf_counter() - t


result = {"runs": args.runs, "strace": shutil.which("strace")}
with tempfile.TemporaryDirectory() as tmp:
    for deck in ("minideck", "minideck_plot"):
        root = Path(tmp) / deck
        shutil.copytree(REPO / "tests" / "fixtures" / "minideck", root)
        if deck == "minideck_plot":
            (root / "figures" / "plot.py").write_text(PLOT)
        samples = {(kind, mode): [] for kind in ("cold", "noop") for mode in ("trace", "hook")}
        for _ in range(args.runs):
            for mode in ("trace", "hook"):
                samples["cold", mode].append(build(root, mode, clean=True))
                samples["noop", mode].append(build(root, mode, clean=False))
        med = {f"{k}_{m}_s": round(statistics.median(v), 4) for (k, m), v in samples.items()}
        result[deck] = {**med, "cold_ratio_trace_hook": round(med["cold_trace_s"] / med["cold_hook_s"], 3),
                        "noop_ratio_trace_hook": round(med["noop_trace_s"] / med["noop_hook_s"], 3)}

print(json.dumps(result, indent=1))
out = REPO / "benchmarks" / "results" / "reads.json"
out.write_text(json.dumps(result, indent=1) + "\n")
