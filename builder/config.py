"""Configuration files: the one validation helper (for _quarto.yml, ces.yml and llm.yml) and
ces.yml, the project's settings, read once by this module only.

Validation is declarative: a field is checked against a `Kind` (what it accepts and how the
error says it), one line naming the file, the field (and the line where known):

    expect(value, INTEGER, "ces.yml: slurm.lost_after_s")        # the value, or a ConfigError
    expect_fields(data, {"partition": TEXT, "gpu": MAPPING}, "ces.yml: slurm")
    # -> "ces.yml: slurm.gpu: expected a mapping, not 3"; "ces.yml: slurm.parition: unknown key … Did you mean 'partition'?"

`refuse(value, what, where)` raises the same line for a value checked otherwise.
Kinds: TEXT, TEXTS (a text or a list of them), BOOL, NUMBER, MAPPING, LIST, `flag(*words)`
(true, false or one of the words), `choice(*words)`, `number(min=, max=, integer=)`,
`list_of(kind)`, `optional(kind)`, `any_of(*kinds)`, or `Kind(test, "what it is")` for anything else. `where`
is a text, or (for expect_fields) a function of the key giving one (the deck's YAML line numbers).

ces.yml: every command goes through `load` (cli does, at start-up): a ces.yml that is not UTF-8,
not YAML or not a mapping, that has a key ces does not know, or whose `executor:` or `slurm:`
section is malformed, is one ConfigError (one line, exit 5) wherever it is read. Other sections
are checked by the module that uses them, with this helper: `section(root, "check", fields=TABLE)`.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError
from .files import read_yaml
from .profiles import PROFILES

FILE = "ces.yml"
MISSING = object()   # a field that is not there


# -- the validation helper ------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """What a field accepts (`test`) and how an error names it (`what`: "a number ≥ 0")."""

    test: Callable[[Any], bool]
    what: str

    def __call__(self, value) -> bool:
        return self.test(value)


def shown(value) -> str:
    """A value as an error shows it: short, whatever its size (an aliased YAML bomb included)."""
    r = reprlib.Repr()
    r.maxstring, r.maxother, r.maxlevel = 60, 60, 3
    return r.repr(value)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_text(v) -> bool:
    return isinstance(v, str) and bool(v.strip()) and "\0" not in v


TEXT = Kind(_is_text, "a text")
TEXTS = Kind(lambda v: _is_text(v) or isinstance(v, list) and bool(v) and all(map(_is_text, v)),
             "a text or a list of texts")
BOOL = Kind(lambda v: isinstance(v, bool), "true or false")
NUMBER = Kind(_is_number, "a number")
MAPPING = Kind(lambda v: isinstance(v, dict), "a mapping")
LIST = Kind(lambda v: isinstance(v, list), "a list")


def flag(*words: str) -> Kind:
    """true, false, or one of `words`."""
    said = ["true", "false", *map(repr, words)]
    return Kind(lambda v: isinstance(v, bool) or isinstance(v, str) and v in words,
                ", ".join(said[:-1]) + " or " + said[-1])


def choice(*words) -> Kind:
    return Kind(lambda v: isinstance(v, str) and v in words, "one of " + ", ".join(map(str, words)))


def number(min: float | None = None, max: float | None = None, integer: bool = False, above: bool = False) -> Kind:
    """A finite number (an int when `integer`) ≥ min (> min when `above`) and ≤ max."""
    def test(v):
        return (_is_number(v) and (not integer or isinstance(v, int))
                and (min is None or (v > min if above else v >= min)) and (max is None or v <= max))
    what = "an integer" if integer else "a number"
    if min is not None and max is not None:
        what += f" from {min:g} to {max:g}"
    elif min is not None:
        what += f" {'>' if above else '≥'} {min:g}"
    elif max is not None:
        what += f" ≤ {max:g}"
    return Kind(test, what)


def optional(kind: Kind) -> Kind:
    """`kind`, or nothing (YAML's null)."""
    return Kind(lambda v: v is None or kind(v), f"{kind.what} (or null)")


def list_of(kind: Kind) -> Kind:
    return Kind(lambda v: isinstance(v, list) and all(kind(x) for x in v), f"a list, each {kind.what}")


def any_of(*kinds: Kind, what: str | None = None) -> Kind:
    return Kind(lambda v: any(k(v) for k in kinds), what or " or ".join(k.what for k in kinds))


def expect(value, kind: Kind, where: str, tip: str | None = None):
    """`value` when `kind` accepts it, else a ConfigError `WHERE: expected WHAT, not VALUE`."""
    if value is not MISSING and kind(value):
        return value
    got = ", found none" if value is MISSING else f", not {shown(value)}"
    raise ConfigError(f"{where}: expected {kind.what}{got}", tip=tip)


def refuse(value, what: str, where: str, tip: str | None = None):
    """A ConfigError `WHERE: expected WHAT, not VALUE` (a value no kind could accept here)."""
    raise ConfigError(f"{where}: expected {what}, not {shown(value)}", tip=tip)


def expect_fields(data, fields: dict[str, Kind], where: str | Callable[[str], str],
                  required=(), tip: str | None = None) -> dict:
    """`data`, a mapping whose every key is in `fields` and whose every value is of its kind;
    `required` keys must be there. `where`: a prefix ("ces.yml: slurm"; a field is then
    "ces.yml: slurm.KEY"), or a function of a key giving where it is."""
    def at(key) -> str:
        if callable(where):
            return where(key)
        return f"{where}.{key}" if key is not None else where

    if not isinstance(data, dict):
        keys = [k + ":" for k in fields][:4] + (["…"] if len(fields) > 4 else [])
        raise ConfigError(f"{at(None)}: expected a mapping ({', '.join(keys)}), not {shown(data)}", tip=tip)
    for key in data:
        if key not in fields:
            import difflib

            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{at(key)}: unknown key {key!r}.{hint}",
                              tip=tip or f"known keys: {', '.join(k + ':' for k in fields)}")
    for key in required:
        if key not in data:
            expect(MISSING, fields[key], at(key), tip=tip)
    for key, value in data.items():
        expect(value, fields[key], at(key), tip=tip)
    return data


# -- ces.yml ---------------------------------------------------------------------------------------
EXECUTORS = ("local", "slurm")
CLUSTERS = ("slurm", "local", "debug")  # submitit's: local and debug run the jobs on this machine
_PARAMS = Kind(lambda v: isinstance(v, dict), "a mapping of Slurm parameters")
_PROFILE_PARAMS = Kind(lambda v: isinstance(v, dict) and all(p in PROFILES and isinstance(x, dict) and
                                                             isinstance(x.get("gpu", {}), dict) for p, x in v.items()),
                       f"a mapping of profiles ({', '.join(PROFILES)}) to Slurm parameters")
#: The top-level keys of ces.yml, and what each is for (for the error's tip).
SECTIONS = {
    "executor": "where figures run: local or slurm (or a mapping profile → executor)",
    "slurm": "Slurm submission parameters",
    "check": "ces check's thresholds",
    "build": "limits of a figure's run (log size, …)",
}
TOP = {
    "executor": any_of(choice(*EXECUTORS), Kind(lambda v: isinstance(v, dict) and all(
        p in PROFILES and e in EXECUTORS for p, e in v.items()), "a mapping profile → executor"),
        what=f"one of {', '.join(EXECUTORS)} (or a mapping profile → executor)"),
    "slurm": MAPPING, "check": MAPPING, "build": MAPPING,
}
#: ces.yml's `slurm:`: what ces reads itself; any other key is a submitit parameter (partition:, …).
SLURM = {"cluster": choice(*CLUSTERS), "gpu": _PARAMS, "profiles": _PROFILE_PARAMS,
         "lost_after_s": number(min=0, above=True)}

_loaded: dict[Path, tuple[tuple, dict]] = {}   # root -> ((mtime, size), data): read once per command


def load(root: Path | None) -> dict:
    """The whole of ROOT/ces.yml ({} when there is none), its top level and its `executor:` and
    `slurm:` sections checked."""
    if root is None:
        return {}
    path = Path(root) / FILE
    try:
        st = path.stat()
    except OSError:
        return {}
    stamp = (st.st_mtime_ns, st.st_size)
    if path in _loaded and _loaded[path][0] == stamp:
        return _loaded[path][1]
    data = read_yaml(path) if path.is_file() else {}
    expect_fields(data, TOP, lambda k: FILE if k is None else f"{FILE}: {k}",
                  tip=f"ces.yml knows {', '.join(s + ':' for s in SECTIONS)}")
    slurm = data.get("slurm") or {}
    for key, kind in SLURM.items():
        if key in slurm:
            expect(slurm[key], kind, f"{FILE}: slurm.{key}")
    _loaded[path] = (stamp, data)
    return data


def section(root: Path | None, name: str, fields: dict[str, Kind] | None = None) -> dict:
    """One mapping section of ces.yml ({} when absent), its keys checked against `fields` when given."""
    assert name in SECTIONS, name
    value = load(root).get(name)
    if value is None:
        return {}
    if fields is not None:
        expect_fields(value, fields, f"{FILE}: {name}")
    return value
