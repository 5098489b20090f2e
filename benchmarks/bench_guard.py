"""What do the write guard (Landlock + audit hook) and the subreaper cost? On a copy of the
minideck (tests/fixtures/minideck):

  cold smoke build   `ces build --profile smoke` from an empty cache, guard on vs off
  no-op build        `ces build` with everything cached, guard on vs off
  subreaper          launch.become_subreaper() and launch.kill_orphans(root), timed directly
                     (they run once per build, whatever the guard)

Reports medians and the on/off ratios (the issue's bar: under 5 %).
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
parser = argparse.ArgumentParser()
parser.add_argument("--runs", type=int, default=9)
args = parser.parse_args()
ces = [sys.executable, "-m", "builder.cli"]
base_env = dict(os.environ, CES_NO_CHECK="1", PYTHONPATH=str(REPO))


def build(root, guard, clean):
    if clean:
        shutil.rmtree(root / "cache", ignore_errors=True)
        shutil.rmtree(root / "_site", ignore_errors=True)
    t = time.perf_counter()
    subprocess.run(ces + ["build", "--profile", "smoke"], cwd=root, check=True, capture_output=True,
                   env=dict(base_env, CES_WRITE_GUARD=guard))
    return time.perf_counter() - t


with tempfile.TemporaryDirectory() as tmp:
    root = Path(tmp) / "deck"
    shutil.copytree(REPO / "tests" / "fixtures" / "minideck", root)
    samples = {(kind, guard): [] for kind in ("cold", "noop") for guard in ("on", "off")}
    for _ in range(args.runs):             # interleaved, so that load drifts hit both alike
        for guard in ("on", "off"):
            samples["cold", guard].append(build(root, guard, clean=True))
            samples["noop", guard].append(build(root, guard, clean=False))
    sys.path.insert(0, str(REPO))
    from builder import launch

    t = time.perf_counter()
    for _ in range(100):
        launch.become_subreaper()
    reaper_us = (time.perf_counter() - t) / 100 * 1e6
    t = time.perf_counter()
    for _ in range(10):
        launch.kill_orphans(root)
    orphans_ms = (time.perf_counter() - t) / 10 * 1e3

med = {f"{k}_{g}_s": round(statistics.median(v), 4) for (k, g), v in samples.items()}
result = {
    **med,
    "cold_ratio_on_off": round(med["cold_on_s"] / med["cold_off_s"], 3),
    "noop_ratio_on_off": round(med["noop_on_s"] / med["noop_off_s"], 3),
    "become_subreaper_us": round(reaper_us, 1),
    "kill_orphans_ms": round(orphans_ms, 2),
    "runs": args.runs,
}
print(json.dumps(result, indent=1))
out = REPO / "benchmarks" / "results" / "guard.json"
out.write_text(json.dumps(result, indent=1) + "\n")
