"""« Les LLM codent pour raisonner » — the talk's Program-of-Thoughts answer, run and checked.

Chen, Ma, Wang, Cohen, "Program of Thoughts Prompting", arXiv 2211.12588 (docs/sources.md A8): the model
writes Python and an interpreter runs it. The slide's program (figures/data/pot_program.txt,
verbatim) is run here as is, with sympy's Symbol; it gives D / (D/5 + D/3.5) = 35/17 h ≈ 2.06 h.
That ignores train 1's 1.5 h head start, so it is wrong: with t the hours after 6:00,
t/5 = 1 − (t − 1.5)/3.5 gives t = 50/17 h ≈ 2.94 h, a meeting at 8:56:28, at 10/17 of the way
from A (docs/sources.md A8 [C]). The plot shows both trains' positions and where each answer falls.

Running the program in-process is fine here: it is the talk's own fixed text, not LLM output.

Run alone: python figures/pot_trains.py --profile quick   (writes into _scratch/pot-trains/)
"""

FIGURE = {
    "name": "pot-trains",
    "caption": "Le programme « Program of Thoughts » du transparent, exécuté : il répond 2,06 h, mais "
               "les trains se croisent à 8 h 56 min 28 s, soit 50/17 h après 6 h",
    "alt": "Position des deux trains en fonction de l’heure : le train 1 part de A à 6 h et arrive à B à "
           "11 h, le train 2 part de B à 7 h 30 et arrive à A à 11 h. Les droites se croisent à 8 h 56, "
           "aux 10/17 du trajet. Les heures tirées de la réponse du programme, 8 h 03 ou 9 h 33, "
           "tombent à des moments où les trains sont encore loin l’un de l’autre.",
    "outputs": ["pot-trains.svg", "pot-trains.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {},
}

from pathlib import Path

import sympy
from sympy import Rational, Symbol

from builder.script import setup
from _style import TEXT, PALETTE, canvas, french_number, assert_no_overlap

run = setup(FIGURE)
program = (Path(__file__).parent / "data" / "pot_program.txt").read_text(encoding="utf-8")

# -- 1. run the slide's program as a PoT interpreter would --------------------------------------
namespace = {"Symbol": Symbol}
exec(compile(program, "pot_program.txt", "exec"), namespace)
talk = sympy.nsimplify(namespace["ans"])           # 2.0588… (a float, since 3.5 is) -> 35/17

# -- 2. the right answer: hours t after 6:00 when both trains are at the same point -------------
t = Symbol("t", positive=True)
DEPART_1, DEPART_2, ARRIVE = Rational(6), Rational(15, 2), Rational(11)
T1, T2 = ARRIVE - DEPART_1, ARRIVE - DEPART_2       # 5 h and 3.5 h
(meet,) = sympy.solve(sympy.Eq(t / T1, 1 - (t - (DEPART_2 - DEPART_1)) / T2), t)
where = meet / T1                                    # fraction of the way from A
# The one-line fix of the program (docs/sources.md A8), run in the same namespace:
exec("fixed = (1 + 1.5 / train2_travel_time) / (1 / train1_travel_time + 1 / train2_travel_time)", namespace)


def clock(hours):
    """8.9412 -> '8 h 56 min 28 s' (rounded to the second)."""
    s = round(float(hours) * 3600)
    return f"{s // 3600} h {s % 3600 // 60:02d} min {s % 60:02d} s"


def position(train, hour):
    """Fraction of the way from A at a given hour (clipped to the trip)."""
    if train == 1:
        return min(max((hour - DEPART_1) / T1, 0), 1)
    return 1 - min(max((hour - DEPART_2) / T2, 0), 1)


# -- 3. plot ------------------------------------------------------------------------------------
fig, ax = canvas(600, 360)
ax.plot([6, 11], [0, 1], color=PALETTE[0], lw=3)
ax.plot([7.5, 11], [1, 0], color=PALETTE[1], lw=3)
ax.text(10.9, 0.78, "train 1", color=TEXT[0], ha="right", va="top", fontweight="bold")
ax.text(10.35, 0.0, "train 2", color=TEXT[1], ha="right", va="bottom", fontweight="bold")
meet_hour = float(DEPART_1 + meet)
ax.plot(meet_hour, float(where), "o", color=PALETTE[2], ms=14, zorder=5)
ax.text(meet_hour, float(where) - 0.37, f"croisement\n{clock(meet_hour).split(' min')[0]}", ha="center",
        va="center", fontsize=15, color=TEXT[2], fontweight="bold")
for start in (DEPART_1, DEPART_2):
    h = float(start + talk)
    gap = [float(position(1, h)), float(position(2, h))]   # where each train is at that hour
    ax.plot([h, h], gap, color=PALETTE[3], ls="--", lw=2)
    ax.plot([h, h], gap, "x", color=PALETTE[3], ms=12, mew=3)
ax.text(6.1, 0.64, f"programme :\n{french_number(float(talk), 2)} h après\n6 h ? 7 h 30 ?",
        color=TEXT[3], fontsize=15, va="top")
ax.set_xticks(range(6, 12), [f"{h} h" for h in range(6, 12)])
ax.set_xlim(6, 11)
ax.set_ylim(-0.03, 1.05)
ax.set_yticks([0, 0.5, 1], ["A", "mi-chemin", "B"])
ax.set_xlabel("heure")
assert_no_overlap(fig)
run.savefig(fig, "pot-trains.svg")

run.save_json("pot-trains.json", {
    "program": program,
    "program_answer": {"value": float(talk), "exact": str(talk), "raw": str(namespace["ans"])},
    "correct": {"hours_after_6": str(meet), "value": float(meet), "clock": clock(meet_hour),
                "fraction_from_A": str(where)},
    "program_answer_as_clock": {"after_6h00": clock(DEPART_1 + talk), "after_7h30": clock(DEPART_2 + talk)},
    "fixed_program_answer": float(namespace["fixed"]),
    "fix": "ans = (1 + 1.5/train2_travel_time) / (1/train1_travel_time + 1/train2_travel_time)",
    "source": "PoT: Chen et al., arXiv 2211.12588 [V]; check as in docs/sources.md A8 [C]",
})
