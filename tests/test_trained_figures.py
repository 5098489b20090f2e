"""The trained figures show their phenomenon: each script runs in its smoke profile (one at a
time: the figures train models) and the numbers in its JSON are checked for the phenomenon's
signature, not just for a file. The scaling fit is also checked on planted data, with the
script's own fitting functions (read from its source, since the script trains on import).
"""

import ast
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "figures"

pytestmark = pytest.mark.slow

sys.path.insert(0, str(FIGURES))
from _gpt import GPT, GPTConfig, rotary  # noqa: E402


def run_smoke(script, out):
    env = {k: v for k, v in os.environ.items() if k != "CES_RUN"}   # run alone, not under ces
    env["CES_DEVICE"] = "cpu"                                       # the numbers below are CPU's
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(FIGURES / f"{script}.py"), "--profile", "smoke",
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, f"{script} failed\n{proc.stdout}\n{proc.stderr}"
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Run a script once per session; returns its JSON (and records the wall time)."""
    cache = {}

    def get(script, json_name):
        if script not in cache:
            out = tmp_path_factory.mktemp(script)
            seconds = run_smoke(script, out)
            cache[script] = (out, seconds)
        out, seconds = cache[script]
        declared = declaration(script)["outputs"]
        assert sorted(p.name for p in out.iterdir()) == sorted(declared)
        return json.loads((out / json_name).read_text(encoding="utf-8")), seconds

    return get


def declaration(script):
    tree = ast.parse((FIGURES / f"{script}.py").read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "FIGURE")
    return ast.literal_eval(node.value)


def functions_of(script, names, namespace):
    """Define the named top-level functions of a script without running the script."""
    tree = ast.parse((FIGURES / f"{script}.py").read_text(encoding="utf-8"))
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    assert sorted(d.name for d in defs) == sorted(names)
    exec(compile(ast.Module(body=defs, type_ignores=[]), script, "exec"), namespace)
    return namespace


# -- the shared model ------------------------------------------------------------------------------

@pytest.mark.parametrize("rope", [False, True])
def test_gpt_is_causal(rope):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, rope=rope))
    x = torch.randint(0, 11, (3, 8))
    y = x.clone()
    y[:, 5:] = (y[:, 5:] + 1) % 11                       # change the future only
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :5], model(y)[:, :5], atol=1e-6)
        assert not torch.allclose(model(x)[:, 5:], model(y)[:, 5:])


def test_count_params_leaves_out_embeddings():
    cfg = GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=2, n_embd=8)
    model = GPT(cfg)
    # per layer: 2 LayerNorms (2·2·8), qkv 8·24, proj 8·8, MLP 8·32 + 32 + 32·8 + 8; final LN 16
    assert model.count_params() == 32 + 192 + 64 + 256 + 32 + 256 + 8 + 16
    assert model.count_params(non_embedding=False) == model.count_params() + 10 * 8 + 4 * 8
    untied = GPT(GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=2, n_embd=8, tied=False))
    assert untied.count_params() == model.count_params()


def test_rotary_scores_depend_on_offset_only():
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    seq_q, seq_k = q.expand(1, 1, 12, 8), k.expand(1, 1, 12, 8)   # the same vector at every position
    scores = rotary(seq_q) @ rotary(seq_k).transpose(-1, -2)
    assert torch.allclose(scores[0, 0, 7, 4], scores[0, 0, 10, 7], atol=1e-5)   # both offset 3
    assert torch.allclose(torch.diagonal(scores[0, 0]), (q * k).sum(), atol=1e-5)


# -- scaling laws ------------------------------------------------------------------------------------

def scaling_fits():
    from scipy.optimize import curve_fit, minimize
    return functions_of("scaling_synthetic", ["power_law", "fit_power_law", "chinchilla_objective",
                                              "fit_chinchilla", "hoffmann_starts"],
                        {"np": np, "curve_fit": curve_fit, "minimize": minimize, "math": math})


def test_power_law_fit_recovers_planted_law():
    fits = scaling_fits()
    rng = np.random.default_rng(1)
    D = np.geomspace(8e3, 2.56e5, 6)
    L = 14.0 * D ** -0.36 + 1.15                                  # planted: γ = 0.36, b = 1.15
    L_noisy = L * np.exp(0.003 * rng.standard_normal(len(D)))
    fit = fits["fit_power_law"](D, L_noisy, 200, rng)
    assert abs(fit["gamma"]["value"] - 0.36) < 0.08
    assert abs(fit["b"]["value"] - 1.15) < 0.06
    lo, hi = fit["b"]["ci95"]
    assert lo - 0.02 <= 1.15 <= hi + 0.02


def test_chinchilla_fit_recovers_planted_exponents():
    fits = scaling_fits()
    rng = np.random.default_rng(2)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(2e3, 1e5, 4), np.geomspace(2e4, 8e5, 6)))
    E, A, alpha, B, beta = 1.15, 30.0, 0.45, 60.0, 0.35
    L = (E + A / N ** alpha + B / D ** beta) * np.exp(0.002 * rng.standard_normal(len(N)))
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    a, b, e, fit_alpha, fit_beta = fits["fit_chinchilla"](logN, logD, logL,
                                                          fits["hoffmann_starts"](logN, logD, logL))
    assert abs(fit_alpha - alpha) < 0.06 and abs(fit_beta - beta) < 0.06
    assert abs(math.exp(e) - E) < 0.1


def test_scaling_synthetic_floor_is_the_true_entropy(smoke):
    data, _ = smoke("scaling_synthetic", "scaling-synthetic.json")
    H = data["true_entropy"]
    losses = [r["loss"] for r in data["runs"]]
    # The population loss is a cross-entropy: never below the entropy, never far above log V.
    assert min(losses) >= H - 1e-9 and max(losses) < data["max_loss"] + 0.5
    big = [r for r in data["runs"] if r["width"] == max(data["params"]["widths"])]
    assert all(x["loss"] > y["loss"] for x, y in zip(big, big[1:]))   # more data, lower loss
    assert abs(data["fit_D"]["b"]["value"] - H) < 0.3 * H           # the fitted floor ≈ entropy
    assert 0 < data["fit_D"]["gamma"]["value"] < 2


# -- grokking --------------------------------------------------------------------------------------

def test_grokking_memorises_before_it_generalises(smoke):
    data, _ = smoke("grokking", "grokking.json")
    log = data["log"]
    assert data["memorisation_step"] is not None
    i = log["step"].index(data["memorisation_step"])
    assert log["train_acc"][i] >= 0.99 and log["test_acc"][i] < 0.2
    assert max(tr - te for tr, te in zip(log["train_acc"], log["test_acc"])) > 0.8
    assert len(data["fourier"]["frequencies"]) == (data["params"]["p"] - 1) // 2


# -- double descent ---------------------------------------------------------------------------------

def test_double_descent_peaks_at_the_interpolation_threshold(smoke):
    data, _ = smoke("double_descent", "double-descent.json")
    n = data["params"]["n"]
    assert n / 1.5 <= data["peak"]["N"] <= 1.5 * n
    assert data["peak"]["test_mse"] > 2 * data["underparameterised_best"]
    assert data["peak"]["test_mse"] > 2 * data["overparameterised_last"]
    N, train = np.array(data["N"]), np.array(data["train_mse_median"])
    assert np.all(train[N >= 1.2 * n] < 1e-10)                     # past N = n it interpolates


# -- emergence ---------------------------------------------------------------------------------------

def test_exact_match_is_bounded_by_per_digit_accuracy(smoke):
    data, _ = smoke("emergence_addition", "emergence-addition.json")
    K = data["answer_digits"]
    for m in data["models"]:
        for run in m["seeds"]:
            assert run["exact_match"] <= min(run["per_position_acc"]) + 1e-9
        assert m["exact_match"] <= m["per_digit_acc"] + 1e-9
        assert abs(m["exact_match"] - m["per_digit_acc"] ** K) < 0.1    # ≈ p^K (independent digits)


def test_emergence_is_deterministic(smoke, tmp_path):
    data, _ = smoke("emergence_addition", "emergence-addition.json")
    run_smoke("emergence_addition", tmp_path)
    again = json.loads((tmp_path / "emergence-addition.json").read_text(encoding="utf-8"))
    assert again == data


# -- in-context learning ---------------------------------------------------------------------------

def test_examples_in_context_help(smoke):
    data, seconds = smoke("icl", "icl.json")
    acc = data["accuracy_by_shots"]
    assert np.mean(acc[1:]) > acc[0] + 0.05
    assert data["suffix_accuracy_by_shots"][0] < 0.15          # a random suffix cannot be guessed
