"""What does the confinement of figures cost? On a copy of the minideck
(tests/fixtures/minideck) with three more figures that draw with matplotlib (a figure's usual
imports), confinement on (the default: Landlock over the whole filesystem with signal scoping,
a PID namespace per figure through unshare) vs off (CES_WRITE_GUARD=off), interleaved in the
same run:

  cold smoke build   `ces build --profile smoke` from an empty cache
  no-op build        `ces build --profile smoke` with everything cached
  containment        the one-off probe of unshare (launch.containment), and one contained
                     `true` vs a plain one (the per-figure cost of the namespace)

Reports medians and the on/off ratios (issue 21's bar: ≤ 1.10).
Usage: python benchmarks/bench_guard.py [--runs N]. Writes benchmarks/results/guard.json.
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
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from conftest import add_figure  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--runs", type=int, default=5)
args = parser.parse_args()
ces = [sys.executable, "-m", "builder.cli"]
base_env = dict(os.environ, CES_NO_CHECK="1", PYTHONPATH=str(REPO))
DRAW = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
f, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1, 2], [0, {k}, 4])
f.savefig(run.out("plot.svg"))
run.save_json("out.json", {{"k": {k}}})
"""


def build(root, guard, clean):
    if clean:
        shutil.rmtree(root / "cache", ignore_errors=True)
        shutil.rmtree(root / "_site", ignore_errors=True)
        shutil.rmtree(root / "slides" / "_figures", ignore_errors=True)
    t = time.perf_counter()
    subprocess.run(ces + ["build", "--profile", "smoke"], cwd=root, check=True, capture_output=True,
                   env=dict(base_env, CES_WRITE_GUARD=guard))
    return time.perf_counter() - t


with tempfile.TemporaryDirectory() as tmp:
    root = Path(tmp) / "deck"
    shutil.copytree(REPO / "tests" / "fixtures" / "minideck", root)
    for k in range(3):
        add_figure(root, f"draw{k}", DRAW.format(k=k), outputs=("plot.svg", "out.json"))
    samples = {(kind, guard): [] for kind in ("cold", "noop") for guard in ("on", "off")}
    for _ in range(args.runs):             # interleaved, so that load drifts hit both alike
        for guard in ("on", "off"):
            samples["cold", guard].append(build(root, guard, clean=True))
            samples["noop", guard].append(build(root, guard, clean=False))
    from builder import launch

    t = time.perf_counter()
    prefix, why = launch.containment()
    probe_ms = (time.perf_counter() - t) * 1e3
    one = {}
    for name, contain in (("contained", True), ("plain", False)):
        times = []
        for _ in range(20):
            times.append(launch.run(["true"], tmp, None, contain=contain).wall_s)
        one[name] = statistics.median(times) * 1e3

med = {f"{k}_{g}_s": round(statistics.median(v), 4) for (k, g), v in samples.items()}
result = {
    **med,
    "cold_ratio_on_off": round(med["cold_on_s"] / med["cold_off_s"], 3),
    "noop_ratio_on_off": round(med["noop_on_s"] / med["noop_off_s"], 3),
    "containment": "pid namespace (unshare)" if prefix else why,
    "containment_probe_ms": round(probe_ms, 1),
    "launch_contained_ms": round(one["contained"], 2),
    "launch_plain_ms": round(one["plain"], 2),
    "figures": 4,
    "runs": args.runs,
}
print(json.dumps(result, indent=1))
out = REPO / "benchmarks" / "results" / "guard.json"
out.write_text(json.dumps(result, indent=1) + "\n")
