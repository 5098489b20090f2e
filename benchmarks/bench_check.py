"""`ces check` on the real deck, and `ces build` (render + check) after small edits; medians.

  full check         `ces check` with no results cached (.ces/ removed): every slide walked
  cached check       `ces check` again, nothing changed: every slide from .ces/check.json
  text edit + build  one slide's text edited, then `ces build --frozen` (render + check of that slide)
  notes edit + build one slide's speaker notes edited, then `ces build --frozen` (render; no slide to walk)
  no-op build        `ces build --frozen` with the check hook on, against the same with --no-check

Targets (issue 20, 2 cores): full check ≤ 10 s, an edit then build ≤ 3 s, no-op build unchanged.
Each command's CPU time (ces, Playwright's driver and Chromium: every waited-for descendant) is
reported beside its wall time: on a shared machine the wall time is the load's, the CPU time
the check's.

Usage: python benchmarks/bench_check.py [--root DECK] [--repeat 3]
  DECK: a deck whose cache/ holds every figure (`ces build --frozen` computes nothing); default
  this repository. It is copied to a temporary directory (cache/ linked, never written).
Writes benchmarks/results/check.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CES = [sys.executable, "-m", "builder.cli"]


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if k != "CES_NO_CHECK"}
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), e.get("PYTHONPATH")]))
    return e


def timed(root: Path, *args: str) -> tuple[float, float, str]:
    """(wall s, CPU s of the command and its descendants, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(CES + list(args), cwd=root, capture_output=True, text=True, env=env())
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0, 7):
        raise SystemExit(f"ces {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out.stdout


def copy_deck(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_site", ".ces", "cache", ".git",
                                                             "__pycache__", "builder", "tests", "benchmarks", "_figures"))
    (dst / "cache").symlink_to((src / "cache").resolve())


def median(xs):
    return round(statistics.median(xs), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=REPO)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, dict] = {}

    def record(name, samples, extra=None):
        rows[name] = {"wall_s": median([w for w, _ in samples]), "cpu_s": median([c for _, c in samples]),
                      "runs": len(samples), **(extra or {})}
        print(f"{name:22s} wall {rows[name]['wall_s']:6.2f} s   cpu {rows[name]['cpu_s']:6.2f} s   "
              f"{json.dumps(extra) if extra else ''}", flush=True)

    with tempfile.TemporaryDirectory(prefix="ces-bench-check-") as tmp:
        root = Path(tmp) / "deck"
        copy_deck(args.root.resolve(), root)
        timed(root, "build", "--frozen", "--no-check")
        qmd = root / "slides" / "index.qmd"
        text = qmd.read_text(encoding="utf-8")
        slides = len(re.findall(r"^## ", text, re.M))

        samples, walked = [], None
        for _ in range(args.repeat):
            shutil.rmtree(root / ".ces", ignore_errors=True)
            w, c, out = timed(root, "check")
            samples.append((w, c))
            walked = re.search(r"\((\d+) walked, (\d+) cached", out).groups()
        record("full check", samples, {"slides": slides, "walked/cached": "/".join(walked)})
        record("cached check", [timed(root, "check")[:2] for _ in range(args.repeat)])

        titles = re.findall(r"^## (.+)$", text, re.M)
        target = titles[len(titles) // 2]
        samples = []
        for k in range(args.repeat):
            qmd.write_text(qmd.read_text(encoding="utf-8").replace(f"## {target}\n", f"## {target}\n\nÉdité {k}.\n", 1),
                           encoding="utf-8")
            w, c, out = timed(root, "build", "--frozen")
            samples.append((w, c))
            walked = re.search(r"\((\d+) walked, (\d+) cached", out)
        record("text edit + build", samples, {"slide": target, "walked/cached": "/".join(walked.groups()) if walked else None})

        samples = []
        for k in range(args.repeat):
            body = qmd.read_text(encoding="utf-8")
            at = body.index("::: notes\n", body.index(f"## {target}\n")) + len("::: notes\n")
            qmd.write_text(body[:at] + f"Note {k}. " + body[at:], encoding="utf-8")
            w, c, out = timed(root, "build", "--frozen")
            samples.append((w, c))
            walked = re.search(r"\((\d+) walked, (\d+) cached", out)
        record("notes edit + build", samples, {"walked/cached": "/".join(walked.groups()) if walked else None})

        record("no-op build", [timed(root, "build", "--frozen")[:2] for _ in range(args.repeat)])
        record("no-op build --no-check", [timed(root, "build", "--frozen", "--no-check")[:2] for _ in range(args.repeat)])
    rows["no-op build"]["ratio_vs_no_check"] = round(rows["no-op build"]["wall_s"]
                                                     / max(rows["no-op build --no-check"]["wall_s"], 1e-9), 2)
    rows["_machine"] = {"cores": os.cpu_count(), "load_average": [round(x, 1) for x in os.getloadavg()]}
    out = HERE / "results" / "check.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
