"""Counts figure runs after each kind of edit, on a generated deck (benchmarks/gendeck.py):
f000 → f001 → f002 a chain, the other figures independent.

  slide edit           → no figure runs (the deck is re-rendered)
  comment in a script  → no figure runs
  code of f001         → f001 and f002 run
  param of f000        → f000, f001, f002 run
  param of f010        → f010 alone

Usage: python benchmarks/bench_incremental.py [--n 50]
Writes benchmarks/results/incremental.json (runs expected vs seen, and each build's time).
The same check runs as a test: tests/test_incremental.py.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gendeck  # noqa: E402

CES = [sys.executable, "-m", "builder.cli"]
RAN = re.compile(r"^  ran      (\S+)", re.M)


def build(root: Path) -> tuple[list[str], float]:
    t = time.perf_counter()
    out = subprocess.run(CES + ["build", "--profile", "smoke", "--jobs", "2"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    return sorted(RAN.findall(out)), time.perf_counter() - t


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ces-incremental-") as tmp:
        root = Path(tmp) / "deck"
        names = gendeck.generate(root, args.n)
        cold, cold_s = build(root)
        steps = [
            ("no change", lambda: None, []),
            ("slide edit", lambda: edit(root / "slides/index.qmd", "## Figure f004", "## La figure f004"), []),
            ("comment in f001", lambda: edit(root / "figures/f001.py", "fig = setup(FIGURE)",
                                             "fig = setup(FIGURE)  # a comment"), []),
            ("code of f001", lambda: edit(root / "figures/f001.py", 'fig.save_json("f001.json"',
                                          'up = up * 2\nfig.save_json("f001.json"'), ["f001", "f002"]),
            ("param of f000", lambda: edit(root / "figures/f000.py", '"params": {"k": 0}', '"params": {"k": 100}'),
             ["f000", "f001", "f002"]),
            ("param of f010", lambda: edit(root / "figures/f010.py", '"params": {"k": 10}', '"params": {"k": 1000}'),
             ["f010"]),
        ]
        results = {"n": args.n, "cold": {"ran": len(cold), "s": round(cold_s, 3)}, "steps": []}
        ok = len(cold) == len(names)
        for what, change, expected in steps:
            change()
            ran, seconds = build(root)
            ok &= ran == expected
            results["steps"].append({"edit": what, "expected": expected, "ran": ran, "s": round(seconds, 3)})
            print(f"{what:<18} ran {ran or 'nothing'} (expected {expected or 'nothing'}) in {seconds:.2f} s")
        results["all_as_expected"] = ok
    out = HERE / "results" / "incremental.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(("OK" if ok else "UNEXPECTED RUNS") + f"; written {out.relative_to(HERE.parent)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
