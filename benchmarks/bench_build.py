"""How much does ces' bookkeeping cost? Compares, on a deck (default: this repository):

  bare render    the pandoc command ces runs, alone (what any pandoc deck pays)
  no-op build    `ces build` with everything cached and nothing changed
  render build   `ces build` after a slide edit: every figure cached, the deck re-rendered
  status         `ces status` with every figure fresh

Usage: python benchmarks/bench_build.py [DECK_DIR] [--runs N] [--profile quick]
Writes benchmarks/results/build.json. Build the deck once first (`ces build`).
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("deck", nargs="?", default=str(Path(__file__).resolve().parent.parent))
parser.add_argument("--runs", type=int, default=7)
parser.add_argument("--profile", default="quick")
args = parser.parse_args()
root = Path(args.deck).resolve()
ces = [sys.executable, "-m", "builder.cli"]


def timed(cmd, cwd, before=None):
    samples = []
    for _ in range(args.runs):
        if before:
            before()
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


subprocess.run(ces + ["build", "--profile", args.profile], cwd=root, check=True, capture_output=True)

# The exact pandoc command ces runs, rebuilt from its own code.
sys.path.insert(0, str(root))
from builder import deck as deck_config  # noqa: E402
from builder.figures import discover  # noqa: E402
from builder.pandoc import pandoc_args  # noqa: E402

deck = deck_config.load(root)
source = deck.sources[0]
meta = deck_config.write_figure_metadata(root / "_site" / ".bench-meta.json", root, discover(root))  # what ces passes pandoc
pandoc = pandoc_args(deck, source, root / "_site", meta)
if "bibliography:" in source.read_text()[:4000]:
    pandoc.append("--citeproc")
slide = source


def touch_slide():
    text = slide.read_text()
    slide.write_text(text + "\n" if not text.endswith("\n\n") else text.rstrip("\n") + "\n")


results = {
    "deck": str(root),
    "runs": args.runs,
    "bare_render_s": timed(pandoc, source.parent),
    "noop_build_s": timed(ces + ["build", "--profile", args.profile], root),
    "render_build_s": timed(ces + ["build", "--profile", args.profile], root, before=touch_slide),
    "status_s": timed(ces + ["status", "--profile", args.profile], root),
}
meta.unlink()
subprocess.run(ces + ["build", "--profile", args.profile], cwd=root, check=True, capture_output=True)
results["noop_over_bare"] = results["noop_build_s"] / results["bare_render_s"]
results["render_build_over_bare"] = results["render_build_s"] / results["bare_render_s"]
out = Path(__file__).parent / "results" / "build.json"
out.write_text(json.dumps(results, indent=1) + "\n")
for k, v in results.items():
    print(f"{k:>24}: {v:.3f}" if isinstance(v, float) else f"{k:>24}: {v}")
