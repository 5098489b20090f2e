"""The project on disk: where its root is, and how a file is written so that a reader never
sees half of it (the one atomic write: a temporary file beside it, then a rename). Imports
nothing of ces at module level: the figure-side runtime uses it too."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

PROJECT_FILE = "_quarto.yml"   # what marks a deck's root


def find_root(start: Path | None = None, markers=(PROJECT_FILE,), fallback: Path | None = None) -> Path:
    """The nearest directory (from `start`, default the working directory, upwards) holding one
    of `markers`, tried in order; else `fallback`, else a ConfigError."""
    here = (start or Path.cwd()).resolve()
    for marker in markers:
        for d in (here, *here.parents):
            if (d / marker).is_file():
                return d
    if fallback is not None:
        return fallback
    from .errors import ConfigError  # here: a figure's process writes files without importing click

    raise ConfigError(f"no {markers[0]} in {here} or above", tip="run ces inside the deck's repository")


def read_yaml(path: Path):
    """A YAML configuration file (ces.yml, llm.yml): its data ({} when empty); a ConfigError
    naming the file when it is not UTF-8 or not YAML."""
    import yaml
    from .errors import ConfigError

    name = Path(path).name
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})", tip="save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: not valid YAML ({str(exc).splitlines()[0]})") from None


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` whole or not at all (a unique temporary file, then os.replace)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(path: Path, data, indent: int | None = 1) -> None:
    """atomic_write of `data` as sorted JSON with a final newline."""
    atomic_write(path, json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False) + "\n")
