"""« Algorithm of thoughts » — the talk's Game-of-24 trace, checked step by step.

Sel et al., "Algorithm of Thoughts", arXiv 2308.10379 (docs/sources.md A9): the prompt shows the model a
search over "11 7 4 1". Its final answer (7 * (4 + 1)) - 11 = 24 is right, and the only solution
up to commutation, but the in-context trace has 6 arithmetic errors (docs/sources.md A9 lists them).
This script reads the trace (figures/data/aot_trace.txt, verbatim from the seed), checks it with
figures/_game24.py on exact fractions, draws the path its search follows to the solution (the other
steps of each level collapsed into a count, with how many are wrong), and counts how many of the
1820 deals of four numbers from 1 to 13 are solvable with and without the prompt's rules (no
negative, no fractional intermediate result).

Run alone: python figures/game24.py --profile quick   (writes into _scratch/game24/)
"""

FIGURE = {
    "name": "game24",
    "caption": "La trace « Algorithm of Thoughts » du jeu de 24 vérifiée pas à pas : la réponse finale "
               "est juste, mais six calculs intermédiaires sont faux",
    "alt": "Arbre de recherche replié : de 11 7 4 1, le chemin suivi par la trace, 4 + 1 donne "
           "(11, 7, 5), puis 7 × 5 donne (35, 11), puis 35 − 11 = 24, en vert ; à chaque niveau, une "
           "case grise compte les autres essais de la trace (3, 15 et 10) et ses calculs faux (1, 2 et 3). "
           "La réponse (7 × (4 + 1)) − 11 = 24 est juste. À droite, les 6 calculs faux de la trace, chacun "
           "avec le résultat juste : 11 − 4 laisse (7, 7, 1), pas (7, 3, 1), et ainsi de suite.",
    "outputs": ["game24-tree.svg", "game24.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {"max_number": 13},
}

import itertools
import re
from pathlib import Path

from builder.script import setup
from _game24 import check_trace, evaluate, solutions, solvable, trace_steps
from _style import TEXT, PALETTE, canvas, assert_no_overlap

run = setup(FIGURE)
p = run.params
trace = (Path(__file__).parent / "data" / "aot_trace.txt").read_text(encoding="utf-8")
RED, GREEN, GREY = TEXT[3], TEXT[2], "0.40"

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


# -- 4. the tree the trace follows, collapsed: per level, the step on the solution's path and the
#       count of the other steps the trace tries there (and how many of those it gets wrong) -----------
third = [s for s in steps if s["phase"] == "third" and s["kind"] == "values"]
path_third = values[(path_second["block"], path_second["operation"])]
ok_answer = evaluate(ANSWER) == 24
levels = [  # (path node, the trace's steps at that level)
    (f"{pretty(path_first['operation'])} → {path_first['claimed']}", first, "premières étapes"),
    (f"{pretty(path_second['operation'])} → {path_second['claimed']}", second, "deuxièmes étapes"),
    (f"{pretty(back[2]['operation'])} = {back[2]['claimed']} ✓", third, "troisièmes étapes"),
]
fig, ax = canvas(1180, 350)   # full width, under the slide's three bullets
ax.set_xlim(0, 1)
ax.set_ylim(0, 1)
ax.axis("off")
XP, XO, Y = 0.12, 0.37, [0.93, 0.70, 0.47, 0.24]
BOX = dict(boxstyle="round,pad=0.35", lw=2)


def edge(x0, y0, x1, y1, on_path):
    ax.plot([x0, x1], [y0 - 0.045, y1 + 0.05], color=GREEN if on_path else "0.7",
            lw=3.5 if on_path else 1.5, zorder=0)


ax.text(XP, Y[0], "  ".join(map(str, deal)), ha="center", va="center", fontsize=18, fontweight="bold",
        bbox=dict(BOX, facecolor="white", edgecolor="0.3"))
collapsed = []
for (label, tried, name), y, y_up in zip(levels, Y[1:], Y):
    wrong = sum(not t["ok"] for t in tried)
    edge(XP, y_up, XP, y, True)
    edge(XP, y_up, XO, y + 0.02, False)
    ax.text(XP, y, label, ha="center", va="center", fontsize=16, fontweight="bold", color="black",
            bbox=dict(BOX, facecolor="#DDF2EA", edgecolor=GREEN))
    ax.text(XO, y + 0.025, f"+ {len(tried) - 1} autres {name}", ha="center", va="center", fontsize=15,
            color="0.3", bbox=dict(BOX, facecolor="0.95", edgecolor="0.75"))
    if wrong:
        ax.text(XO, y - 0.05, f"dont {wrong} calcul{'s' if wrong > 1 else ''} faux", ha="center",
                va="center", fontsize=15, color=RED, fontweight="bold")
    collapsed.append({"level": name, "tried": len(tried), "path": label, "wrong": wrong})
ax.text(0.0, 0.04, f"Réponse {pretty(ANSWER)} = {evaluate(ANSWER)}\u202f: {'juste ✓' if ok_answer else 'fausse ✗'}",
        fontsize=16, color=GREEN if ok_answer else RED, va="center")


def french(text):
    """'57, 1, 812, 1.03' -> '57\u202f; 1\u202f; 812\u202f; 1,03' (decimal comma, so ';' between values)."""
    return "\u202f; ".join(v.strip().replace(".", ",") for v in text.split(","))


# the trace's wrong calculations, one line each: what it wrote, what is right
lines = []
for e in errors:
    if e["kind"] == "remaining numbers":
        lines.append(f"{pretty(e['operation'])} laisse {e['expected']}, pas {e['claimed']}")
    else:
        pair = re.search(r"\(\d+, \d+\)", e["text"]).group(0)
        lines.append(f"{pair} donne {french(e['expected'])},\n      pas {french(e['claimed'])}")
ax.text(0.56, 0.97, f"Les {len(errors)} calculs faux de la trace", fontsize=17, fontweight="bold", color=RED,
        va="top")
ax.text(0.56, 0.87, "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1)), fontsize=16, va="top",
        linespacing=1.35)
assert_no_overlap(fig)
run.savefig(fig, "game24-tree.svg")

run.save_json("game24.json", {
    "tree": collapsed,
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
              "errors as listed in docs/sources.md A9 [C]",
})
