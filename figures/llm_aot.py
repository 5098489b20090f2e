"""« Algorithm of Thoughts » — an LLM's search for the Game of 24 with 11 7 4 1, checked.

Algorithm of Thoughts (Sel et al. 2023, docs/sources.md A9) shows the model examples of a search
(first steps, second steps, ... backtracking) in its prompt. builder.llm.ask("aot") gives the
search text: a pinned answer of the configured model, or the talk's trace as a labelled
transcript. Its final `answer: … = 24` is parsed and evaluated exactly (fractions) by the
Game-of-24 solver in figures/_game24.py, which also checks every arithmetic step of the
trace and lists all solutions. For the talk's trace the answer (7 * (4 + 1)) - 11 = 24 is
right, while six steps of the trace are miscomputed (docs/sources.md A9).

Run alone: python figures/llm_aot.py --profile quick   (writes into _scratch/llm-aot/)
"""

FIGURE = {
    "name": "llm-aot",
    "caption": "Algorithm of Thoughts : la recherche du LLM pour le jeu de 24 (11 7 4 1), vérifiée pas à pas",
    "alt": "La trace de recherche de la réponse, chaque calcul marqué juste ou faux par un solveur exact, "
           "et la réponse finale (7 × (4 + 1)) − 11 = 24, vérifiée.",
    "outputs": ["aot.json", "aot-trace.html"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"numbers": [11, 7, 4, 1], "target": 24},
}

import html
import re
from fractions import Fraction

from builder.llm import ask
from builder.script import setup
from _fonts import font_face_css
from _game24 import check_trace, evaluate, solutions, trace_steps

run = setup(FIGURE)


def jsonable(obj):
    """The solver's Fractions (in dicts and lists), as strings for the JSON."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return str(obj) if isinstance(obj, Fraction) else obj


p = run.params
numbers, target = list(p["numbers"]), p["target"]

answer = ask("aot")
text = answer.text or ""

# -- the final answer ----------------------------------------------------------------------
finals = re.findall(r"^\s*answer\s*:\s*(.+?)\s*=\s*(-?\d+(?:\.\d+)?)\s*\.?\s*$", text, re.M | re.I)
final = {"found": bool(finals)}
if finals:
    expression, claimed = finals[-1]
    used = sorted(Fraction(n) for n in re.findall(r"\d+(?:\.\d+)?", expression))
    final.update(expression=expression, claimed=claimed,
                 uses_given_numbers=used == sorted(Fraction(n) for n in numbers))
    try:
        value = evaluate(expression)
        final.update(value=str(value), equals_target=value == target)
    except (ValueError, ZeroDivisionError, SyntaxError) as exc:
        final.update(value=None, equals_target=False, error=f"{type(exc).__name__}: {exc}")
    final["valid"] = bool(final["uses_given_numbers"] and final["equals_target"])

# -- every step of the search --------------------------------------------------------------
# The checker reads the deal from the trace itself, as the prompt gave it (a "11 7 4 1" line).
trace = " ".join(str(n) for n in numbers) + "\n" + text if text else ""
steps = jsonable(trace_steps(trace)) if trace else []
errors = jsonable(check_trace(trace)) if trace else []
for step in steps + errors:   # line numbers in the answer, not in the checked trace
    step["line"] -= 1
all_solutions = solutions(numbers, no_negative=True, no_fraction=True)

run.save_json("aot.json", {
    "numbers": numbers,
    "target": target,
    "prompt": [dict(m) for m in answer.messages],
    "answer": answer.provenance(),
    "answer_text": answer.text,
    "final": final,
    "steps": steps,
    "errors": errors,
    "steps_checked": len(steps),
    "steps_wrong": sum(not s["ok"] for s in steps),
    "solutions": jsonable(all_solutions),
})

# -- the whole trace, for the slide's « Trace complète » link: each miscomputed line marked --
wrong = {e["line"]: e for e in errors}
rows = []
for number, line in enumerate(text.splitlines(), start=1):
    mark = wrong.get(number)
    note = (f' <span class="fix">→ {html.escape(mark.get("operation") or mark.get("kind", ""))} '
            f'donne {html.escape(str(mark.get("expected")))}</span>' if mark else "")
    rows.append(f'<div class="{"bad" if mark else "ok"}">{html.escape(line) or "&nbsp;"}{note}</div>')
prompt = "".join(f'<p class="msg"><b>{html.escape(m["role"])}</b> : {html.escape(m["content"])}</p>'
                 for m in answer.messages)
run.out("aot-trace.html").write_text(f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Algorithm of Thoughts : la trace complète</title>
<style>{font_face_css()}
body{{font:20px/1.35 "Source Sans Pro",system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}}
.trace{{font:20px/1.35 ui-monospace,monospace}} .bad{{background:#fbe3d6;border-left:4px solid #d55e00;padding-left:6px}}
.ok{{padding-left:10px}} .fix{{color:#a23c00;font-family:system-ui,sans-serif}} .label{{color:#0072b2}}</style></head>
<body><h1>Algorithm of Thoughts : la trace complète</h1>
<p class="label">{html.escape(answer.provenance().get("label") or "")}</p>
{prompt}
<div class="trace">{"".join(rows)}</div>
<p>{len(steps)} calculs vérifiés par un solveur exact, {sum(not s["ok"] for s in steps)} faux (surlignés).
Réponse finale : {html.escape(final.get("expression", "—"))} = {html.escape(str(final.get("value")))}
({"juste" if final.get("valid") else "fausse"}).</p>
</body></html>
""", encoding="utf-8")
