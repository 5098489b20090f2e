"""What does recording reads from outside the figure cost (builder.trace: the harness under
strace, vs the audit hook alone, CES_READS=hook)? On copies of the minideck
(tests/fixtures/minideck):

  minideck           its one tiny figure (pure Python: the fixed costs dominate)
  minideck + plot    plus a figure like the deck's own: numpy and matplotlib imported, an SVG drawn
  cold smoke build   `ces build --profile smoke` from an empty cache, traced vs hook
  no-op build        `ces build` with everything cached, traced vs hook

Runs interleaved (traced, hook, traced, …) so that load drifts hit both alike; reports medians
and the traced/hook ratios of the medians and of the minima of the wall times, and of the
median CPU times (ces, the figures and strace together: less at the mercy of other load) (the least disturbed runs, on a
shared machine; the issue's bar: at most 1.10). A no-op build runs no figure, so no tracer: its
ratio is 1 up to noise.
Usage: python benchmarks/bench_reads.py [--runs N]. Writes benchmarks/results/reads.json.
"""

import argparse
import json
import os
import resource
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
    t, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(ces + ["build", "--profile", "smoke"], cwd=root, check=True, capture_output=True,
                   env=dict(base_env, CES_READS=mode))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime   # ces, figures, strace
    return time.perf_counter() - t, cpu


result = {"runs": args.runs, "strace": shutil.which("strace")}
with tempfile.TemporaryDirectory() as tmp:
    for deck in ("minideck", "minideck_plot"):
        root = Path(tmp) / deck
        shutil.copytree(REPO / "tests" / "fixtures" / "minideck", root)
        if deck == "minideck_plot":
            (root / "figures" / "plot.py").write_text(PLOT)
        samples = {(kind, mode): [] for kind in ("cold", "noop") for mode in ("trace", "hook")}
        cpu = {key: [] for key in samples}
        for _ in range(args.runs):
            for mode in ("trace", "hook"):
                for kind in ("cold", "noop"):
                    wall, used = build(root, mode, clean=kind == "cold")
                    samples[kind, mode].append(wall)
                    cpu[kind, mode].append(used)
        med = {f"{k}_{m}_s": round(statistics.median(v), 4) for (k, m), v in samples.items()}
        low = {f"{k}_{m}_s": min(v) for (k, m), v in samples.items()}
        result[deck] = {**med, **{f"{k}_ratio_trace_hook{how}": round(d[f"{k}_trace_s"] / d[f"{k}_hook_s"], 3)
                                  for how, d in (("", med), ("_min", low)) for k in ("cold", "noop")},
                        **{f"{k}_cpu_ratio_trace_hook": round(statistics.median(cpu[k, "trace"])
                                                              / statistics.median(cpu[k, "hook"]), 3)
                           for k in ("cold", "noop")}}

print(json.dumps(result, indent=1))
out = REPO / "benchmarks" / "results" / "reads.json"
out.write_text(json.dumps(result, indent=1) + "\n")
