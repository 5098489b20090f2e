"""The talk's computed figures: each script runs in its smoke profile, and the numbers in its JSON
are checked against values computed here independently (another formula, another algorithm, or
by hand with Fractions), and against the published value where docs/sources.md gives one.

All scripts run once per session, two at a time (the machine has 2 cores).
"""

import ast
import itertools
import json
import math
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "figures"
SCRIPTS = ["param_counts", "transformer", "ecosystem", "kaplan", "chinchilla", "hestness",
           "emergence_scales", "emergence_metric", "quanta_sum", "game24", "pot_trains",
           "developer", "exams", "sinusoid_canvas", "henighan", "hub_models", "model_card", "derivable"]

pytestmark = pytest.mark.slow

sys.path.insert(0, str(FIGURES))
import _game24  # noqa: E402  (the shared solver is also tested directly)
import _style  # noqa: E402  (the layout guard is tested on real figures, then on mutated ones)


def declaration(script):
    """The FIGURE literal, read the way ces reads it (without running the script)."""
    tree = ast.parse((FIGURES / f"{script}.py").read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "FIGURE")
    return ast.literal_eval(node.value)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run every script once in its smoke profile; name -> (CompletedProcess, outdir, seconds)."""
    env = {k: v for k, v in os.environ.items() if k != "CES_RUN"}   # run alone, not under ces

    def run(script):
        out = tmp_path_factory.mktemp(script)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(FIGURES / f"{script}.py"), "--profile", "smoke",
                               "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        return script, (proc, out, time.perf_counter() - start)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, SCRIPTS))


def output(runs, script, filename):
    proc, out, _ = runs[script]
    assert proc.returncode == 0, f"{script}.py failed:\n{proc.stderr[-3000:]}"
    return json.loads((out / filename).read_text(encoding="utf-8"))


# -- every script: declared outputs exist, nothing else; SVGs are XML; JSON parses ---------------
@pytest.mark.parametrize("script", SCRIPTS)
def test_outputs(runs, script):
    proc, out, seconds = runs[script]
    assert proc.returncode == 0, f"{script}.py failed:\n{proc.stderr[-3000:]}"
    decl = declaration(script)
    assert set(decl.get("profiles") or {}) <= {"smoke", "quick", "full"}
    assert sorted(p.name for p in out.iterdir()) == sorted(decl["outputs"])
    for name in decl["outputs"]:
        if name.endswith(".svg"):
            assert ET.parse(out / name).getroot().tag.endswith("svg")
        elif name.endswith(".json"):
            json.loads((out / name).read_text(encoding="utf-8"))


# -- 1, 2. parameter counts ----------------------------------------------------------------------
FACTS_RECOUNT = {  # docs/sources.md §B, recount column, in billions, as printed
    "GPT-3": "174.6", "OPT-175B": "174.6", "PaLM-540B": "540.356", "Llama-2-7B": "6.738",
    "Llama-2-13B": "13.016", "Llama-2-70B": "68.977", "Vicuna-7B": "6.738", "Mistral-7B": "7.242",
    "Falcon-180B": "178.6",
}


def test_param_counts(runs):
    data = output(runs, "param_counts", "param-counts.json")
    recount = {m["name"]: m["recount"] for m in data["models"]}
    assert set(recount) == set(FACTS_RECOUNT)
    for name, printed in FACTS_RECOUNT.items():
        decimals = len(printed.split(".")[1])
        assert round(recount[name] / 1e9, decimals) == float(printed), name

    # GPT-3 with the classic GPT-2 bookkeeping: 12·d² + 13·d per layer (weights and biases of
    # Q, K, V, output, two MLP matrices, two LayerNorms), tied embeddings, learned positions.
    L, d, V, ctx = 96, 12288, 50257, 2048
    assert recount["GPT-3"] == L * (12 * d * d + 13 * d) + V * d + ctx * d + 2 * d
    # Llama-2-70B part by part: GQA shrinks K and V to 8 heads of 128; SwiGLU has 3 matrices;
    # two RMSNorms per layer plus a final one; untied input and output embeddings.
    L, d, ff, V = 80, 8192, 28672, 32000
    q, kv = 64 * 128, 8 * 128
    per_layer = (d * q + d * kv + d * kv + q * d) + 3 * d * ff + 2 * d
    assert recount["Llama-2-70B"] == L * per_layer + d + 2 * V * d == 68_976_648_192


def test_param_share(runs):
    data = output(runs, "transformer", "transformer.json")
    mlp_70b = 80 * 3 * 8192 * 28672 / 68_976_648_192
    assert math.isclose(data["shares"]["Llama-2-70B"]["mlp"], mlp_70b)
    # MQA: PaLM's attention is a small share next to a standard multi-head model's
    assert data["shares"]["PaLM-540B"]["attention"] < 0.15 < data["shares"]["GPT-3"]["attention"]


# -- 3. ecosystem ---------------------------------------------------------------------------------
def test_ecosystem(runs):
    data = output(runs, "ecosystem", "ecosystem.json")
    labels = {n["id"]: n["label"] for n in data["nodes"]}
    edges = {(labels[e["from"]], labels[e["to"]]): e for e in data["edges"]}
    for pair in [("LLaMA", "Vicuna"), ("LLaMA", "Alpaca"), ("Llama 2", "Code Llama"),
                 ("Llama 2", "Vicuna v1.5"), ("RefinedWeb", "Falcon"), ("GPT-4", "Bing Chat"),
                 ("ShareGPT", "Vicuna"), ("Common Crawl", "RefinedWeb")]:
        assert pair in edges, pair
    for e in data["edges"]:   # only verified links are drawn, each with its source
        assert e["source"].startswith("https://") and e["status"] == "V" and e["note"]


# -- 4. Kaplan -----------------------------------------------------------------------------------
def test_kaplan(runs):
    """Each plotted law at one point of its range, solved by hand from the paper's constants
    (eq. 1.1-1.3): L(N = 1e9) = 8.8e4^0.076 = e^(0.076 · 11.385) = e^0.8653 = 2.376;
    L(D = 1e10) = 5.4e3^0.095 = e^(0.095 · 8.594) = 2.262; L(C = 1 PF-day) = 3.1e8^0.05 =
    e^(0.05 · 19.552) = 2.658. And the slope of the plotted curve (a regression, not the
    formula) is the paper's exponent."""
    laws = output(runs, "kaplan", "kaplan.json")["laws"]
    for key, at, loss_there, alpha in (("N", 1e9, 2.376, 0.076), ("D", 1e10, 2.262, 0.095),
                                       ("C", 1.0, 2.658, 0.050)):
        x, loss = np.array(laws[key]["x"]), np.array(laws[key]["loss"])
        assert math.isclose(np.exp(np.interp(np.log(at), np.log(x), np.log(loss))), loss_there,
                            rel_tol=2e-3), key
        slope = np.polyfit(np.log(x), np.log(loss), 1)[0]
        assert abs(slope + alpha) < 1e-9, key


# -- 5. Chinchilla -------------------------------------------------------------------------------
def test_chinchilla(runs):
    data = output(runs, "chinchilla", "chinchilla.json")
    fits = data["fits"]

    def n_opt_numeric(f, C):
        """argmin over N of L(N, C/6N), by golden-section search on log N (no closed form)."""
        loss = lambda lg: f["A"] / math.exp(lg * f["alpha"]) + f["B"] / (C / 6 / math.exp(lg)) ** f["beta"]
        lo, hi = math.log(1e6), math.log(1e14)
        g = (math.sqrt(5) - 1) / 2
        for _ in range(200):
            a, b = hi - g * (hi - lo), lo + g * (hi - lo)
            lo, hi = (lo, b) if loss(a) < loss(b) else (a, hi)
        return math.exp((lo + hi) / 2)

    for key, billions in (("hoffmann", 32), ("epoch", 72)):
        n = n_opt_numeric(fits[key]["fit"], 5.76e23)
        assert math.isclose(fits[key]["at_5.76e23"]["N_opt"], n, rel_tol=1e-6)
        assert round(n / 1e9) == billions                                  # docs/sources.md A17
    losses = fits["hoffmann"]["model_losses"]
    assert [round(losses[m], 3) for m in ("Chinchilla", "Gopher", "GPT-3")] == [1.937, 1.993, 2.002]
    assert round(fits["hoffmann"]["D_over_N_at_1e25"]) == 122 and round(fits["epoch"]["D_over_N_at_1e25"]) == 17
    for key in fits:   # each iso-FLOP curve bottoms out at its closed-form optimum
        for c in fits[key]["iso_flop"]:
            assert min(c["loss"]) >= c["loss_opt"] - 1e-12
    # The slide's contrast: published allocation exponents, N_opt ∝ C^a, D_opt ∝ C^b.
    alloc = data["allocation"]
    assert (alloc["exponents"]["kaplan"]["N"], alloc["exponents"]["kaplan"]["D"]) == (0.73, 0.27)  # Kaplan §6
    assert (alloc["exponents"]["hoffmann"]["N"], alloc["exponents"]["hoffmann"]["D"]) == (0.5, 0.5)  # Table 2
    for who in ("kaplan", "hoffmann"):   # C = 6·N·D: N and D grow together exactly as fast as C
        f = alloc["factors"][who]
        assert np.allclose(np.array(f["N"]) * np.array(f["D"]), alloc["growth"], rtol=1e-12)
    # ×1000 compute: Kaplan puts ×155 into parameters and ×6.5 into data; Hoffmann ×31.6 into each
    at = alloc["at_1000x_compute"]
    assert round(at["kaplan"]["N"]) == 155 and round(at["kaplan"]["D"], 1) == 6.5
    assert round(at["hoffmann"]["N"], 1) == round(at["hoffmann"]["D"], 1) == 31.6
    # Hoffmann's eq. 10 fit itself implies a = β/(α+β) ≈ 0.45, between approaches 1-2 (0.50) and 3 (0.46)
    assert abs(fits["hoffmann"]["exponent_N_opt"] - 0.4516) < 1e-3


# -- 6. Hestness ---------------------------------------------------------------------------------
def test_hestness(runs):
    data = output(runs, "hestness", "hestness.json")
    p = data["params"]
    a, E = p["a"], p["E"]
    assert abs(data["fit"]["beta"] + a / (1 + a)) < 0.02      # the exponent a/(1+a) is recovered
    assert abs(data["fit"]["gamma"] - E) < 0.02               # and so is the floor
    # One point of the curve, summed here term by term.
    i = len(data["m"]) // 2
    m = data["m"][i]
    K = p["K"]
    k0 = p["k0"]
    z = math.fsum((k + k0) ** -(1 + a) for k in range(1, K + 1))
    excess = math.log(p["V"]) * math.fsum((k + k0) ** -(1 + a) / z * (1 - (k + k0) ** -(1 + a) / z) ** m
                                          for k in range(1, K + 1))
    assert math.isclose(data["loss"][i], E + excess, rel_tol=1e-9)
    # three regions: near log V + E at the start, near E at the end; the axis starts at one example
    assert data["loss"][0] > 0.95 * (math.log(p["V"]) + E) and data["loss"][-1] < 1.01 * E
    assert data["m"][0] == 1 and data["regions"]["small_data_until"] > 1


# -- 7, 8, 9. emergence ----------------------------------------------------------------------------
TRAINING_TOKENS = {"GPT-3": 300e9, "Gopher": 300e9, "PaLM": 780e9}   # Brown 2020, Rae 2021, Chowdhery 2022


def test_emergence_scales(runs):
    """Wei et al.'s FLOPs cells against another formula: C ≈ 6·N·D with each model family's
    published training tokens (only the families whose every size saw the same tokens)."""
    data = output(runs, "emergence_scales", "emergence-scales.json")
    rows = data["rows"]
    assert len(rows) == 21 and all(r["source"] for r in rows)
    checked = [r for r in rows if r.get("model") in TRAINING_TOKENS]
    assert len(checked) >= 6
    for r in checked:
        assert abs(r["flops"] / (6 * r["params"] * TRAINING_TOKENS[r["model"]]) - 1) < 0.05, r["task"]


def test_emergence_metric(runs):
    """Exact match by simulation (k independent tokens drawn with the plotted per-token
    accuracy), not by the script's power: the curves agree, and exact match lags."""
    data = output(runs, "emergence_metric", "emergence-metric.json")
    k = data["params"]["k"]
    token, exact = np.array(data["token_accuracy"]), np.array(data["exact_match"])
    rng = np.random.default_rng(0)
    draws = 20_000
    simulated = (rng.random((len(token), draws, k)) < token[:, None, None]).all(2).mean(1)
    assert np.abs(simulated - exact).max() < 4 * math.sqrt(0.25 / draws)
    # the exact match lags: it needs many times the size to reach what the tokens reach
    assert data["N_half"]["exact"] > 10 * data["N_half"]["token"]


def test_quanta_sum(runs):
    data = output(runs, "quanta_sum", "quanta-sum.json")
    p = data["params"]
    assert abs(data["fit"]["slope"] + p["a"]) < 0.05           # the sum is a power law of exponent a
    logistic = 2 * math.log(9) * p["width"]                    # 90 % -> 10 % of a logistic, in decades
    for width in data["jump_decades"].values():
        assert abs(width - logistic) < 0.02                    # each skill jumps in a third of a decade
    # the JSON is recomputed here in plain Python (fsum over the skills): same numbers, same bits
    zeta = math.fsum(k ** -(1 + p["a"]) for k in range(1, 2_000_000)) + (2_000_000 ** -p["a"]) / p["a"]
    freq = [k ** -(1 + p["a"]) / zeta for k in range(1, p["K"] + 1)]
    assert abs(data["unmodelled_skills_mass"] - (1 - math.fsum(freq))) < 1e-6
    assert declaration("quanta_sum")["tolerance"] <= 1e-12   # ces verify: at most the last bits may differ


# -- 10. Game of 24 --------------------------------------------------------------------------------
BRACKETINGS = [  # the 5 shapes of a binary tree over a, b, c, d (in this order)
    lambda a, b, c, d, o: o[2](o[1](o[0](a, b), c), d),
    lambda a, b, c, d, o: o[2](o[0](a, o[1](b, c)), d),
    lambda a, b, c, d, o: o[2](o[0](a, b), o[1](c, d)),
    lambda a, b, c, d, o: o[0](a, o[2](o[1](b, c), d)),
    lambda a, b, c, d, o: o[0](a, o[1](b, o[2](c, d))),
]


def brute_force(numbers, rules):
    """Any permutation, any bracketing, any 3 operators, on Fractions; rules checked at each node."""
    class Invalid(Exception):
        pass

    def op(f):
        def apply(x, y):
            if f is Fraction.__truediv__ and y == 0:
                raise Invalid
            r = f(x, y)
            if rules and (r < 0 or r.denominator != 1):
                raise Invalid
            return r
        return apply

    ops = [op(f) for f in (Fraction.__add__, Fraction.__sub__, Fraction.__mul__, Fraction.__truediv__)]
    for perm in set(itertools.permutations(numbers)):
        values = [Fraction(x) for x in perm]
        for o in itertools.product(ops, repeat=3):
            for shape in BRACKETINGS:
                try:
                    if shape(*values, o) == 24:
                        return True
                except Invalid:
                    pass
    return False


def count_numpy(rules):
    """Solvable deals of 1..13, all at once in floating point over perms × bracketings × ops.

    Exact enough: a value of 4 numbers ≤ 13 and 3 operations that is not 24 is a fraction with a
    denominator below 13^4, so it is at least 1/28561 away from 24, far above float error.
    """
    deals = np.array(list(itertools.combinations_with_replacement(range(1, 14), 4)), dtype=float)
    perms = np.array(list(itertools.permutations(range(4))))
    v = deals[:, perms]                                      # (1820, 24, 4)
    a, b, c, d = v[..., 0], v[..., 1], v[..., 2], v[..., 3]

    def apply(k, x, y, ok):
        if k == 3:
            ok = ok & (y != 0)
            y = np.where(y == 0, 1.0, y)
        r = x + y if k == 0 else x - y if k == 1 else x * y if k == 2 else x / y
        if rules:
            ok = ok & (r >= 0) & (np.abs(r - np.round(r)) < 1e-9)
        return r, ok

    solved = np.zeros(len(deals), dtype=bool)
    ones = np.ones(a.shape, dtype=bool)
    for k1, k2, k3 in itertools.product(range(4), repeat=3):
        trees = []
        x, ok = apply(k1, a, b, ones); x, ok = apply(k2, x, c, ok); trees.append(apply(k3, x, d, ok))
        y, ok = apply(k2, b, c, ones); x, ok = apply(k1, a, y, ok); trees.append(apply(k3, x, d, ok))
        x, ok1 = apply(k1, a, b, ones); y, ok2 = apply(k2, c, d, ones); trees.append(apply(k3, x, y, ok1 & ok2))
        y, ok = apply(k2, b, c, ones); y, ok = apply(k3, y, d, ok); trees.append(apply(k1, a, y, ok))
        y, ok = apply(k3, c, d, ones); y, ok = apply(k2, b, y, ok); trees.append(apply(k1, a, y, ok))
        for r, ok in trees:
            solved |= np.any(ok & (np.abs(r - 24) < 1e-6), axis=1)
    return {tuple(int(x) for x in deal) for deal, s in zip(deals, solved) if not s}


def test_game24_counts(runs):
    data = output(runs, "game24", "game24.json")["deals"]
    assert data["count"] == 1820
    for rules, key in ((False, "without_rules"), (True, "with_rules")):
        unsolvable = count_numpy(rules)
        assert {tuple(d) for d in data[f"unsolvable_{key}"]} == unsolvable
        assert data[f"solvable_{key}"] == 1820 - len(unsolvable)


def test_game24_solver_against_brute_force():
    deals = list(itertools.combinations_with_replacement(range(1, 14), 4))[::37]   # 50 deals
    deals += [(11, 7, 4, 1), (3, 3, 8, 8), (1, 5, 5, 5), (1, 1, 1, 1)]
    for deal in deals:
        for rules in (False, True):
            expected = brute_force(deal, rules)
            assert _game24.solvable(deal, rules, rules) == expected, (deal, rules)
            found = _game24.solutions(deal, rules, rules)
            assert bool(found) == expected, (deal, rules)
            for expression in found:
                assert _game24.evaluate(expression) == 24
                numbers = sorted(int(x) for x in expression.replace("(", " ").replace(")", " ").split()
                                 if x.isdigit())
                assert numbers == sorted(deal), expression
    # 8 / (3 − 8/3) needs a fraction; the prompt's rules forbid it
    assert _game24.solutions((3, 3, 8, 8), False, False) and not _game24.solutions((3, 3, 8, 8))


def test_game24_talk(runs):
    data = output(runs, "game24", "game24.json")
    assert _game24.evaluate("(7 * (4 + 1)) - 11") == 24 and data["answer"]["correct"]
    assert len(data["solutions"]["with_rules"]) == 1        # docs/sources.md A9: one family, up to commutation
    assert _game24.evaluate(data["solutions"]["with_rules"][0]) == 24


def test_check_trace_finds_the_six_errors():
    trace = (FIGURES / "data" / "aot_trace.txt").read_text(encoding="utf-8")
    errors = _game24.check_trace(trace)
    listed = ["11 - 4: (7, 3, 1)", "11 + 1: (29, 28)", "8 - 4: (7, 11)",      # docs/sources.md A9
              "(12, 11): 23, 7, 132, 3", "(7, 11): 18, 4, 77, 1.75", "(29, 28): 57, 1, 812, 1.03"]
    assert len(errors) == len(listed)
    for fragment in listed:
        assert sum(e["text"].endswith(fragment) for e in errors) == 1, fragment
    expected = {e["claimed"]: e["expected"] for e in errors}
    assert expected["(7, 3, 1)"] == "(7, 7, 1)" and expected["(29, 28)"] == "(28, 12)"
    assert expected["23, 7, 132, 3"] == "23, 1, 132, 1.09"
    # a new slip anywhere is caught too
    slipped = trace.replace("(17, 1): 18, 16, 17, 17", "(17, 1): 18, 15, 17, 17")
    assert len(_game24.check_trace(slipped)) == len(listed) + 1


def test_evaluate_is_safe_and_exact():
    assert _game24.evaluate("1.75") == Fraction(7, 4)
    assert _game24.evaluate("7 × 5 − 11") == 24
    assert _game24.evaluate("8 / (3 - 8 / 3)") == 24
    for bad in ("__import__('os').system('true')", "2 ** 10", "x + 1", "[1, 2]", "True + 1", "1 = 1"):
        with pytest.raises(ValueError):
            _game24.evaluate(bad)
    with pytest.raises(ZeroDivisionError):
        _game24.evaluate("1 / (2 - 2)")


# -- 11. Program of Thoughts -------------------------------------------------------------------------
def test_pot_trains(runs):
    data = output(runs, "pot_trains", "pot-trains.json")
    # By hand: t/5 = 1 − (t − 3/2)/(7/2)  ⇔  t (1/5 + 2/7) = 1 + 3/7  ⇔  t = (10/7)/(17/35) = 50/17
    t = (1 + Fraction(3, 7)) / (Fraction(1, 5) + Fraction(2, 7))
    assert t == Fraction(50, 17) and Fraction(data["correct"]["hours_after_6"]) == t
    seconds = round(t * 3600)
    assert data["correct"]["clock"] == f"{6 + seconds // 3600} h {seconds % 3600 // 60:02d} min {seconds % 60:02d} s"
    assert data["correct"]["clock"] == "8 h 56 min 28 s"
    assert Fraction(data["program_answer"]["exact"]) == 1 / (Fraction(1, 5) + Fraction(2, 7)) == Fraction(35, 17)
    assert math.isclose(data["fixed_program_answer"], 50 / 17)


# -- 12. developer (13, exams: sourced text, checked by test_outputs only) ---------------
def test_exams_read_the_report_table(runs):
    """Percentiles parsed from the GPT-4 report's Table 1 cells (arXiv 2303.08774, p. 5), against the
    cells read by hand: ranges, "~90th", "below 5th"."""
    data = output(runs, "exams", "exams.json")
    rows = {r["exam"]: r for r in data["rows"]}
    assert 8 <= len(rows) <= 12 and data["not_drawn"]["unverified"] == []
    bar = rows["Uniform Bar Exam (MBE+MEE+MPT)"]
    assert (bar["gpt4"]["low"], bar["gpt35"]["low"]) == (90, 10)              # "~90th" / "~10th"
    assert rows["AP Calculus BC"]["gpt4"] == {"cell": "4 (43rd - 59th)", "low": 43, "high": 59}
    assert rows["AP Calculus BC"]["gpt35"]["low"] == 0                          # "1 (0th - 7th)"
    assert rows["Codeforces Rating"]["gpt4"] == {"cell": "392 (below 5th)", "low": None, "high": 5}
    assert rows["Graduate Record Examination (GRE) Verbal"]["gpt4"]["low"] == 99


def test_developer(runs):
    """The bars are the secondary page's means; the paper's abstract gives only « 55.8 % faster »
    (docs/sources.md A10): the means must reproduce it, to its printed digit."""
    data = output(runs, "developer", "developer.json")
    minutes = data["minutes"]
    cut = 100 * (1 - minutes["with_copilot"] / minutes["without_copilot"])
    assert round(cut, 1) == 55.8
    assert minutes["status"].startswith("S")        # the means are labelled secondary


# -- 14. sinusoid ------------------------------------------------------------------------------------
def test_sinusoid_canvas(runs):
    data = output(runs, "sinusoid_canvas", "sinusoid-canvas.json")
    ys = [100 * math.sin(i) for i in range(300)]
    assert data["off_canvas"] == sum(y < 0 for y in ys) == 149                     # docs/sources.md A7
    jump = max(abs(b - a) for a, b in zip(ys, ys[1:]))
    assert round(data["max_abs_jump_px"], 2) == round(jump, 2) == 95.88
    assert jump <= 200 * math.sin(0.5)                                             # 2·A·sin(1/2) bound
    assert round(data["periods"], 1) == round(300 / (2 * math.pi), 1) == 47.7
    assert 0 <= data["fixed"]["y_min"] and data["fixed"]["y_max"] <= 150           # the fix stays on the canvas


# -- every figure: text ≥ 20 px, AA contrast, nothing on top of anything (issue 19) ---------------
MIN_TEXT_PX = 20.0


def svg_text_sizes(svg: str) -> list[float]:
    """Size in CSS px of every glyph of every text in a matplotlib SVG (svg.fonttype = path): a
    text is a <g id="text_N"> holding <g transform="translate(..) scale(s -s)">, whose glyphs are
    <use>, mathtext scripts with their own scale(k); 100 is matplotlib's text-path font size, and
    the SVG is in pt (1 pt = 96/72 px)."""
    import re

    sizes = []
    for group in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g"):
        m = re.search(r"scale\(([\d.]+) -([\d.]+)\)", group.get("transform", ""))
        if not m or not group.findall("{http://www.w3.org/2000/svg}use"):
            continue
        for use in group.findall("{http://www.w3.org/2000/svg}use"):
            k = re.search(r"scale\(([\d.]+)\)", use.get("transform", ""))
            sizes.append(float(m.group(1)) * (float(k.group(1)) if k else 1.0) * 100 * 96 / 72)
    return sizes


def svgs(runs):
    for script in SCRIPTS:
        proc, out, _ = runs[script]
        assert proc.returncode == 0, f"{script}.py failed:\n{proc.stderr[-3000:]}"
        for name in declaration(script)["outputs"]:
            if name.endswith(".svg"):
                yield script, name, (out / name).read_text(encoding="utf-8")


def test_svg_text_is_at_least_20_px(runs):
    for script, name, svg in svgs(runs):
        sizes = svg_text_sizes(svg)
        assert sizes, f"{name}: no text found (did the SVG format change?)"
        assert min(sizes) >= MIN_TEXT_PX - 0.05, f"{name}: a glyph of {min(sizes):.1f} px"
    # mutated: one text drawn at 14 pt (18.7 px), or a log tick's exponent at matplotlib's 70 %
    script, name, svg = next(svgs(runs))
    small = svg.replace("scale(0.16 -0.16)", "scale(0.14 -0.14)", 1)
    assert small != svg and min(svg_text_sizes(small)) < MIN_TEXT_PX
    _, _, log_axis = next(x for x in svgs(runs) if x[0] == "hestness")
    assert "scale(0.94)" in log_axis
    assert min(svg_text_sizes(log_axis.replace("scale(0.94)", "scale(0.7)"))) < MIN_TEXT_PX


def test_every_figure_calls_the_guard_before_saving():
    """assert_no_overlap(fig) right before each run.savefig(fig, '….svg'): a script whose figure
    has text on a line, too small or too pale fails, and so does its test run above."""
    for script in SCRIPTS:
        lines = (FIGURES / f"{script}.py").read_text(encoding="utf-8").splitlines()
        saves = [i for i, line in enumerate(lines) if "run.savefig(" in line and ".svg" in line]
        assert saves, script
        for i in saves:
            assert lines[i - 1].strip() == "assert_no_overlap(fig)", f"{script}.py line {i + 1}"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """The real matplotlib figures of two scripts, captured where they call the guard."""
    import runpy

    figs, real = {}, _style.assert_no_overlap
    for script in ("emergence_metric", "pot_trains"):
        out = tmp_path_factory.mktemp(script)
        argv, sys.argv = sys.argv, [str(FIGURES / f"{script}.py"), "--profile", "smoke", "--out", str(out)]
        _style.assert_no_overlap = lambda fig, script=script: figs.setdefault(script, fig)
        try:
            runpy.run_path(str(FIGURES / f"{script}.py"), run_name="__main__")
        finally:
            sys.argv, _style.assert_no_overlap = argv, real
    return figs


def test_layout_guard_passes_real_figures_and_catches_mutations(drawn):
    fig = drawn["emergence_metric"]
    ax = fig.axes[0]
    assert _style.layout_problems(fig) == []
    line = ax.lines[0]
    x, y = line.get_xdata(), line.get_ydata()
    mutations = {   # each: what it adds, what the guard must say
        "on a line": (lambda: ax.text(x[len(x) // 2], y[len(y) // 2], "sur la courbe", ha="center"), "crossed by"),
        "too small": (lambda: ax.text(0.5, 0.02, "petit", fontsize=14, transform=ax.transAxes), "px <"),
        "small exponent": (lambda: ax.text(0.5, 0.02, "$10^{3}$", fontsize=15, transform=ax.transAxes), "px <"),
        "pale": (lambda: ax.text(0.5, 0.02, "pâle", color=_style.PALETTE[1], transform=ax.transAxes), "contrast"),
        "text on text": (lambda: [ax.text(0.6, 0.3, "un", transform=ax.transAxes),
                                  ax.text(0.61, 0.3, "deux", transform=ax.transAxes)], "overlaps"),
        "legend on a line": (lambda: ax.legend([line], ["jeton"], loc="center"), "the legend"),
        "outside": (lambda: fig.text(0.9, 0.5, "hors du cadre, très loin"), "outside"),
        "missing glyph": (lambda: ax.text(0.5, 0.02, "$x$ α", transform=ax.transAxes), "glyph"),
    }
    for name, (mutate, said) in mutations.items():
        added = mutate()
        try:
            problems = _style.layout_problems(fig)
            assert any(said in p for p in problems), (name, problems)
        finally:
            for artist in (added if isinstance(added, list) else [added]):
                artist.remove()
    assert _style.layout_problems(fig) == []   # the mutations are gone: the figure passes again
    with pytest.raises(AssertionError, match="crossed by"):
        ax.text(x[len(x) // 2], y[len(y) // 2], "sur la courbe", ha="center")
        _style.assert_no_overlap(fig)


def test_layout_guard_sees_markers_and_opaque_boxes(drawn):
    fig = drawn["pot_trains"]
    ax = fig.axes[0]
    assert _style.layout_problems(fig) == []
    marker = next(l for l in ax.lines if l.get_marker() not in (None, "None", ""))
    mx, my = marker.get_xdata()[0], marker.get_ydata()[0]
    t = ax.text(mx, my, "·", ha="center", va="center")
    try:
        assert any("marker" in p or "crossed" in p for p in _style.layout_problems(fig))
    finally:
        t.remove()
    # an opaque box drawn above a line hides it (a node of a tree): not "on top" of it
    t = ax.text(mx, my, "boîte", ha="center", va="center", zorder=10, bbox=dict(facecolor="white", alpha=1))
    try:
        assert not any("boîte" in p and ("crossed" in p or "marker" in p) for p in _style.layout_problems(fig))
    finally:
        t.remove()


def test_text_colours_meet_wcag_aa():
    for colour in _style.TEXT:   # every text colour of the palette, on white
        assert _style.contrast(colour) >= 4.5
    assert round(_style.contrast("#767676"), 2) == 4.54     # WCAG's own example of the AA limit
    assert round(_style.contrast("black"), 1) == 21.0
    assert _style.contrast(_style.PALETTE[1]) < 3           # the Okabe–Ito orange itself is too pale for text


def test_figures_use_the_slides_font():
    from matplotlib import font_manager

    family = _style.plt.rcParams["font.family"][0]
    assert family == "Source Sans Pro"
    path = font_manager.findfont(family, fallback_to_default=False)
    assert Path(path).parent == FIGURES / "fonts" and (FIGURES / "fonts" / "OFL.txt").exists()
    # the very file Reveal's white theme ships (builder/assets/reveal.js-5.2.1.tgz)
    import hashlib
    import tarfile

    with tarfile.open(ROOT / "builder" / "assets" / "reveal.js-5.2.1.tgz") as tar:
        shipped = tar.extractfile("package/dist/theme/fonts/source-sans-pro/source-sans-pro-regular.ttf").read()
    assert hashlib.sha256(shipped).digest() == hashlib.sha256(
        (FIGURES / "fonts" / "source-sans-pro-regular.ttf").read_bytes()).digest()
