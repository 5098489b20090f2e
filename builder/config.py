"""ces.yml, the project's settings: read once, by this module only.

Every command and every section (`executor:`, `slurm:`, `check:`, `build:`) goes through `load`:
a ces.yml that is not UTF-8, not YAML or not a mapping, or that has a key ces does not know,
is one ConfigError (one line, exit 5) wherever it is read. Each section's values are checked
by the module that uses them.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError
from .files import read_yaml

FILE = "ces.yml"
#: The top-level keys of ces.yml, and what each is for (for the error's tip).
SECTIONS = {
    "executor": "where figures run: local or slurm (or a mapping profile → executor)",
    "slurm": "Slurm submission parameters",
    "check": "ces check's thresholds",
    "build": "limits of a figure's run (log size, …)",
}


def load(root: Path | None) -> dict:
    """The whole of ROOT/ces.yml ({} when there is none), its top level checked."""
    if root is None:
        return {}
    path = Path(root) / FILE
    if not path.is_file():
        return {}
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{FILE}: must be a mapping of sections ({', '.join(SECTIONS)})")
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(f"{FILE}: unknown key {key!r}", tip=f"ces.yml knows {', '.join(s + ':' for s in SECTIONS)}")
    return data


def section(root: Path | None, name: str) -> dict:
    """One mapping section of ces.yml ({} when absent); a ConfigError when it is not a mapping."""
    assert name in SECTIONS, name
    value = load(root).get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{FILE}: {name}: must be a mapping ({SECTIONS[name]})")
    return value
