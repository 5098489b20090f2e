"""The locked environment (constraints.txt, written by pip-compile): it pins every package ces and
the figures import, and a fresh clone installed from it finds every committed figure fresh."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
CI = os.environ.get("CI") == "true"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    return {_norm(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==(\S+)", text, re.M)}


def required() -> set[str]:
    """What must be pinned: ces's dependencies and extras, and every third-party package that a
    committed cache entry records as imported by its figure."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    names = {_norm(re.split(r"[<>=!~\[; ]", r)[0]) for r in reqs}
    for manifest in (ROOT / "cache").glob("*/*/manifest.json"):
        names |= {_norm(p) for p in json.loads(manifest.read_text()).get("packages", {})}
    return names


def unpinned(lock_text: str) -> set[str]:
    return required() - set(pins(lock_text))


@pytest.mark.parametrize("broken", [None, "numpy", "pyyaml"])
def test_the_lock_pins_every_import(broken):
    text = LOCK.read_text()
    assert "pip-compile" in text.split("\n\n")[0] or "pip-compile" in text[:600]  # the command is in the header
    if broken:
        text = re.sub(rf"^{broken}==.*$", "", text, flags=re.M | re.I)
    assert unpinned(text) == ({broken} if broken else set())


def drift() -> list[str]:
    out = []
    for name, version in pins(LOCK.read_text()).items():
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            have = "not installed"
        if have != version:
            out.append(f"{name} {version} (here: {have})")
    return out


def _status(clone: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(clone)
    proc = subprocess.run([sys.executable, "-m", "builder.cli", "status"], cwd=clone, capture_output=True,
                          text=True, timeout=300, env=env, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def all_fresh(rc: int, out: str) -> bool:
    """`ces status`: exit 0, and every figure line says fresh (nothing to run)."""
    head = re.search(r"Profile \w+: (\d+) figures \((\d+) fresh\)", out)
    states = re.findall(r"^  (fresh|stale|missing|corrupt)\s", out, re.M)
    return rc == 0 and head is not None and head[1] == head[2] and states and set(states) == {"fresh"}


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("git and a git checkout are needed") if CI else pytest.skip("not a git checkout")
    late = drift()
    if late:
        msg = "this environment is not the lock (pip install -c constraints.txt -e '.[test]'): " + ", ".join(late)
        pytest.fail(msg) if CI else pytest.skip(msg)
    dest = tmp_path_factory.mktemp("clone") / "ces"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True, timeout=300)
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True])
def test_a_fresh_clone_with_the_lock_is_all_fresh(clone, broken):
    """What `git clone` gives (the committed cache and code, nothing from this worktree), with the
    locked packages installed: every figure fresh. The broken case edits one figure's code."""
    if broken:
        script = clone / "figures" / "derivable.py"
        saved = script.read_text()
        script.write_text(saved + "\n_CES_TEST_EDIT = 1\n")
    try:
        rc, out = _status(clone)
    finally:
        if broken:
            script.write_text(saved)
    assert all_fresh(rc, out) == (not broken), out
