"""How ces' bookkeeping grows with the number of figures.

On a generated deck of N trivial figures (benchmarks/gendeck.py; N = 25, 50, 100, 200 by
default), measures:

  cold_j1_s / cold_j2_s   `ces build` from an empty cache with --jobs 1 and --jobs 2
  status_s                `ces status` with every figure fresh (median of --runs)
  noop_s                  `ces build` with everything cached and nothing changed (median)
  status_inproc_s         the same status computed in-process (no interpreter start-up)
  floor_s                 one Python process that reads and hashes every script (its params
                          included): what any status must at least do (issue 23: status ≤ 2×)
  snakemake_noop_s        Snakemake's no-op run of a Snakefile with one trivial rule per figure
                          (when snakemake is installed: `pip install snakemake`, for this only)
  status_over_floor, noop_over_floor, noop_over_snakemake: the ratios, from the same run
  startup_s               `python -c "import builder.cli"` alone: what every command pays

Medians of --runs runs each, interleaved in one run of this script, so that the ratios compare
like with like on a loaded machine.

Usage: python benchmarks/bench_scaling.py [--sizes 25,50,100,200] [--runs 5] [--profile-top 12] [--no-cold]
                                         [--baseline DIR]
Writes benchmarks/results/scaling.json; with --profile-top K, prints the K most expensive
functions of an in-process `ces status` on the largest deck (cProfile). With --baseline DIR (a
directory holding another version's builder/ package, e.g. `git archive HEAD builder | tar -x
-C DIR`), `ces status` and the no-op build are also timed with it, interleaved with the current
version's runs so that both see the same machine load (baseline_status_s, baseline_noop_s).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import gendeck  # noqa: E402

CES = [sys.executable, "-m", "builder.cli"]
os.environ["CES_NO_CHECK"] = "1"   # the layout check (Chromium) is not bookkeeping


def run(cmd, cwd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def median(cmd, cwd, runs) -> float:
    return statistics.median(run(cmd, cwd) for _ in range(runs))


def ab(cmd, cwd, runs, baseline: str | None) -> tuple[float, float | None]:
    """Median time of cmd with this builder and, interleaved, with the baseline's."""
    if not baseline:
        return median(cmd, cwd, runs), None
    env = dict(os.environ, PYTHONPATH=baseline)
    now, base = [], []
    for _ in range(runs):
        now.append(run(cmd, cwd))
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=env)
        base.append(time.perf_counter() - t)
    return statistics.median(now), statistics.median(base)


FLOOR = """
import hashlib, pathlib, sys
for p in sorted(pathlib.Path("figures").glob("*.py")):
    hashlib.sha256(p.read_bytes()).hexdigest()
"""


def snakefile(root: Path, names: list[str]) -> Path:
    """One trivial rule per figure (its script in, a JSON out), and `all`."""
    rules = [f"rule all:\n    input: {[f'sm/{n}.json' for n in names]!r}\n"]
    for n in names:
        rules.append(f"rule {n}:\n    input: 'figures/{n}.py'\n    output: 'sm/{n}.json'\n"
                     f"    shell: 'echo {{{{}}}} > {{output}}'\n")
    path = root / "Snakefile"
    path.write_text("\n".join(rules))
    return path


def interleaved(cmds: dict[str, list[str]], cwd, runs) -> dict[str, float]:
    """Median time of each command, the commands taking turns within each round: a machine whose
    load changes meanwhile weighs on all of them alike, and the ratios compare like with like."""
    samples = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            samples[name].append(run(cmd, cwd))
    return {name: statistics.median(v) for name, v in samples.items()}


def wipe(root: Path) -> None:
    for rel in ("cache", "_site", "slides/_figures"):
        shutil.rmtree(root / rel, ignore_errors=True)


def status_inproc(root: Path):
    from builder.build import status
    from builder.figures import discover

    return status(root, discover(root), "smoke")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="25,50,100,200")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile-top", type=int, default=12)
    parser.add_argument("--no-cold", action="store_true", help="build once, untimed (only status and no-op)")
    parser.add_argument("--baseline", help="directory holding another version's builder/ package")
    parser.add_argument("--baseline-label", help="what the baseline is (recorded in the results)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
               "baseline": args.baseline_label or args.baseline,
               "load_average_at_start": os.getloadavg()[0],   # the ratios hold under load, the times do not
               "runs": args.runs, "startup_s": median([sys.executable, "-c", "import builder.cli"], HERE, args.runs),
               "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="ces-scaling-") as tmp:
        for n in sizes:
            root = Path(tmp) / f"deck{n}"
            names = gendeck.generate(root, n)
            if args.no_cold:
                run(CES + ["build", "--profile", "smoke", "--jobs", "2"], root)
                row = {}
            else:
                row = {"cold_j1_s": run(CES + ["build", "--profile", "smoke", "--jobs", "1"], root)}
                wipe(root)
                row["cold_j2_s"] = run(CES + ["build", "--profile", "smoke", "--jobs", "2"], root)
            cmds = {"status_s": CES + ["status", "--profile", "smoke"], "noop_s": CES + ["build", "--profile", "smoke"],
                    "floor_s": [sys.executable, "-c", FLOOR]}
            snakemake = shutil.which("snakemake")
            if snakemake:
                cmds["snakemake_noop_s"] = [snakemake, "-s", str(snakefile(root, names)), "--cores", "1", "--quiet"]
                run(cmds["snakemake_noop_s"], root)  # cold: every output made
            if args.baseline:
                row["status_s"], row["baseline_status_s"] = ab(cmds["status_s"], root, args.runs, args.baseline)
                row["noop_s"], row["baseline_noop_s"] = ab(cmds["noop_s"], root, args.runs, args.baseline)
                row.update(interleaved({k: c for k, c in cmds.items() if k not in row}, root, args.runs))
            else:
                row.update(interleaved(cmds, root, args.runs))
            row["status_over_floor"] = row["status_s"] / row["floor_s"]
            row["noop_over_floor"] = row["noop_s"] / row["floor_s"]
            if snakemake:
                row["noop_over_snakemake"] = row["noop_s"] / row["snakemake_noop_s"]
            samples = []
            for _ in range(args.runs):
                t = time.perf_counter()
                states = status_inproc(root)
                samples.append(time.perf_counter() - t)
                assert all(s.state == "fresh" for s in states.values())
            row["status_inproc_s"] = statistics.median(samples)
            per_figure = {k: round(1000 * row[k] / n, 2) for k in ("cold_j1_s", "cold_j2_s", "noop_s", "status_inproc_s")
                          if k in row}
            print(f"N={n:4d}  " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
            print(f"        status {row['status_s']:.3f} s = {row['status_over_floor']:.1f}× the floor "
                  f"({row['floor_s']:.3f} s); no-op build {row['noop_s']:.3f} s = {row['noop_over_floor']:.1f}× the floor"
                  + (f", {row['noop_over_snakemake']:.2f}× Snakemake's no-op ({row['snakemake_noop_s']:.3f} s)"
                     if "snakemake_noop_s" in row else " (no snakemake here)"), flush=True)
            results["sizes"][n] = {k: round(v, 3) for k, v in row.items()}
            results["sizes"][n]["per_figure_ms"] = per_figure
        if args.profile_top:
            root = Path(tmp) / f"deck{sizes[-1]}"
            prof = cProfile.Profile()
            prof.runcall(status_inproc, root)
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(args.profile_top)
            print(text.getvalue())
    out = HERE / "results" / "scaling.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"startup {results['startup_s']:.3f} s; written {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
