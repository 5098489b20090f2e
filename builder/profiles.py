"""The build profiles, defined once: their names, what each is for, the default one and the
default timeouts; and what a FIGURE declaration implies beyond its literal: a figure's params
for a profile, and its name when it declares none (the file's stem, `_` -> `-`). The figure's
own process imports this module (builder.script): it imports nothing.

A FIGURE declares its base `params` and, per profile, only what differs:

    "params": {"steps": 2000, "width": 64},
    "profiles": {"smoke": {"steps": 20}, "full": {"steps": 20000}},

The params of a profile are the base params updated with that profile's overrides (all
profiles optional; `params` is required, `{}` when the figure has none).
"""

from __future__ import annotations

PROFILES = ("smoke", "quick", "full")
DEFAULT = "quick"
HELP = "smoke: seconds (tests); quick: the default deck on a laptop CPU; full: a GPU."
DEFAULT_TIMEOUT = {"smoke": 120, "quick": 1800, "full": 6 * 3600}  # seconds


def params_of(decl: dict, profile: str) -> dict:
    """The params of one profile of a (validated) FIGURE: base params, then that profile's
    overrides. The one place where they are merged: the key, the run and a script run alone
    all get them from here."""
    return {**decl.get("params", {}), **(decl.get("profiles") or {}).get(profile, {})}


def figure_name(script) -> str:
    """A figure's name when its FIGURE declares none: its file's stem, `_` -> `-`
    (figures/param_counts.py -> param-counts)."""
    return str(script).rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("_", "-")
