"""The trained figures show their phenomenon, in the numbers the deck shows and in a fresh run.

Each phenomenon has one check, a function that lists what is missing from a figure's JSON (an
empty list: the phenomenon is there). Each check is applied to
- the committed `quick` cache entry the deck is built from, found through builder's own lookup
  for the current key (skipped with the reason when the entry is not fresh, failed under CI=true:
  the lead rebuilds the cache once the scripts have settled);
- a fresh smoke run, where the smoke profile is large enough to show it;
- a deliberately broken smoke run (CES_SABOTAGE=frozen: the optimiser never moves the weights;
  =shuffled: the training answers are permuted; see figures/_sabotage.py), which the check must
  catch while the real run passes it (at smoke size where the phenomenon exists there, otherwise
  the real run is the committed quick entry).
The scaling fits are also checked on planted data, with the script's own fitting functions (read
from its source, since the script trains on import).
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


def run_smoke(script, out, sabotage=None):
    env = {k: v for k, v in os.environ.items() if k not in ("CES_RUN", "CES_SABOTAGE")}
    env["CES_DEVICE"] = "cpu"                                       # the numbers below are CPU's
    if sabotage:
        env["CES_SABOTAGE"] = sabotage
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(FIGURES / f"{script}.py"), "--profile", "smoke",
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, f"{script} failed\n{proc.stdout}\n{proc.stderr}"
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Run a script once per session (per sabotage); returns its JSON and the wall time."""
    cache = {}

    def get(script, json_name, sabotage=None):
        if (script, sabotage) not in cache:
            out = tmp_path_factory.mktemp(f"{script}-{sabotage or 'real'}")
            seconds = run_smoke(script, out, sabotage)
            cache[script, sabotage] = (out, seconds)
        out, seconds = cache[script, sabotage]
        declared = declaration(script)["outputs"]
        assert sorted(p.name for p in out.iterdir()) == sorted(declared)
        data = json.loads((out / json_name).read_text(encoding="utf-8"))
        assert data.get("sabotage") == sabotage
        return data, seconds

    return get


@pytest.fixture(scope="module")
def deck_states():
    """builder's own view of the committed cache: figure -> Lookup, for the quick profile
    (frozen, as the published deck is built: an entry that differs only by package versions
    is the one the deck shows)."""
    from builder.cache import Cache
    from builder.figures import discover
    from builder.runner import plan

    return plan(ROOT, discover(ROOT), Cache(ROOT), "quick", frozen=True)


def deck_json(deck_states, figure, json_name):
    """The JSON the deck shows for a figure, from its fresh quick entry."""
    found = deck_states[figure]
    if found.state == "corrupt":                                    # edited without its manifest
        pytest.fail(f"the committed quick entry of {figure} is corrupt: {'; '.join(found.reasons[:3])}")
    if found.state != "fresh":
        why = f"no fresh quick cache entry for {figure} ({found.state}: {'; '.join(found.reasons[:3])})"
        if os.environ.get("CI") == "true":
            pytest.fail(why + ": rebuild it with `ces build --profile quick " + figure + "`")
        pytest.skip(why + "; the cache is rebuilt once the scripts have settled")
    return json.loads(found.entry.output(json_name).read_text(encoding="utf-8"))


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


def inside(value, interval):
    lo, hi = interval
    return lo <= value <= hi


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

def scaling_fits(H=1.0):
    from scipy.optimize import minimize
    names = ["fit_line", "chinchilla_objective", "fit_chinchilla", "basins", "on_bound"]
    ns = functions_of("scaling_synthetic", names, {"np": np, "minimize": minimize, "math": math})
    ns.update(H_true=H, excess=lambda losses: np.maximum(losses - H, 1e-12),
              BOUNDS=[(None, None), (None, None), (0.0, 3.0), (0.0, 3.0)])
    return ns


def planted_chinchilla(E, alpha=0.45, beta=0.35, seed=2, noise=0.002):
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(2e3, 1e5, 4), np.geomspace(2e4, 8e5, 6)))
    L = (E + 30.0 / N ** alpha + 60.0 / D ** beta) * np.exp(noise * rng.standard_normal(len(N)))
    return np.log(N), np.log(D), np.log(L)


def random_starts(n=60, seed=0):
    return np.random.default_rng(seed).uniform([0, 0, 0, 0], [25, 25, 2, 2], (n, 4))


def test_power_law_with_known_floor_recovers_planted_exponent():
    fits = scaling_fits(H=1.15)
    D = np.geomspace(8e3, 2.56e5, 6)
    gamma, a, rms = fits["fit_line"](D, 14.0 * D ** -0.36 + 1.15)
    assert abs(gamma - 0.36) < 1e-6 and rms < 1e-9
    gamma, _, _ = fits["fit_line"](D, 14.0 * D ** -0.36 + 1.25)   # the wrong floor bends the line
    assert abs(gamma - 0.36) > 0.02


def test_chinchilla_multistart_recovers_planted_exponents():
    fits = scaling_fits()
    logN, logD, logL = planted_chinchilla(E=1.15)
    results = fits["fit_chinchilla"](logN, logD, logL, math.log(1.15), random_starts())
    best = results[0]
    assert best.success and not fits["on_bound"](best.x)
    assert abs(best.x[2] - 0.45) < 0.06 and abs(best.x[3] - 0.35) < 0.06
    assert len(fits["basins"](results)) >= 1


def test_chinchilla_fit_without_a_data_term_is_flagged():
    """Planted data whose loss does not depend on D: β goes to its bound, which `on_bound`
    must report (the figure then says the fit failed)."""
    fits = scaling_fits()
    logN, logD, _ = planted_chinchilla(E=1.15)
    logL_flat = np.log(1.15 + 30.0 / np.exp(logN) ** 0.45)           # no D term at all
    best = fits["fit_chinchilla"](logN, logD, logL_flat, math.log(1.15), random_starts())[0]
    assert fits["on_bound"](best.x)


def scaling_problems(data):
    """What is missing from a scaling-synthetic JSON for the slide's law to be seen in it:
    the loss falls with D and with N (seed means); L − H falls as a power of D (largest model)
    and of N (largest shard): exponents whose CI lies above 0.05 and a straight line in log-log
    (rms of log residuals < 0.15); the joint fit converged off its bounds with both exponents'
    CIs above 0.05; ≥ 3 seeds per point."""
    H = data["true_entropy"]
    widths, shards = data["params"]["widths"], data["params"]["shards"]
    mean = lambda w, D: np.mean([r["loss"] for r in data["runs"] if (r["width"], r["D"]) == (w, D)])
    problems = []
    seeds = {len({r["seed"] for r in data["runs"] if (r["width"], r["D"]) == (w, D)}) for w in widths for D in shards}
    if min(seeds) < 3:
        problems.append(f"fewer than 3 seeds per point ({min(seeds)})")
    for w in widths:
        losses = [mean(w, D) for D in shards]
        if not all(x > y for x, y in zip(losses, losses[1:])):
            problems.append(f"width {w}: the loss does not fall with more data")
    at_most = [mean(w, max(shards)) for w in widths]
    if not all(x > y for x, y in zip(at_most, at_most[1:])):
        problems.append("at the largest shard the loss does not fall with model size")
    for name in ("fit_D", "fit_N"):
        fit = data[name]
        if fit["gamma_ci95"][0] is None or not fit["gamma_ci95"][0] > 0.05:
            problems.append(f"{name}: exponent CI {fit['gamma_ci95']} reaches 0")
        if not fit["log_rms"] < 0.15:
            problems.append(f"{name}: L − H is not a straight line in log-log (rms {fit['log_rms']})")
    ch = data["chinchilla"]
    if ch["failed"]:
        problems.append("the joint fit failed (not converged, or an exponent on its bound)")
    elif not (ch["alpha_ci95"][0] > 0.05 and ch["beta_ci95"][0] > 0.05):
        problems.append(f"joint exponents' CIs reach 0: α {ch['alpha_ci95']}, β {ch['beta_ci95']}")
    if ch["starts"] < 50:
        problems.append(f"the joint fit used {ch['starts']} starts (< 50)")
    if min(r["loss"] for r in data["runs"]) < H - 1e-9:                 # Gibbs: no bound enforces it
        problems.append("a loss below the entropy")
    return problems


def test_scaling_law_in_the_deck(deck_states):
    """The deck's scaling-synthetic: L − H a power law of D and of N, the joint fit off its
    bounds; the best basin reported first."""
    data = deck_json(deck_states, "scaling-synthetic", "scaling-synthetic.json")
    assert data["sabotage"] is None
    assert scaling_problems(data) == []
    objectives = [b["objective"] for b in data["chinchilla"]["basins"]]
    assert objectives == sorted(objectives)


def test_scaling_smoke_run(smoke):
    data, _ = smoke("scaling_synthetic", "scaling-synthetic.json")
    assert scaling_problems(data) == []


@pytest.mark.parametrize("sabotage", ["frozen", "shuffled"])
def test_scaling_check_catches_a_broken_run(smoke, sabotage):
    data, _ = smoke("scaling_synthetic", "scaling-synthetic.json", sabotage)
    assert scaling_problems(data)


def test_scaling_check_catches_a_mutated_exponent(smoke):
    """`fit_N` is checked: an L(N) with no slope, or a bent one, is reported."""
    data, _ = smoke("scaling_synthetic", "scaling-synthetic.json")
    flat = json.loads(json.dumps(data))
    flat["fit_N"]["gamma_ci95"] = [-0.01, 0.02]
    assert scaling_problems(flat)
    bent = json.loads(json.dumps(data))
    bent["fit_N"]["log_rms"] = 0.3
    assert scaling_problems(bent)


# -- grokking --------------------------------------------------------------------------------------

def first_step(log, key, threshold):
    return next((s for s, v in zip(log["step"], log[key]) if v >= threshold), None)


def memorisation_problems(data):
    """Train accuracy reaches 0.99 while test accuracy is below 0.1."""
    log = data["log"]
    memorised = first_step(log, "train_acc", 0.99)
    if memorised is None:
        return ["train accuracy never reaches 0.99"]
    test_then = log["test_acc"][log["step"].index(memorised)]
    return [] if test_then < 0.1 else [f"test accuracy is {test_then} when train reaches 0.99"]


def grokking_problems(data):
    """Memorisation, then test accuracy ≥ 0.9 at least 5× later than train reached 0.99."""
    problems = memorisation_problems(data)
    memorised = first_step(data["log"], "train_acc", 0.99)
    generalised = first_step(data["log"], "test_acc", 0.9)
    if generalised is None:
        problems.append("test accuracy never reaches 0.9")
    elif memorised is not None and generalised < 5 * memorised:
        problems.append(f"test reaches 0.9 at step {generalised}, under 5× {memorised}")
    return problems


def circle_problems(data, snapshot="final"):
    """The snapshot's embeddings, in their principal plane, lie on a circle walked in the order
    k*·a mod p: token a's angle is ±2π·k*·a/p plus a constant (phase coherence ≥ 0.9) and the
    radii vary little (coefficient of variation ≤ 0.3)."""
    xy = np.array(data["pca"][snapshot]["xy"])
    p, k = data["params"]["p"], data["circle_frequency"]
    z = (xy[:, 0] - xy[:, 0].mean()) + 1j * (xy[:, 1] - xy[:, 1].mean())
    turn = np.exp(2j * np.pi * k * np.arange(p) / p)
    coherence = max(abs(np.mean(np.exp(1j * np.angle(z)) / turn)), abs(np.mean(np.exp(1j * np.angle(z)) * turn)))
    spread = np.std(abs(z)) / np.mean(abs(z))
    problems = []
    if coherence < 0.9:
        problems.append(f"{snapshot}: angles do not follow k*·a mod p (coherence {coherence:.2f})")
    if spread > 0.3:
        problems.append(f"{snapshot}: not a circle (radius CV {spread:.2f})")
    return problems


def test_grokking_in_the_deck(deck_states):
    data = deck_json(deck_states, "grokking", "grokking.json")
    assert data["sabotage"] is None
    assert grokking_problems(data) == []
    assert len(data["fourier"]["frequencies"]) == (data["params"]["p"] - 1) // 2
    assert circle_problems(data) == []
    # The check sees no circle in the memorised snapshot, drawn beside it.
    assert circle_problems(data, "memorised")


def test_grokking_smoke_run_memorises(smoke):
    """Smoke stops long before grokking (~1 300 steps): it shows the memorisation."""
    data, _ = smoke("grokking", "grokking.json")
    assert memorisation_problems(data) == []


def test_grokking_check_catches_a_frozen_run(smoke):
    """Grokking has no `shuffled` variant: memorising permuted answers still memorises."""
    frozen, _ = smoke("grokking", "grokking.json", "frozen")
    assert memorisation_problems(frozen)


# -- double descent ---------------------------------------------------------------------------------

def double_descent_problems(data):
    """A test-error peak within 1.5× of N = n, twice the best error on either side,
    interpolation (train error ≈ 0) past N = 1.2·n, and a second descent that ends below the
    classical optimum (the best error with N < n)."""
    n = data["params"]["n"]
    N, test = np.array(data["N"]), np.array(data["test_mse"]["median"])
    train = np.array(data["train_mse_median"])
    peak = int(np.argmax(test))
    problems = []
    if not n / 1.5 <= N[peak] <= 1.5 * n:
        problems.append(f"the peak is at N = {N[peak]}, not near n = {n}")
    if not test[peak] > 2 * test[N < n / 2].min():
        problems.append("no peak above the under-parameterised best")
    if not test[peak] > 2 * test[-1]:
        problems.append("no descent after the peak")
    if not test[-1] < test[N < n].min():
        problems.append("the second descent stays above the classical optimum")
    if not np.all(train[N >= 1.2 * n] < 1e-10):
        problems.append("does not interpolate past N = n")
    return problems


def test_double_descent_in_the_deck(deck_states):
    data = deck_json(deck_states, "double-descent", "double-descent.json")
    assert double_descent_problems(data) == []


def test_double_descent_smoke_run(smoke):
    data, _ = smoke("double_descent", "double-descent.json")
    assert double_descent_problems(data) == []
    # Broken: ridge-regularised read-outs (Nakkiran et al. 2020: optimal regularisation removes
    # the peak) recomputed here on the same kind of data; the check must see no double descent.
    rng = np.random.default_rng(0)
    d, n = data["params"]["d"], data["params"]["n"]
    w = rng.standard_normal(d) / np.sqrt(d)
    X, Xt = rng.standard_normal((n, d)), rng.standard_normal((1000, d))
    y, yt = np.tanh(X @ w) + 0.1 * rng.standard_normal(n), np.tanh(Xt @ w)
    ridge = []
    for N in data["N"]:
        V = np.random.default_rng(N).standard_normal((d, N)) / np.sqrt(d)
        P, Pt = np.maximum(X @ V, 0), np.maximum(Xt @ V, 0)
        alpha = np.linalg.solve(P @ P.T + 1.0 * np.eye(n), y)          # ridge, in its dual form
        ridge.append(np.mean((Pt @ (P.T @ alpha) - yt) ** 2))
    broken = {**data, "test_mse": {"median": ridge}}
    assert double_descent_problems(broken)
    # A second descent that stops above the classical optimum is reported too.
    short = {**data, "test_mse": {"median": list(data["test_mse"]["median"][:-1])
                                  + [2 * min(data["test_mse"]["median"])]}}
    assert double_descent_problems(short)


# -- emergence ---------------------------------------------------------------------------------------

def emergence_problems(data, min_seeds=5, rise=0.1, near_zero=0.05, final=0.4):
    """Over the smaller half of the sizes, exact match stays near zero (≤ near_zero) while
    per-digit accuracy has already risen by ≥ rise; exact match then reaches ≥ final at the
    largest size; the per-digit curve is smoother (its largest jump between two sizes,
    relative to its range, is smaller); ≥ min_seeds seeds."""
    models = data["models"]
    problems = []
    if data["params"]["seeds"] < min_seeds or any(len(m["seeds"]) < min_seeds for m in models):
        problems.append(f"fewer than {min_seeds} seeds")
    half = models[:len(models) // 2]
    if max(m["exact_match"] for m in half) > near_zero:
        problems.append("exact match is not near zero over the smaller half of the sizes")
    risen = half[-1]["per_digit_acc"] - half[0]["per_digit_acc"]
    if risen < rise:
        problems.append(f"per-digit accuracy rises by {risen:.3f} < {rise} over the smaller half")
    if models[-1]["exact_match"] < final:
        problems.append(f"exact match reaches only {models[-1]['exact_match']} at the largest size")

    def sharpness(key):
        v = np.array([m[key] for m in models])
        span = v.max() - v.min()
        return np.abs(np.diff(v)).max() / span if span > 0 else 0.0

    if not sharpness("per_digit_acc") < sharpness("exact_match"):
        problems.append("per-digit accuracy is not smoother than exact match")
    return problems


def learning_problems(data, floor=0.25):
    """Smoke size: the largest model's per-digit accuracy is above what the digits' marginal
    frequencies give ((3·0.1 + 0.5)/4 = 0.2 with 3 digits: the carry digit is 0 or 1)."""
    acc = data["models"][-1]["per_digit_acc"]
    return [] if acc > floor else [f"per-digit accuracy {acc:.3f} at the marginals' level at the largest size"]


def test_emergence_in_the_deck(deck_states):
    data = deck_json(deck_states, "emergence-addition", "emergence-addition.json")
    assert data["sabotage"] is None
    assert emergence_problems(data) == []
    for m in data["models"]:                                    # the band spans the seeds
        assert m["per_digit_range"][0] <= m["per_digit_acc"] <= m["per_digit_range"][1]


def test_emergence_smoke_run_learns(smoke):
    data, _ = smoke("emergence_addition", "emergence-addition.json")
    assert learning_problems(data) == []


@pytest.mark.parametrize("sabotage", ["frozen", "shuffled"])
def test_emergence_check_catches_a_broken_run(smoke, sabotage):
    data, _ = smoke("emergence_addition", "emergence-addition.json", sabotage)
    assert learning_problems(data)


def test_emergence_is_deterministic(smoke, tmp_path):
    data, _ = smoke("emergence_addition", "emergence-addition.json")
    run_smoke("emergence_addition", tmp_path)
    again = json.loads((tmp_path / "emergence-addition.json").read_text(encoding="utf-8"))
    assert again == data


# -- in-context learning ---------------------------------------------------------------------------

def icl_problems(data, gain=0.05):
    """With examples in the prompt the largest model's answer is right more often than with
    none, and a random suffix cannot be guessed without an example."""
    acc = data["accuracy_by_shots"]
    problems = []
    if not np.mean(acc[1:]) > acc[0] + gain:
        problems.append(f"examples do not help: {acc}")
    if not data["suffix_accuracy_by_shots"][0] < 0.15:
        problems.append("the suffix is guessed without an example")
    return problems


def icl_scale_problems(data, gain=0.1, min_sizes=3):
    """GPT-3's claim in small: with examples, the largest model is right more often than the
    smallest; ≥ min_sizes sizes."""
    sizes = data["sizes"]
    problems = [] if len(sizes) >= min_sizes else [f"{len(sizes)} sizes (< {min_sizes})"]
    small, large = (np.mean(s["answer_by_shots"][1:]) for s in (sizes[0], sizes[-1]))
    if not large > small + gain:
        problems.append(f"in-context accuracy does not grow with size: {small:.2f} → {large:.2f}")
    return problems


def test_icl_in_the_deck(deck_states):
    data = deck_json(deck_states, "icl", "icl.json")
    assert data["sabotage"] is None
    assert icl_problems(data, gain=0.3) == []
    assert icl_scale_problems(data) == []


def test_icl_smoke_run(smoke):
    data, _ = smoke("icl", "icl.json")
    assert icl_problems(data) == []


@pytest.mark.parametrize("sabotage", ["frozen", "shuffled"])
def test_icl_check_catches_a_broken_run(smoke, sabotage):
    data, _ = smoke("icl", "icl.json", sabotage)
    assert icl_problems(data)


def test_sabotage_without_targets_is_refused(tmp_path):
    """A figure with no `shuffled` variant says so instead of running unbroken under that name."""
    env = {k: v for k, v in os.environ.items() if k != "CES_RUN"}
    env.update(CES_SABOTAGE="shuffled", PYTHONPATH=str(FIGURES))
    proc = subprocess.run([sys.executable, "-c", "import torch; from _sabotage import sabotage;"
                           "sabotage(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1))"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "no such variant" in proc.stderr
