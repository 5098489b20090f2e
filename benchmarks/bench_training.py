"""Training speed of the trained figures on this machine.

1. Throughput of the shared GPT (figures/_gpt.py), one CPU thread (what the figures use on
   CPU), on the shapes the figures train: tokens/s and steps/s, forward + backward + AdamW.
2. Wall time of each trained figure in a profile (default quick), run alone as a subprocess,
   one after the other (they would share the cores otherwise).

    python benchmarks/bench_training.py                 # both parts, quick profile
    python benchmarks/bench_training.py --no-figures    # throughput only
    python benchmarks/bench_training.py --profile smoke --only grokking icl

Writes benchmarks/results/training.json.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "figures"))
from _gpt import GPT, GPTConfig, adamw  # noqa: E402

SCRIPTS = ["scaling_synthetic", "emergence_addition", "grokking", "double_descent", "icl"]

# name: (config, batch, sequence length); the first is the reference "141 k-parameter" class.
SHAPES = {
    "reference 2×64, T 64": (dict(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=64), 64, 64),
    "icl (rope) 2×64, T 69": (dict(vocab_size=29, block_size=128, n_layer=2, n_head=4, n_embd=64, rope=True), 32, 69),
    "scaling 2×64, T 3": (dict(vocab_size=32, block_size=3, n_layer=2, n_head=4, n_embd=64), 128, 3),
    "addition 2×16, T 11": (dict(vocab_size=111, block_size=12, n_layer=2, n_head=2, n_embd=16), 128, 11),
    "grokking transformer 1×128, T 3": (dict(vocab_size=98, block_size=3, n_layer=1, n_head=4, n_embd=128,
                                              d_mlp=512, act="relu", layernorm=False, tied=False), 2823, 3),
}


def throughput(cfg, batch, T, seconds=3.0):
    torch.manual_seed(0)
    model = GPT(GPTConfig(**cfg))
    opt = adamw(model, 1e-3, 0.1)
    x = torch.randint(0, cfg["vocab_size"], (batch, T))

    def step():
        loss = F.cross_entropy(model(x).flatten(0, 1), x.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):                                            # warm-up
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    dt = (time.perf_counter() - start) / n
    return {"params_total": sum(p.numel() for p in model.parameters()),
            "params_non_embedding": model.count_params(), "batch": batch, "seq_len": T,
            "ms_per_step": 1000 * dt, "steps_per_s": 1 / dt, "tokens_per_s": batch * T / dt}


def figure_wall_time(script, profile, out):
    env = {k: v for k, v in os.environ.items() if k != "CES_RUN"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "figures" / f"{script}.py"), "--profile", profile,
                           "--out", str(out / script)], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "ok": proc.returncode == 0,
            "stderr_tail": proc.stderr[-500:] if proc.returncode else ""}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["smoke", "quick", "full"])
    parser.add_argument("--only", nargs="*", default=SCRIPTS, choices=SCRIPTS)
    parser.add_argument("--no-figures", action="store_true", help="throughput only")
    parser.add_argument("--out", type=Path, default=Path("/tmp/ces-bench-training"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    results = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                           "torch": torch.__version__, "threads": torch.get_num_threads(),
                           "loadavg_at_start": os.getloadavg()},
               "throughput": {}, "figures": {}}
    print(f"{'shape':36s} {'params':>9s} {'ms/step':>9s} {'steps/s':>9s} {'tokens/s':>10s}")
    for name, (cfg, batch, T) in SHAPES.items():
        r = throughput(cfg, batch, T)
        results["throughput"][name] = r
        print(f"{name:36s} {r['params_total']:9d} {r['ms_per_step']:9.1f} {r['steps_per_s']:9.1f} "
              f"{r['tokens_per_s']:10.0f}", flush=True)

    if not args.no_figures:
        print(f"\n{'figure':24s} {'profile':>8s} {'wall s':>8s}")
        results["figures"][args.profile] = {}
        for script in args.only:
            r = figure_wall_time(script, args.profile, args.out)
            results["figures"][args.profile][script] = r
            print(f"{script:24s} {args.profile:>8s} {r['wall_s']:8.1f}" + ("" if r["ok"] else "  FAILED"),
                  flush=True)
        results["machine"]["loadavg_at_end"] = os.getloadavg()

    path = ROOT / "benchmarks" / "results" / "training.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():                          # keep the last wall times of the other figures/profiles
        old = json.loads(path.read_text(encoding="utf-8")).get("figures", {})
        for profile, times in results["figures"].items():
            old[profile] = {**old.get(profile, {}), **times}
        results["figures"] = old
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
