"""Discover the figure scripts in figures/ and validate their FIGURE declarations.

A declaration is read with `ast.literal_eval`, never by running the script, so that
`ces status` stays fast and imports neither torch nor matplotlib. Every error names the
file and line, and guesses the typo where it can.
"""

from __future__ import annotations

import ast
import difflib
import graphlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import memo
from .errors import FigureError

PROFILES = ("smoke", "quick", "full")
REQUIRED = {"name", "caption", "alt", "outputs", "profiles"}
OPTIONAL = {"needs", "gpu", "seed", "timeout", "tolerance", "memory_gb"}
DEFAULT_TIMEOUT = {"smoke": 120, "quick": 1800, "full": 6 * 3600}  # seconds
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(eq=False)
class FigureSpec:
    """One figure script and its validated declaration."""

    name: str
    path: Path
    caption: str
    alt: str
    outputs: list[str]
    profiles: dict[str, dict]
    needs: list[str] = field(default_factory=list)
    gpu: bool = False
    seed: int = 0
    timeout: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TIMEOUT))
    tolerance: float = 0.0
    memory_gb: float | None = None   # address-space limit of the figure's process
    line: int = 1

    def params(self, profile: str) -> dict:
        return self.profiles[profile]


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _where(path: Path, line: int, root: Path | None) -> str:
    shown = path.relative_to(root) if root and path.is_relative_to(root) else path
    return f"{shown}:{line}"


def parse_figure(path: Path, root: Path | None = None) -> FigureSpec | None:
    """Parse one script; None if it declares no FIGURE (a plain helper script)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        known = memo.facts(path, source=data)
    except (SyntaxError, ValueError):  # not UTF-8, or bad syntax: reported with file and line below
        known = None
    if known is not None and known["line"] is None:
        return None
    if known is not None and isinstance(known["decl"], dict):
        decl, line = known["decl"], known["line"]
    else:
        decl, line = _read_declaration(path, data, root)
        if decl is None:
            return None
    return _validate(path, root, decl, line)


def _read_declaration(path: Path, data: bytes, root: Path | None):
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FigureError(f"{_where(path, 1, root)}: not UTF-8 ({exc.reason} at byte {exc.start})",
                          tip="save the file as UTF-8") from None
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise FigureError(f"{_where(path, exc.lineno or 1, root)}: syntax error: {exc.msg}") from None
    node = next((n for n in tree.body if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "FIGURE" for t in n.targets)), None)
    if node is None:
        return None, None
    try:
        return ast.literal_eval(node.value), node.lineno
    except ValueError as exc:
        raise FigureError(f"{_where(path, node.lineno, root)}: FIGURE must be a plain literal (strings, numbers, "
                          f"lists, dicts): {exc}", tip="move computed values into the script body") from None


def _validate(path: Path, root: Path | None, decl, line: int) -> FigureSpec:
    where = _where(path, line, root)
    if not isinstance(decl, dict):
        raise FigureError(f"{where}: FIGURE must be a dict")

    unknown = set(decl) - REQUIRED - OPTIONAL
    for key in sorted(unknown):
        raise FigureError(f"{where}: unknown key {key!r} in FIGURE.{did_you_mean(key, REQUIRED | OPTIONAL)}")
    for key in sorted(REQUIRED - set(decl)):
        raise FigureError(f"{where}: FIGURE has no {key!r}", tip="see docs/figure-contract.md")

    name = decl["name"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise FigureError(f"{where}: figure name {name!r} must match [a-z0-9-]+")
    outputs = decl["outputs"]
    if not outputs or not all(isinstance(o, str) and o and "/" not in o and not o.startswith(".") for o in outputs):
        raise FigureError(f"{where}: 'outputs' must be a non-empty list of plain file names")
    if len(set(outputs)) != len(outputs):
        raise FigureError(f"{where}: 'outputs' lists a file twice")

    profiles = decl["profiles"]
    if not isinstance(profiles, dict):
        raise FigureError(f"{where}: 'profiles' must map profile names to params")
    for prof in profiles:
        if prof not in PROFILES:
            raise FigureError(f"{where}: unknown profile {prof!r}.{did_you_mean(prof, PROFILES)}",
                              tip=f"profiles are {', '.join(PROFILES)}")
    for prof in PROFILES:
        if prof not in profiles:
            raise FigureError(f"{where}: profile {prof!r} is missing", tip="declare smoke, quick and full")
        if not isinstance(profiles[prof], dict):
            raise FigureError(f"{where}: params of profile {prof!r} must be a dict")
    keys = {p: set(v) for p, v in profiles.items()}
    if len({frozenset(k) for k in keys.values()}) > 1:
        diff = sorted(set.union(*keys.values()) - set.intersection(*keys.values()))
        raise FigureError(f"{where}: profiles must declare the same params; differing: {', '.join(diff)}")

    needs = decl.get("needs", [])
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        raise FigureError(f"{where}: 'needs' must be a list of figure names")
    timeout = dict(DEFAULT_TIMEOUT)
    timeout.update(decl.get("timeout", {}))
    return FigureSpec(
        name=name, path=path, caption=decl["caption"], alt=decl["alt"], outputs=list(outputs),
        profiles=profiles, needs=list(needs), gpu=bool(decl.get("gpu", False)),
        seed=decl.get("seed", 0), timeout=timeout, tolerance=float(decl.get("tolerance", 0.0)),
        memory_gb=decl.get("memory_gb"),
        line=line,
    )


def discover(root: Path) -> dict[str, FigureSpec]:
    """All figures of the project, by name, checked for duplicates and unknown or cyclic needs."""
    memo.load(root)
    figures: dict[str, FigureSpec] = {}
    for path in sorted((root / "figures").glob("*.py")):
        if path.name.startswith("_"):
            continue  # shared helper modules
        spec = parse_figure(path, root)
        if spec is None:
            continue
        if spec.name in figures:
            other = figures[spec.name]
            raise FigureError(f"{_where(path, spec.line, root)}: figure name {spec.name!r} is already used by "
                              f"{_where(other.path, other.line, root)}", tip="rename one of them")
        figures[spec.name] = spec
    for spec in figures.values():
        for need in spec.needs:
            if need not in figures:
                raise FigureError(f"{_where(spec.path, spec.line, root)}: needs unknown figure {need!r}."
                                  f"{did_you_mean(need, figures)}")
    order(figures)  # raises on a cycle
    return figures


def order(figures: dict[str, FigureSpec]) -> list[str]:
    """Names in dependency order (upstream first)."""
    sorter = graphlib.TopologicalSorter({n: s.needs for n, s in figures.items()})
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise FigureError(f"figures depend on each other in a cycle: {cycle}",
                          tip="remove one of the 'needs' entries") from None


def closure(figures: dict[str, FigureSpec], names) -> set[str]:
    """The given figures and everything upstream of them."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(figures[name].needs)
    return seen
