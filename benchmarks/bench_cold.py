"""Cold build of the whole deck: a copy of the sources with an empty cache, `ces build -j N`.

Reports the wall time, how it splits between figures and rendering (from ces' own summary
line), and each figure's time. Usage: python benchmarks/bench_cold.py [--jobs 1 2] [--profile quick]
Writes benchmarks/results/cold.json (merging with earlier runs for other job counts).
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
parser.add_argument("--profile", default="quick")
args = parser.parse_args()
root = Path(__file__).resolve().parent.parent
out = Path(__file__).parent / "results" / "cold.json"
results = json.loads(out.read_text()) if out.exists() else {}

for jobs in args.jobs:
    with tempfile.TemporaryDirectory() as tmp:
        deck = Path(tmp) / "deck"
        deck.mkdir()
        for name in ("_quarto.yml", "llm.yml", "slides", "figures"):
            src = root / name
            (shutil.copytree(src, deck / name, ignore=shutil.ignore_patterns("_figures", "__pycache__"))
             if src.is_dir() else shutil.copy2(src, deck / name))
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "builder.cli", "build", "--profile", args.profile,
                               "--jobs", str(jobs)], cwd=deck, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
    summary = re.search(r"figures \((\d+) ran, (\d+) cached, ([\d.]+) s\), deck rendered with \w+ in ([\d.]+) s",
                        proc.stdout)
    per_figure = {m[0]: float(m[1]) for m in re.findall(r"ran\s+(\S+) \(([\d.]+) s", proc.stdout)}
    results[f"jobs_{jobs}"] = {"profile": args.profile, "wall_s": round(wall, 1),
                               "figures_s": float(summary[3]), "render_s": float(summary[4]),
                               "figures_ran": int(summary[1]), "per_figure_s": per_figure}
    print(f"--jobs {jobs}: {wall:.1f} s (figures {summary[3]} s, render {summary[4]} s, {summary[1]} figures)")
out.write_text(json.dumps(results, indent=1) + "\n")
