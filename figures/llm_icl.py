"""« GPT3 paper 2020 » — in-context learning: what a model adds after « "voter" devient ».

The slide's prompt gives two examples ("manger" → "mangera", "parler" → "parlera") and asks
for a third; the expected completion is "votera" (docs/sources.md A20). builder.llm.ask("icl") gives
the configured model's pinned completion. The talk shows no completion, so with no model
there is nothing to show: the JSON then says so (source "missing") and never invents one.

Run alone: python figures/llm_icl.py --profile quick   (writes into _scratch/llm-icl/)
"""

FIGURE = {
    "name": "llm-icl",
    "caption": "Apprentissage en contexte : la complétion de « \"voter\" devient » par un modèle nommé",
    "alt": "Le prompt à deux exemples (manger devient mangera, parler devient parlera, voter devient) "
           "et la complétion renvoyée par le modèle configuré, avec son nom, ou l'absence de réponse.",
    "outputs": ["icl-answer.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"expected": "votera"},
}

import re

from builder.llm import ask
from builder.script import setup

run = setup(FIGURE)
p = run.params

answer = ask("icl")
prompt = "\n".join(m["content"] for m in answer.messages) if answer.messages else None
completion = answer.text
first_line = None
if completion is not None:
    first_line = next((l.strip() for l in completion.splitlines() if l.strip()), "")
# The first word the model writes, quotes and punctuation aside.
first_word = None
if first_line:
    m = re.search(r"[^\W\d_][\w'’-]*", first_line)
    first_word = m.group(0) if m else None

run.save_json("icl-answer.json", {
    "prompt": prompt,
    "answer": answer.provenance(),
    "completion": completion,
    "first_line": first_line,
    "first_word": first_word,
    "expected": p["expected"],
    "matches_expected": (first_word.lower() == p["expected"]) if first_word else None,
})
