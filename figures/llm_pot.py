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

The card (pot.svg) sits under the program on the slide, in a 55 % column: drawn 600×170 px.
What is published is the value of `ans` (builder.sandbox sends its float and exact fraction on
a channel of its own), never what the program printed, and only when the program ran to its
end (the sandbox's exit status, `exit` and `why` in pot.json): after an error, a timeout or a
kill, the card says how the program ended and shows no value.

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
    "params": {"timeout_s": 30, "memory_mb": 1024},
}

import re
from fractions import Fraction

import sympy

from builder.llm import ask
from builder.sandbox import SandboxError, run_python
from builder.script import setup
from _llm import extract_code
from _style import canvas, french_number

run = setup(FIGURE)
p = run.params


def clock(hours: Fraction | float) -> str:
    """Hours after midnight -> 'HH:MM:SS' (rounded to the second)."""
    s = round(float(hours) * 3600)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


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

# -- run the answer's program in the sandbox: only the value of `ans` comes back --------------
prelude = ""
if re.search(r"\bSymbol\s*\(", program) and not re.search(r"^\s*(from\s+sympy\s+import|import\s+sympy)",
                                                         program, re.M):
    prelude = "from sympy import Symbol"
result = {"ran": False}
if program:
    try:
        execution = run_python((prelude + "\n" if prelude else "") + program, timeout=p["timeout_s"],
                         memory_mb=p["memory_mb"], preload=("sympy",), value="ans")
    except SandboxError as exc:   # no sandbox here, and no opt-in: say so in one line
        raise SystemExit(f"llm-pot: {exc.format_message()}") from None
    # The value is the program's only when the program ran to its end (the launcher's exit
    # status, which the program cannot forge): after an error, a timeout or a kill, whatever
    # came on the value channel was sent by something else than the end of the program.
    sent = execution.value if execution.ok and execution.value else {"error": "no value"}
    result = {"ran": True, "exit": execution.reason, "why": execution.summary()[:200],
              "sandbox": execution.isolation, **sent}

value = result.get("float")
verdict = reading = None
if value is not None:
    exact = Fraction(result["fraction"]) if result.get("fraction") else Fraction(value).limit_denominator(1000)
    result["fraction"] = str(exact) if abs(float(exact) - value) <= 1e-9 * max(1.0, abs(value)) else None
    # Read ans the PoT way, as hours after the first departure (6:00); also accept it as a
    # clock time in hours, or as hours after 7:30.
    v = Fraction(value).limit_denominator(10**6)
    readings = {"heures après 6 h": v, "heure de la journée": v - 6, "heures après 7 h 30": v + Fraction(3, 2)}
    reading = next((k for k, r in readings.items() if abs(float(r - correct)) < 1e-3), None)
    verdict = reading is not None
    result["meeting_if_hours_after_6"] = clock(6 + value) if 0 <= value < 18 else None

explanation = None
if value is not None and abs(value - float(naive)) < 1e-9:
    explanation = ("D / (v1 + v2) : le temps de rencontre si les deux trains partaient en même temps ; "
                   "le programme oublie que le train 1 roule seul de 6 h à 7 h 30.")

run.save_json("pot.json", {
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

# -- the card, 600×170 px under the program --------------------------------------------------
ENDED = {"error": "le programme a échoué", "timeout": "délai dépassé", "cpu": "temps de calcul dépassé",
         "memory": "mémoire épuisée", "output": "sortie trop grande", "killed": "programme tué"}


def hour_min(hours) -> str:
    """Hours after midnight -> '8 h 56' (French clock time, to the minute)."""
    hh, mm, _ = clock(hours).split(":")
    return f"{int(hh)}\u00a0h\u00a0{mm}"


if value is not None:
    ran = f"ans = {french_number(value, 4)} h" + (f" = {result['fraction']} h" if result.get("fraction") else "")
    if result.get("meeting_if_hours_after_6"):
        ran += f" → {hour_min(6 + value)}"
elif result["ran"] and result["exit"] != "ok":
    ran = f"ans\u202f: aucune valeur ({ENDED[result['exit']]})"
elif result["ran"]:
    ran = f"ans\u202f: {result.get('error') or result.get('type')}"
else:
    ran = "pas de programme à exécuter"
lines = [("Exécuté dans un bac à sable\u202f:", "0.25", "normal"),
         (ran, "#C62828" if not verdict else "#1A7F37", "bold"),
         (f"Bonne réponse\u202f: {correct} h ≈ {french_number(float(correct), 2)} h → {hour_min(6 + correct)}",
          "#1A7F37", "bold")]
if explanation:
    lines.append(("Le programme oublie l’avance d’1 h 30 du train 1.", "0.25", "normal"))
fig, ax = canvas(600, 170)
ax.set_axis_off()
for i, (text, color, weight) in enumerate(lines):
    ax.text(0.0, 1 - (i + 0.5) / len(lines), text, transform=ax.transAxes, va="center", ha="left",
            fontsize=15, color=color, fontweight=weight)
run.savefig(fig, "pot.svg")
