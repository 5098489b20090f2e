"""« Algorithm of thoughts » — the talk's Game-of-24 trace, checked step by step.

Sel et al., "Algorithm of Thoughts", arXiv 2308.10379 (docs/sources.md A9): the prompt shows the model a
search over "11 7 4 1". Its final answer (7 * (4 + 1)) - 11 = 24 is right, and the only solution
up to commutation, but the in-context trace has 6 arithmetic errors (docs/sources.md A9 lists them).
This script reads the trace (figures/data/aot_trace.txt, verbatim from the seed), checks it with
figures/_game24.py on exact fractions, draws its search tree (errors in red, the solution path in
green), and counts how many of the 1820 deals of four numbers from 1 to 13 are solvable with and
without the prompt's rules (no negative, no fractional intermediate result).

Run alone: python figures/game24.py --profile quick   (writes into _scratch/game24/)
"""

FIGURE = {
    "name": "game24",
    "caption": "La trace « Algorithm of Thoughts » du jeu de 24 vérifiée pas à pas : la réponse finale "
               "est juste, mais six calculs intermédiaires sont faux",
    "alt": "Arbre de recherche de gauche à droite : 11 7 4 1, quatre premières étapes, seize secondes "
           "étapes, puis les valeurs testées. Les étapes fausses sont en rouge avec la correction, "
           "par exemple 11 − 4 donne (7, 7, 1) et non (7, 3, 1). Le chemin 4 + 1, 7 × 5, 35 − 11 = 24 "
           "est en vert.",
    "outputs": ["game24-tree.svg", "game24.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "profiles": {  # exact search over the 1820 deals takes ~2 s: kept whole in every profile
        "smoke": {"max_number": 13},
        "quick": {"max_number": 13},
        "full": {"max_number": 13},
    },
}

import itertools
from pathlib import Path

from builder.script import setup
from _game24 import check_trace, evaluate, solutions, solvable, trace_steps
from _style import plt, PALETTE, french_number

fig = setup(FIGURE)
p = fig.params
trace = (Path(__file__).parent / "data" / "aot_trace.txt").read_text(encoding="utf-8")
RED, GREEN, GREY = PALETTE[3], PALETTE[2], "0.45"

# -- 1. the answer, the deal's solutions, the trace's errors --------------------------------------
ANSWER = "(7 * (4 + 1)) - 11"   # the trace's last line
deal = [11, 7, 4, 1]
steps = trace_steps(trace)
errors = check_trace(trace)

# -- 2. how many deals are solvable, with and without the prompt's rules ------------------------
deals = list(itertools.combinations_with_replacement(range(1, p["max_number"] + 1), 4))
unsolvable = {rules: [d for d in deals if not solvable(d, no_negative=rules, no_fraction=rules)]
              for rules in (False, True)}
need_fractions = sorted(set(unsolvable[True]) - set(unsolvable[False]))

# -- 3. the search tree: deal → first steps → second steps → third-step values -------------------
first = [s for s in steps if s["phase"] == "first"]
second = [s for s in steps if s["phase"] == "second"]
values = {(s["block"], s["operation"]): s for s in steps if s["kind"] == "values"}
back = [s for s in steps if s["phase"] == "backtrack" and "operation" in s]
path_first = next(s for s in first if s["operation"] == back[0]["operation"])
path_second = next(s for s in second if s["block"] == path_first["block"] and s["operation"] == back[1]["operation"])


def pretty(text):
    return text.replace("*", "×").replace("/", "÷").replace(" - ", " − ")


def french_list(text):
    """'38, 16, 297, 2.45' -> '38 ; 16 ; 297 ; 2,45' (decimal comma, so ';' separates)."""
    return "\u202f; ".join(x.strip().replace(".", ",") for x in text.split(","))


plot, ax = plt.subplots(figsize=(16, 11))
row = {id(s): -i for i, s in enumerate(second)}   # one row per second step, top to bottom
X = [0.0, 1.4, 3.5, 5.6]


def node(x, y, text, colour="black", weight="normal", size=14):
    ax.text(x, y, text, ha="left", va="center", fontsize=size, color=colour, fontweight=weight)


def edge(x0, y0, x1, y1, on_path):
    ax.plot([x0 + 0.05, x1 - 0.05], [y0, y1], color=GREEN if on_path else "0.75",
            lw=3.5 if on_path else 1.2, zorder=0)


root_y = sum(row.values()) / len(row)
node(X[0] - 0.9, root_y, "  ".join(map(str, deal)), weight="bold", size=16)
for f in first:
    kids = [s for s in second if s["block"] == f["block"]]
    y = sum(row[id(s)] for s in kids) / len(kids)
    on_path = f is path_first
    edge(X[0] + 0.3, root_y, X[1], y, on_path)
    label = f"{pretty(f['operation'])} → {f['claimed']}"
    if not f["ok"]:
        label += f"\n✗ juste : {f['expected']}"
    node(X[1], y, label, RED if not f["ok"] else (GREEN if on_path else "black"),
         "bold" if on_path else "normal")
    for s in kids:
        on_path = s is path_second
        edge(X[1] + 1.75, y, X[2], row[id(s)], on_path)
        label = f"{pretty(s['operation'])} → {s['claimed']}"
        colour = GREEN if on_path else "black"
        if not f["ok"]:
            colour = GREY          # right on its premises, but built on a wrong tuple
        if not s["ok"]:
            label, colour = label + f"\n✗ juste : {s['expected']}", RED
        node(X[2], row[id(s)], label, colour, "bold" if on_path else "normal")
        v = values.get((s["block"], s["operation"]))
        if v is not None:
            listed, *found = v["claimed"].split("=")       # "46, 24 = 35 - 11": the hit
            text = french_list(listed) + "".join(f" = {pretty(x.strip())}" for x in found)
            text += " ✓" if on_path else ""
            if not v["ok"]:
                text += f"\n✗ juste : {french_list(v['expected'])}"
            node(X[3], row[id(s)], text, RED if not v["ok"] else (GREEN if on_path else "0.2"),
                 "bold" if on_path else "normal", size=13)
for x, title in zip(X[1:], ("premières étapes", "deuxièmes étapes", "troisièmes : a+b ; a−b ; a×b ; a÷b")):
    node(x, 1.0, title, "0.3", "bold", 14)
ok_answer = evaluate(ANSWER) == 24
ax.text(0.0, -0.03, f"Réponse {pretty(ANSWER)} = {evaluate(ANSWER)} : juste{' ✓' if ok_answer else ' ✗'}   ·   "
        f"{len(errors)} erreurs de calcul dans la trace (en rouge)   ·   en gris : juste, mais sur un résultat faux",
        transform=ax.transAxes, fontsize=14)
ax.text(0.0, -0.075, f"Tirages de 4 nombres de 1 à {p['max_number']} : "
        f"{french_number(len(deals) - len(unsolvable[False]))} résolubles sur {french_number(len(deals))} ; "
        f"{french_number(len(deals) - len(unsolvable[True]))} en respectant les règles du prompt "
        f"(ni négatif, ni fraction)", transform=ax.transAxes, fontsize=14)
ax.set_xlim(-1.0, 8.4)
ax.set_ylim(-len(second) + 0.3, 1.5)
ax.axis("off")
ax.set_title("Le jeu de 24 dans la trace « Algorithm of Thoughts » (Sel et al., 2023)")
plot.tight_layout()
fig.savefig(plot, "game24-tree.svg")

fig.save_json("game24.json", {
    "answer": {"expression": ANSWER, "value": str(evaluate(ANSWER)), "correct": ok_answer},
    "deal": deal,
    "solutions": {"with_rules": solutions(deal), "without_rules": solutions(deal, False, False)},
    "errors": errors,
    "steps_checked": len(steps),
    "deals": {
        "max_number": p["max_number"],
        "count": len(deals),
        "solvable_without_rules": len(deals) - len(unsolvable[False]),
        "solvable_with_rules": len(deals) - len(unsolvable[True]),
        "unsolvable_without_rules": unsolvable[False],
        "unsolvable_with_rules": unsolvable[True],
        "solvable_only_with_fractions_or_negatives": need_fractions,
    },
    "source": "trace verbatim from the talk; AoT: Sel et al. 2023, arXiv 2308.10379 [V]; "
              "errors as listed in facts.md A9 [C]",
})
