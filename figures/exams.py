"""« Performances dans d'autres domaines » — GPT-4 and GPT-3.5 at exams designed for humans.

The GPT-4 report (OpenAI 2023, arXiv 2303.08774) tabulates, in its Table 1, the score and the
estimated percentile among test takers of GPT-4 and GPT-3.5 at 34 exams, and draws them in its
Figure 4 as the lower end of each percentile range. figures/data/gpt4_exams.json holds, verbatim,
the Table 1 cells of the 11 exams drawn here, with where each was checked; this script reads the
percentiles out of those cells ("298 / 400 (~90th)" -> 90, "4 (43rd - 59th)" -> 43..59,
"392 (below 5th)" -> below 5) and draws the lower end, as Figure 4 does.

Run alone: python figures/exams.py --profile quick   (writes into _scratch/exams/)
"""

FIGURE = {
    "name": "exams",
    "caption": "Rang centile de GPT-3.5 et GPT-4 à des examens conçus pour des humains "
               "(rapport technique de GPT-4, 2023, table 1)",
    "alt": "Pour onze examens, deux points par ligne, GPT-3.5 et GPT-4, sur une échelle de rang centile "
           "de 0 à 100 : examen du barreau de 10 à 90, LSAT de 40 à 88, GRE Verbal de 63 à 99, olympiade "
           "de biologie de 31 à 99 ; GPT-4 reste faible en littérature anglaise (8) et sous le 5e centile "
           "à Codeforces, comme GPT-3.5.",
    "outputs": ["exams.svg", "exams.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {},
}

import json
import re
from pathlib import Path

from builder.script import setup
from _style import plt, PALETTE, canvas, french_axes, assert_no_overlap

run = setup(FIGURE)
data = json.loads((Path(__file__).parent / "data" / "gpt4_exams.json").read_text(encoding="utf-8"))
MODELS = {"gpt35": ("GPT-3.5", PALETTE[1]), "gpt4": ("GPT-4", PALETTE[0])}


def percentile(cell):
    """A Table 1 cell -> (low, high) percentile; (None, 5) for 'below 5th'."""
    below = re.search(r"\(below (\d+)(?:st|nd|rd|th)\)", cell)
    if below:
        return None, int(below.group(1))
    found = [int(x) for x in re.findall(r"(\d+)(?:st|nd|rd|th)", cell)]
    if not found or len(found) > 2:
        raise ValueError(f"figures/data/gpt4_exams.json: no percentile in cell {cell!r}")
    return found[0], found[-1]


rows = []
for r in data["rows"]:
    row = {"exam": r["exam"], "label": r["label"], "table": r["table"]}
    for key in MODELS:
        low, high = percentile(r[key])
        row[key] = {"cell": r[key], "low": low, "high": high}
    rows.append(row)
# GPT-4 best first; an exam below the 5th percentile goes last
rows.sort(key=lambda r: -(r["gpt4"]["low"] if r["gpt4"]["low"] is not None else -1))

fig, ax = canvas(1180, 480)
for y, r in enumerate(rows):
    xs = {k: (r[k]["low"] if r[k]["low"] is not None else 0) for k in MODELS}
    ax.plot([xs["gpt35"], xs["gpt4"]], [y, y], color="0.75", lw=3, zorder=1)
    for key, (name, colour) in MODELS.items():
        below = r[key]["low"] is None
        ax.plot(xs[key], y, "o", ms=13, zorder=2, color=colour if not below else "white",
                markeredgecolor=colour, markeredgewidth=2.5)
    if r["gpt4"]["low"] is None:
        ax.text(3, y, f"les deux sous le {r['gpt4']['high']}ᵉ centile", va="center", fontsize=15, color="0.3")
    elif r["gpt4"]["low"] == r["gpt35"]["low"]:
        ax.text(xs["gpt4"] + 2.5, y, "les deux au même rang", va="center", fontsize=15, color="0.3")
handles = [plt.Line2D([], [], ls="none", marker="o", ms=13, color=colour, label=name)
           for name, colour in MODELS.values()]
ax.legend(handles=handles, loc="lower right", fontsize=16, frameon=False, handletextpad=0.3)
ax.set_yticks(range(len(rows)), [r["label"] for r in rows], fontsize=15)
ax.set_ylim(len(rows) - 0.5, -0.6)
ax.set_xlim(0, 101)
ax.set_xticks(range(0, 101, 10))
ax.set_xlabel("rang centile parmi les candidats (borne basse de l’intervalle publié)")
ax.grid(axis="x", color="0.9")
ax.set_axisbelow(True)
french_axes(ax, y=False)
assert_no_overlap(fig)
run.savefig(fig, "exams.svg")

run.save_json("exams.json", {
    "rows": rows,
    "drawn": "lower end of each percentile range, as in the report's Figure 4",
    "source": data["source"],
    "verification": data["verification"],
    "not_drawn": data["not_drawn"],
})
