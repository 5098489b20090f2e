"""« Les LLM savent programmer » — what an LLM answers to "How can I draw a sinusoid in javascript?".

The answer comes from builder.llm.ask("sinusoid"): a pinned answer of the model configured in
llm.yml, or, with none, codeLlama's answer as quoted in the talk (labelled as a transcript).
The page (shown 520×260 px on the slide) runs the answer's code unchanged on a real
<canvas id="myCanvas"> in a sandboxed iframe (sandbox="allow-scripts", no allow-same-origin),
next to a corrected version written by hand (docs/sources.md A7: no vertical offset, 1 rad per pixel,
dashes instead of a path). The JSON also records what the code draws: node runs it on a mock
canvas inside builder.sandbox and reports each drawing call; the measure is computed here from
those calls, outside the code's realm (_sinusoid.py). For the talk's code: 149 of 300 dashes
above the canvas, ≈47.7 periods, jumps of up to 95.9 px; docs/sources.md A7.

Run alone: python figures/llm_sinusoid.py --profile quick   (writes into _scratch/llm-sinusoid/)
"""

FIGURE = {
    "name": "llm-sinusoid",
    "caption": "Une sinusoïde en JavaScript demandée à un LLM : son code exécuté tel quel, et corrigé",
    "alt": "Deux canvas côte à côte. À gauche, le code de la réponse du modèle exécuté tel quel : "
           "des tirets épars dans la moitié haute. À droite, la version corrigée : une sinusoïde "
           "continue centrée. Sous chaque canvas, le code correspondant.",
    "outputs": ["sinusoid.html", "sinusoid.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"timeout_s": 20},
}

import re

from builder.llm import ask
from builder.sandbox import SandboxError, run_command
from builder.script import setup
from _llm import extract_code, scripts_in_html
from _sinusoid import CANVAS_H, CANVAS_W, PROBE_JS, measure, parse_records, sinusoid_page
from _style import french_number

run = setup(FIGURE)
p = run.params

# Written by hand for the slides (not by a model): one path, centred, 2 periods, inside the canvas.
FIXED_JS = """\
// Get the canvas element
var canvas = document.getElementById("myCanvas");
var ctx = canvas.getContext("2d");

// Sinusoid parameters: centred, 2 periods across the canvas, 80 % of the half-height
var amplitude = 0.8 * canvas.height / 2;
var periods = 2;
var phase = 0;

// Draw the sinusoid as one path
ctx.beginPath();
for (var x = 0; x <= canvas.width; x++) {
  var y = canvas.height / 2 - amplitude * Math.sin(2 * Math.PI * periods * x / canvas.width + phase);
  if (x === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
}
ctx.stroke();"""

answer = ask("sinusoid")
question = answer.messages[-1]["content"] if answer.messages else "How can I draw a sinusoid in javascript?"
code, how, prose = extract_code(answer.text or "", ("javascript", "js"))
if code.lstrip().startswith("<"):  # the answer wrote a whole HTML page: run its scripts
    code, how = scripts_in_html(code), how + "+html-scripts"


def probe(js: str) -> dict:
    """What js draws on a mock 300×150 canvas: node records the calls inside the sandbox,
    the measure is made here."""
    try:
        r = run_command(["node", "--max-old-space-size=128", "probe.js"], timeout=p["timeout_s"],
                        memory_mb=2048, files={"probe.js": PROBE_JS, "answer.js": js})
    except SandboxError as exc:
        return {"available": False, "why": exc.format_message()}
    if not r.ok:
        return {"available": True, "ok": False, "why": r.reason}
    records = parse_records(r.stdout)
    if records is None:
        return {"available": True, "ok": False, "why": "tampered: the code wrote on the probe's output itself"}
    data = measure(records)
    return {"available": True, "ok": data["error"] is None, **data}


measured = {"answer": probe(code) if code else {"available": False, "why": "no code in the answer"},
            "fixed": probe(FIXED_JS)}

# What the measurements say, in French for the page (only what was measured).
findings = []
m = measured["answer"].get("summary") if measured["answer"].get("available") else None
if m and m["points"]:
    if m["subpaths"] > 1 and m["off_canvas_subpaths"]:
        findings.append(f"{m['off_canvas_subpaths']} traits sur {m['subpaths']} tombent hors du canvas "
                        f"({CANVAS_W}×{CANVAS_H} px, y compté vers le bas).")
    elif m["off_canvas"]:
        findings.append(f"{m['off_canvas']} points sur {m['points']} tombent hors du canvas "
                        f"({CANVAS_W}×{CANVAS_H} px, y compté vers le bas).")
    if m["subpaths"] > 1:
        findings.append(f"{m['subpaths']} petits traits séparés au lieu d’une courbe\u202f; sauts jusqu’à "
                        f"{french_number(m['max_gap_between_subpaths'], 1)} px entre deux traits voisins.")
    findings.append(f"≈ {french_number(m['midline_crossings'] / 2, 1)} périodes sur {CANVAS_W} px.")
if measured["answer"].get("error"):
    findings.append(f"Erreur à l’exécution\u202f: {measured['answer']['error']}")
claims_scroll = any(re.search(r"\bscroll", s, re.I) for s in prose)
handles_scroll = any("scroll" in l for l in measured["answer"].get("listeners", []))
if claims_scroll and not handles_scroll:
    findings.append("La réponse affirme que le canvas se met à jour au défilement\u202f: "
                    "le code n’écoute aucun événement scroll.")

page = sinusoid_page(question=question, label=answer.label, code=code, prose=prose,
                     fixed_code=FIXED_JS, findings=findings)
run.out("sinusoid.html").write_text(page, encoding="utf-8")

run.save_json("sinusoid.json", {
    "question": question,
    "answer": answer.provenance(),
    "answer_text": answer.text,
    "code": code,
    "code_extraction": how,
    "prose": prose,
    "fixed_code": FIXED_JS,
    "fixed_author": "écrit à la main pour ces transparents, pas par un modèle",
    "canvas": {"width": CANVAS_W, "height": CANVAS_H},
    "measured": measured,
    "claims_scroll_update": claims_scroll,
    "handles_scroll": handles_scroll,
    "findings": findings,
})
