"""« Les LLM codent pour raisonner » — Program of Thoughts: the LLM's program, executed.

Program of Thoughts (Chen et al. 2022, docs/sources.md A8) has the model write Python whose variable
`ans` holds the answer; an interpreter computes it. builder.llm.ask("pot") gives the program (a
pinned answer of the configured model, or the talk's program as a labelled transcript); it
runs in builder.sandbox, never in this process. The talk's program uses sympy's Symbol without
importing it, so `from sympy import Symbol` is prepended when needed (and recorded).

Its result is set beside the right answer, solved here with sympy: train 1 leaves at 6:00 at
D/5 per hour, train 2 at 7:30 at D/3.5, so t/5 = 1 − (t − 1.5)/3.5 hours after 6:00, i.e.
t = 50/17 h, at 08:56:28. The talk's program gives D/(D/5 + D/3.5) = 35/17 h: it forgets the
1 h 30 head start of train 1.

Run alone: python figures/llm_pot.py --profile quick   (writes into _scratch/llm-pot/)
"""

FIGURE = {
    "name": "llm-pot",
    "caption": "Program of Thoughts : le programme écrit par le LLM, exécuté, comparé à la bonne réponse",
    "alt": "Le programme Python de la réponse, le résultat de son exécution (35/17 h, environ 2,06 h, "
           "pour le programme de l'exposé) et la bonne réponse : 50/17 h après 6 h, soit 8 h 56 min 28 s.",
    "outputs": ["pot.json", "pot.svg"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "profiles": {
        "smoke": {"timeout_s": 30, "memory_mb": 1024},
        "quick": {"timeout_s": 30, "memory_mb": 1024},
        "full": {"timeout_s": 30, "memory_mb": 1024},
    },
}

import json
import re
import secrets
from fractions import Fraction

import sympy

from builder.llm import ask
from builder.script import setup
from _llm import as_fraction, clock, extract_code, fr, svg_card

fig = setup(FIGURE)
p = fig.params

answer = ask("pot")
question = answer.messages[-1]["content"] if answer.messages else ""
program, how, _ = extract_code(answer.text or "", ("python", "py", "python3"))

# -- the right answer, solved symbolically -------------------------------------------------
t = sympy.Symbol("t", positive=True)
dep1, arr1, dep2, arr2 = 6, 11, sympy.Rational(15, 2), 11           # hours after midnight
# Fraction of the distance A→B covered: train 1 t/(arr1−dep1); train 2 from B: (t−1.5)/(arr2−dep2).
(t_meet,) = sympy.solve(sympy.Eq(t / (arr1 - dep1), 1 - (t - (dep2 - dep1)) / (arr2 - dep2)), t)
correct = Fraction(int(t_meet.p), int(t_meet.q))                    # hours after 6:00
where = Fraction(correct) / (arr1 - dep1)                           # of the distance, from A
naive = 1 / (Fraction(1, arr1 - dep1) + 1 / Fraction(arr2 - dep2))  # D/(D/5 + D/3.5), hours

# -- run the answer's program in the sandbox -----------------------------------------------
prelude = ""
if re.search(r"\bSymbol\s*\(", program) and not re.search(r"^\s*(from\s+sympy\s+import|import\s+sympy)",
                                                         program, re.M):
    prelude = "from sympy import Symbol"
nonce = secrets.token_hex(8)  # the program cannot forge the result line
epilogue = f"""
import json as _ces_json
try:
    _ces_value = ans
except NameError:
    print({nonce!r} + _ces_json.dumps({{"error": "the program defines no variable ans"}}))
else:
    try:
        _ces_float = float(_ces_value)
    except Exception:
        _ces_float = None
    print({nonce!r} + _ces_json.dumps({{"repr": str(_ces_value), "float": _ces_float}}))
"""
result = {"ran": False}
if program:
    from builder.sandbox import run_python

    run = run_python((prelude + "\n" if prelude else "") + program + "\n" + epilogue,
                     timeout=p["timeout_s"], memory_mb=p["memory_mb"], preload=("sympy",))
    line = next((l for l in run.stdout.splitlines() if l.startswith(nonce)), None)
    out = json.loads(line[len(nonce):]) if line else {"error": run.summary()}
    result = {"ran": True, "exit": run.reason, **out}
    if not run.ok:
        result["stderr_tail"] = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
    stdout = "\n".join(l for l in run.stdout.splitlines() if not l.startswith(nonce)).strip()
    if stdout:
        result["printed"] = stdout[-2000:]

value = result.get("float")
verdict, reading = None, None
if value is not None:
    frac = as_fraction(value)
    result["fraction"] = str(frac) if frac is not None else None
    # Read ans the PoT way, as hours after the first departure (6:00); also accept it as a
    # clock time in hours, or as hours after 7:30.
    readings = {"heures après 6 h": Fraction(value).limit_denominator(10**6),
                "heure de la journée": Fraction(value).limit_denominator(10**6) - 6,
                "heures après 7 h 30": Fraction(value).limit_denominator(10**6) + Fraction(3, 2)}
    reading = next((k for k, v in readings.items() if abs(float(v - correct)) < 1e-3), None)
    verdict = reading is not None
    result["meeting_if_hours_after_6"] = clock(6 + value) if 0 <= value < 18 else None

explanation = None
if value is not None and abs(value - float(naive)) < 1e-9:
    explanation = ("D / (v1 + v2) : le temps de rencontre si les deux trains partaient en même temps ; "
                   "le programme oublie que le train 1 roule seul de 6 h à 7 h 30.")

fig.save_json("pot.json", {
    "question": question,
    "answer": answer.provenance(),
    "program": program,
    "code_extraction": how,
    "prelude": prelude or None,
    "result": result,
    "result_reading": reading,
    "correct": {"hours_after_6": str(correct), "hours_after_6_float": float(correct),
                "meeting_time": clock(6 + correct), "fraction_of_distance_from_A": str(where)},
    "naive_D_over_sum_of_speeds": {"hours": str(naive), "float": float(naive)},
    "is_correct": verdict,
    "explanation": explanation,
})

# -- the card -------------------------------------------------------------------------------
lines_result = []
if value is not None:
    shown = f"ans = {fr(value)} h" + (f" (= {result['fraction']} h)" if result.get("fraction") else "")
    if result.get("meeting_if_hours_after_6"):
        shown += f" → {result['meeting_if_hours_after_6']} en partant de 6 h"
    lines_result.append(shown)
elif result.get("ran"):
    lines_result.append(f"ans = {result.get('repr') or result.get('error')}")
else:
    lines_result.append("pas de programme à exécuter")
sections = [("note", [answer.label]), ("code", ([prelude + "   # ajouté pour l'exécution"] if prelude else [])
                                        + (program.splitlines() or ["(aucun code)"])),
            ("text", ["Exécution du programme (bac à sable) :"]),
            ("good" if verdict else "bad", lines_result),
            ("good", [f"Bonne réponse : {correct} h ≈ {fr(float(correct), 3)} h après 6 h → {clock(6 + correct)}"])]
if explanation:
    sections.append(("note", [explanation]))
fig.out("pot.svg").write_text(svg_card("Program of Thoughts : le programme, exécuté", sections),
                              encoding="utf-8")
