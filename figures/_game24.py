"""Game of 24: an exact solver, a safe evaluator, and a checker for Algorithm-of-Thoughts traces.

Shared by figures/game24.py and by whoever checks LLM answers. The API:

    solutions(numbers, no_negative=True, no_fraction=True) -> list[str]
    evaluate(expression) -> fractions.Fraction
    check_trace(text) -> list[dict]

plus two helpers the figure needs: solvable() (a faster search that only answers yes or no, to
count the 1820 deals) and trace_steps() (every step of a trace, right or wrong).

All arithmetic is on Fractions, so 8 / 3 is 8/3 and never 2.666…6. The flags are the AoT prompt's
rules (Sel et al. 2023, arXiv 2308.10379; docs/sources.md A9): "do not choose operations that will
result in a negative or fractional number", applied to every intermediate result.
"""

import ast
import operator
import re
from fractions import Fraction
from functools import lru_cache

TARGET = 24
OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


# -- solving --------------------------------------------------------------------------------------
def _moves(a, b, no_negative, no_fraction):
    """Every (symbol, swapped, value) combining a and b: a sym b, or b sym a when swapped."""
    for sym, swapped in (("+", False), ("*", False), ("-", False), ("-", True), ("/", False), ("/", True)):
        x, y = (b, a) if swapped else (a, b)
        if sym == "/" and y == 0:
            continue
        value = OPS[sym](x, y)
        if no_negative and value < 0:
            continue
        if no_fraction and value.denominator != 1:
            continue
        yield sym, swapped, value


def solutions(numbers, no_negative=True, no_fraction=True):
    """All distinct expressions that reach 24 using each number once, sorted.

    The search is the AoT one: pick two numbers, replace them by their result, repeat. Two
    expressions are the same when they differ only by the order of the operands of + and ×
    (each sub-expression is written with its operands sorted), so (7 * (4 + 1)) - 11 and
    ((1 + 4) * 7) - 11 count once. Sub-expressions are fully parenthesised; evaluate() reads them.
    """
    found = set()

    def search(items):   # items: list of (value, text); a text with a space gets parentheses
        if len(items) == 1:
            if items[0][0] == TARGET:
                found.add(items[0][1])
            return
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                rest = items[:i] + items[i + 1:j] + items[j + 1:]
                (va, ta), (vb, tb) = items[i], items[j]
                ta, tb = (f"({t})" if " " in t else t for t in (ta, tb))
                for sym, swapped, value in _moves(va, vb, no_negative, no_fraction):
                    left, right = (tb, ta) if swapped else (ta, tb)
                    if sym in "+*":
                        left, right = sorted((left, right))
                    search(rest + [(value, f"{left} {sym} {right}")])

    search([(Fraction(n), str(n)) for n in numbers])
    return sorted(found)


def solvable(numbers, no_negative=True, no_fraction=True):
    """Whether some expression reaches 24: the same expressions as solutions(), searched faster.

    Every expression splits the numbers in two groups joined by a last operation, so 24 is
    reachable iff, for some split (A, B) and some value a of A, the b that the last operation
    needs (24 − a, a − 24, 24 + a, 24 / a, a / 24, 24 · a) is a value of B. The values of each
    group are memoised, so the 1820 deals of 1..13 share their sub-groups.
    """
    numbers = tuple(sorted(numbers))
    target = Fraction(TARGET)
    for A, B in _splits(numbers):
        values_B = _values(B, no_negative, no_fraction)
        for a in _values(A, no_negative, no_fraction):
            needed = [target - a, a - target, target + a]   # a + b, a − b, b − a
            if a != 0:   # a · b, b / a, a / b (b = a / 24 would be 0 when a is: 0 / 0)
                needed += [target / a, target * a, a / target]
            if any(b in values_B for b in needed):
                return True
    return False


def _splits(numbers):
    """Each way to cut a multiset (a sorted tuple) in two non-empty groups; the first holds numbers[0]."""
    n = len(numbers)
    for mask in range(1, 2 ** n - 1, 2):   # odd masks: numbers[0] is always in the first group
        yield (tuple(x for i, x in enumerate(numbers) if mask >> i & 1),
               tuple(x for i, x in enumerate(numbers) if not mask >> i & 1))


@lru_cache(maxsize=None)
def _values(numbers, no_negative, no_fraction):
    """Every value an expression using each of `numbers` (a sorted tuple) once can take."""
    if len(numbers) == 1:
        return frozenset({Fraction(numbers[0])})
    out = set()
    for A, B in _splits(numbers):
        for a in _values(A, no_negative, no_fraction):
            for b in _values(B, no_negative, no_fraction):
                out.update(value for _, _, value in _moves(a, b, no_negative, no_fraction))
    return frozenset(out)


# -- evaluating, safely ---------------------------------------------------------------------------
_AST_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_UNICODE = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-"})   # what LLMs and slides write


def evaluate(expression):
    """Exact value of an arithmetic expression: numbers, + - * / (or × ÷ −) and parentheses.

    Parsed with ast and walked by hand (never eval); anything else raises ValueError, and a
    division by zero raises ZeroDivisionError. Decimals are exact: "1.75" is 7/4.
    """
    text = str(expression).translate(_UNICODE)
    if len(text) > 500:   # bounds the work on hostile input
        raise ValueError("expression too long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from exc
    return _eval(tree.body, expression)


def _eval(node, expression):
    if isinstance(node, ast.BinOp) and type(node.op) in _AST_OPS:
        return _AST_OPS[type(node.op)](_eval(node.left, expression), _eval(node.right, expression))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, expression)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):   # bool is not allowed
        return Fraction(str(node.value))   # str() keeps the decimal as written: 1.75 -> 7/4
    raise ValueError(f"only numbers, + - * / and parentheses are allowed: {expression!r}")


# -- checking an AoT trace ------------------------------------------------------------------------
NUM = r"\d+(?:\.\d+)?"
OP_LINE = re.compile(rf"^(?:\d+\.|-)\s*({NUM})\s*([-+*/])\s*({NUM})\s*:\s*\(([^)]*)\)\s*(?::\s*(.*))?$")
CONTEXT_LINE = re.compile(r"^\d+\.\s*\(([^)]*)\)$")
EQUATION = re.compile(rf"^(?:\d+\.\s*)?({NUM})\s*([-+*/])\s*({NUM})\s*=\s*({NUM})$")
DEAL = re.compile(r"^\d+(?:\s+\d+)+$")
PHASES = {"first steps": "first", "second steps": "second", "third steps": "third", "backtracking": "backtrack"}


def _numbers(text):
    return [Fraction(x) for x in re.findall(NUM, text)]


def _show(x):
    """A value as the trace writes it: an integer, or 2 decimals."""
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.2f}"


def _same(claimed, exact):
    """A claimed number is right when exact, or correctly rounded to the decimals it shows."""
    decimals = len(claimed.split(".")[1]) if "." in claimed else 0
    if decimals == 0:
        return Fraction(claimed) == exact
    return abs(Fraction(claimed) - exact) <= Fraction(1, 2 * 10 ** decimals)


def _apply(a, sym, b):
    """a sym b, or None for a division by zero (a model may well write one)."""
    return None if sym == "/" and b == 0 else OPS[sym](a, b)


def _item(line):
    """The item number of a line such as "3. 4 + 1: (11, 7, 5)", else None."""
    m = re.match(r"^(\d+)\.", line)
    return int(m.group(1)) if m else None


def _remaining(context, a, sym, b):
    """Numbers left after a sym b on `context`, in descending order; None if a or b is missing
    or the operation is a division by zero."""
    left = list(context)
    for x in (a, b):
        if x not in left:
            return None
        left.remove(x)
    value = _apply(a, sym, b)
    return None if value is None else sorted(left + [value], reverse=True)


def trace_steps(text):
    """Every checkable step of an AoT trace, in order, each a dict with "ok" True or False.

    Each step has its line number, phase (first, second, third, backtrack) and block (the item
    number of its first step). Steps are:
      - the numbers left after an operation ("- 11 - 4: (7, 3, 1)"), checked against the numbers
        available: the deal for first steps, the block's tuple for second and third steps;
      - the four values a+b, a−b, a×b, a÷b of a last pair ("(27, 11): 38, 16, 297, 2.45", a ≥ b,
        decimals correctly rounded);
      - equations ("7 * 5 = 35", "answer: … = 24") and, for the answer, the numbers it uses.
    A step is judged on its own premises (the model's tuple, even a wrong one), so an error is
    reported once and does not cascade; a claim repeated verbatim in the third steps is not
    re-checked. Malformed lines of a model's output never raise: they are skipped or wrong.
    """
    steps, seen = [], set()
    phase, deal, context, blocks, block = None, None, None, {}, None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().replace("’", "'")
        low = line.lower()
        for key, name in PHASES.items():
            if key in low:
                phase, block = name, None
        if DEAL.match(line) and deal is None:
            deal = _numbers(line)
            continue

        def add(kind, claimed, expected, ok, **extra):
            steps.append({"line": n, "text": line, "phase": phase, "block": block, "kind": kind,
                          "claimed": claimed, "expected": expected, "ok": ok, **extra})

        m = CONTEXT_LINE.match(line)
        if m and phase == "second":
            block = _item(line)
            context = blocks[block] = sorted(_numbers(m.group(1)), reverse=True)
            continue
        m = OP_LINE.match(line)
        if m and phase in ("first", "second", "third"):
            a, sym, b, tuple_text, values_text = m.groups()
            a, b = Fraction(a), Fraction(b)
            if phase == "first":
                context, block = deal, _item(line)
            elif phase == "third":
                context = blocks.get(block)
            claimed = _numbers(tuple_text)
            claim = (tuple(context or ()), a, sym, b, tuple(claimed))
            if claim not in seen:   # the third steps repeat second-step claims verbatim
                seen.add(claim)
                expected = _remaining(context, a, sym, b) if context is not None else None
                ok = expected is not None and sorted(claimed) == sorted(expected)
                add("remaining numbers", f"({tuple_text.strip()})",
                    "not computable (operand missing or division by zero)" if expected is None
                    else "(" + ", ".join(map(_show, expected)) + ")",
                    ok, operation=f"{_show(a)} {sym} {_show(b)}", context=[_show(x) for x in context or ()])
            if values_text is not None and len(claimed) == 2:
                hi, lo = max(claimed), min(claimed)
                exact = [hi + lo, hi - lo, hi * lo, hi / lo if lo else None]
                items = [item.split("->")[0].strip() for item in values_text.split(",")]
                ok = True
                for item, want in zip(items, exact):
                    value, *rhs = [part.strip() for part in item.split("=")]
                    try:   # "24 = 35 - 11": the value, and the expression that gives it
                        ok &= want is not None and _same(value, want)
                        ok &= all(evaluate(r) == Fraction(value) for r in rhs)
                    except (ValueError, ZeroDivisionError):   # not a number: the model wrote something else
                        ok = False
                add("values", ", ".join(items), ", ".join(_show(x) for x in exact[:len(items)]), ok,
                    operation=f"{_show(a)} {sym} {_show(b)}", pair=[_show(hi), _show(lo)])
            continue
        m = EQUATION.match(line)
        if m and phase in ("third", "backtrack"):
            a, sym, b, c = m.groups()
            if phase == "third":
                block = _item(line)
            value = _apply(Fraction(a), sym, Fraction(b))
            add("equation", c, "division by zero" if value is None else _show(value),
                value is not None and _same(c, value), operation=f"{a} {sym} {b}")
            continue
        if low.startswith(("considering these steps:", "answer:")):
            body = line.split(":", 1)[1].strip().rstrip(".")
            parts = [p.strip() for p in body.split("=")]
            try:
                values = [evaluate(p) for p in parts]
            except (ValueError, ZeroDivisionError) as exc:
                add("equation", body, f"not computable: {exc}", False)
                continue
            add("equation", body, " = ".join(map(_show, values)), len(set(values)) == 1)
            if low.startswith("answer:") and deal is not None:   # each number of the deal, once
                used = sorted(_numbers(parts[0]))
                add("numbers used", ", ".join(map(_show, used)), ", ".join(map(_show, sorted(deal))),
                    used == sorted(deal))
    return steps


def check_trace(text):
    """The arithmetic errors of an AoT trace: trace_steps() without the steps that are right."""
    return [{k: v for k, v in step.items() if k != "ok"} for step in trace_steps(text) if not step["ok"]]
