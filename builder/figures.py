"""Discover the figure scripts in figures/ and validate their FIGURE declarations.

A declaration is read with `ast.literal_eval`, never by running the script, so that
`ces status` stays fast and imports neither torch nor matplotlib. Every error names the
file and line, and guesses the typo where it can.
"""

from __future__ import annotations

import ast
import difflib
import graphlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import memo
from .errors import FigureError
from .profiles import DEFAULT_TIMEOUT, PROFILES, figure_name, params_of

REQUIRED = {"caption", "alt", "outputs", "params"}
OPTIONAL = {"name", "profiles", "needs", "gpu", "seed", "timeout", "tolerance", "memory_gb"}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
NAME_MAX = 64          # a directory name in cache/ and slides/_figures/, and a URL part
RESERVED = {"llm": "cache/llm/ holds the pinned LLM answers"}
OUTPUT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")  # referable from a slide, no path, no space
MIN_MEMORY_GB = 0.05  # below this not even Python starts


@dataclass(eq=False)
class FigureSpec:
    """One figure script and its validated declaration."""

    name: str
    path: Path
    caption: str
    alt: str
    outputs: list[str]
    profiles: dict[str, dict]        # the merged params of every profile
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
        if b"FIGURE" in data:
            _refuse_nested_declaration(path, data, root)
        return None
    if known is not None and isinstance(known["decl"], dict):
        decl, line = known["decl"], known["line"]
        if known.get("valid") == _validated_mark(path):  # this content, under this name, passed before
            return _spec(path, decl, line)
        spec = _validate(path, root, decl, line)
        memo.note(known, "valid", _validated_mark(path))
        return spec
    else:
        decl, line = _read_declaration(path, data, root)
        if decl is None:
            return None
    return _validate(path, root, decl, line)


def _refuse_nested_declaration(path: Path, data: bytes, root: Path | None) -> None:
    """A FIGURE assigned inside a block (if, try, def) would silently not be a figure: say so."""
    for node in ast.walk(ast.parse(data, filename=str(path))):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        if any(isinstance(t, ast.Name) and t.id == "FIGURE" for t in targets):
            raise FigureError(f"{_where(path, node.lineno, root)}: FIGURE must be assigned at the top level of the "
                              "script, as a plain `FIGURE = {...}`", tip="move it out of the block")


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


def _json_value(value) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _validate(path: Path, root: Path | None, decl, line: int) -> FigureSpec:
    where = _where(path, line, root)
    if not isinstance(decl, dict):
        raise FigureError(f"{where}: FIGURE must be a dict")

    unknown = set(decl) - REQUIRED - OPTIONAL
    for key in sorted(unknown):
        raise FigureError(f"{where}: unknown key {key!r} in FIGURE.{did_you_mean(key, REQUIRED | OPTIONAL)}")
    for key in sorted(REQUIRED - set(decl)):
        raise FigureError(f"{where}: FIGURE has no {key!r}", tip="see docs/figure-contract.md")
    name = decl.get("name", figure_name(path))
    named = "figure name" if "name" in decl else f"figure name (from the file name {path.name})"
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > NAME_MAX:
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:60] + f"… ({len(name)} characters)"
        raise FigureError(f"{where}: {named} {shown} must match [a-z0-9-]+, at most {NAME_MAX} characters",
                          tip=None if "name" in decl else "rename the file, or declare FIGURE['name']")
    if name in RESERVED:
        raise FigureError(f"{where}: {named} {name!r} is reserved ({RESERVED[name]})",
                          tip="rename the file, or declare FIGURE['name']" if "name" not in decl else "choose another name")
    for key in ("caption", "alt"):
        if not isinstance(decl[key], str) or not decl[key].strip():
            raise FigureError(f"{where}: FIGURE {key!r} must be a non-empty string, not {decl[key]!r}")
    outputs = decl["outputs"]
    if not isinstance(outputs, list) or not outputs or \
            not all(isinstance(o, str) and OUTPUT_RE.match(o) for o in outputs):
        raise FigureError(f"{where}: 'outputs' must be a non-empty list of plain file names "
                          f"(letters, digits, . _ -), not {outputs!r}")
    if len(set(outputs)) != len(outputs):
        raise FigureError(f"{where}: 'outputs' lists a file twice")

    by_profile = _profile_params(where, decl)

    needs = decl.get("needs", [])
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        raise FigureError(f"{where}: 'needs' must be a list of figure names")
    gpu, seed = decl.get("gpu", False), decl.get("seed", 0)
    if not isinstance(gpu, bool):
        raise FigureError(f"{where}: 'gpu' must be True or False, not {gpu!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise FigureError(f"{where}: 'seed' must be an integer, not {seed!r}")
    declared_timeout = decl.get("timeout", {})
    if not isinstance(declared_timeout, dict):
        raise FigureError(f"{where}: 'timeout' must map profiles to seconds, e.g. {{\"quick\": 900}}, "
                          f"not {declared_timeout!r}")
    for prof, seconds in declared_timeout.items():
        if prof not in PROFILES:
            raise FigureError(f"{where}: 'timeout' names unknown profile {prof!r}.{did_you_mean(str(prof), PROFILES)}")
        if not _number(seconds) or seconds <= 0:
            raise FigureError(f"{where}: timeout of profile {prof!r} must be a positive number of seconds, "
                              f"not {seconds!r}")
    tolerance = decl.get("tolerance", 0.0)
    if not _number(tolerance) or tolerance < 0:
        raise FigureError(f"{where}: 'tolerance' must be a number ≥ 0, not {tolerance!r}")
    memory_gb = decl.get("memory_gb")
    if memory_gb is not None and (not _number(memory_gb) or memory_gb < MIN_MEMORY_GB):
        raise FigureError(f"{where}: 'memory_gb' must be a number of GiB ≥ {MIN_MEMORY_GB:g} (or absent), "
                          f"not {memory_gb!r}")
    return _spec(path, decl, line, by_profile)


def _spec(path: Path, decl: dict, line: int, by_profile: dict | None = None) -> FigureSpec:
    """The FigureSpec of a declaration that _validate accepted."""
    return FigureSpec(
        name=decl.get("name", figure_name(path)), path=path, caption=decl["caption"], alt=decl["alt"],
        outputs=list(decl["outputs"]), profiles=by_profile or {p: params_of(decl, p) for p in PROFILES},
        needs=list(decl.get("needs", [])), gpu=decl.get("gpu", False), seed=decl.get("seed", 0),
        timeout={**DEFAULT_TIMEOUT, **decl.get("timeout", {})}, tolerance=float(decl.get("tolerance", 0.0)),
        memory_gb=decl.get("memory_gb"), line=line,
    )


_rules: str | None = None


def _validated_mark(path: Path) -> str:
    """What a source's memo records once its FIGURE passed _validate: the file's name (the
    default figure name comes from it) and these rules (this module's own digest)."""
    global _rules
    if _rules is None:
        import hashlib

        _rules = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return f"{path.name}:{_rules}"


def _profile_params(where: str, decl: dict) -> dict[str, dict]:
    """The params of every profile, merged (profiles.params_of) and checked: base `params` plus
    per-profile overrides of known params."""
    base = decl["params"]
    overrides = decl.get("profiles", {})
    if not isinstance(base, dict):
        raise FigureError(f"{where}: 'params' must be a dict of params, not {base!r}")
    if not isinstance(overrides, dict):
        raise FigureError(f"{where}: 'profiles' must map profile names to params, not {overrides!r}")
    for prof, values in overrides.items():
        if prof not in PROFILES:
            raise FigureError(f"{where}: unknown profile {prof!r}.{did_you_mean(str(prof), PROFILES)}",
                              tip=f"profiles are {', '.join(PROFILES)}")
        if not isinstance(values, dict):
            raise FigureError(f"{where}: params of profile {prof!r} must be a dict, not {values!r}")
    for prof, values in overrides.items():
        for key in values:
            if key not in base:
                raise FigureError(f"{where}: profile {prof!r} sets {key!r}, which is not in 'params'."
                                  f"{did_you_mean(str(key), base)}", tip="declare every param in 'params'")
    merged = {prof: params_of(decl, prof) for prof in PROFILES}
    for prof, values in merged.items():
        for key, value in values.items():
            if not isinstance(key, str) or not _json_value(value):
                raise FigureError(f"{where}: param {key!r} of profile {prof!r} must be a JSON value (string, "
                                  f"number, bool, None, list, dict), not {type(value).__name__}")
    return merged


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
