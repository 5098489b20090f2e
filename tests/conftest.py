"""Shared test helpers: the fixture deck, the real `ces` command, figures written on the fly,
and the one rule for a missing tool (`require_tool`: fails under CI=true, skips elsewhere).

Markers (pyproject.toml): `slow` (seconds or more each: real figure scripts, kill loops) and
`browser` (Debian's chromium; always also `slow`). The quick loop is `pytest -m "not slow"`.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent
CES = [sys.executable, "-m", "builder.cli"]
TOOLS = {"chromium": ["/usr/bin/chromium", "chromium"], "actionlint": ["actionlint"], "node": ["node"],
         "pandoc": ["pandoc"], "sbatch": ["sbatch"], "bwrap": ["bwrap"], "unshare": ["unshare"]}


@pytest.fixture(autouse=True)
def _browser_tests_need_chromium(request):
    """A test marked `browser` needs Chromium: skipped without it, FAILED under CI=true."""
    if request.node.get_closest_marker("browser"):
        require_tool("chromium")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


def require_tool(name: str) -> str:
    """The path of a tool the test needs. Missing: the test FAILS under CI=true (CI must have
    every tool .ci/run installs), and is skipped elsewhere."""
    for candidate in TOOLS.get(name, [name]):
        found = candidate if os.path.isabs(candidate) and os.access(candidate, os.X_OK) else shutil.which(candidate)
        if found:
            return found
    _missing(f"{name} is not installed (.ci/run installs it)")


def require_module(name: str):
    """The module a test needs (imported), with require_tool's rule when it is missing."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"the Python package {name} is not installed")


def _missing(why: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture
def deck(tmp_path):
    """A copy of the tiny deck in tests/fixtures/minideck: one figure, two slides."""
    root = tmp_path / "deck"
    shutil.copytree(FIXTURES / "minideck", root)
    return root


def ces_env(env=None) -> dict:
    """The environment of a `ces` subprocess: this checkout's builder/ first on PYTHONPATH, even
    when a test sets PYTHONPATH (an editable install elsewhere must not be what is tested)."""
    # `ces build` runs `ces check` after rendering when Chromium is here (20-50 s); the tests of
    # that hook pass CES_NO_CHECK="" to have it.
    env = {"CES_NO_CHECK": "1", **os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def ces(root, *args, check=True, env=None, timeout=120, **kw):
    """Run the real `ces` command in a deck; returns the CompletedProcess (raises when it exits
    non-zero and check is true)."""
    proc = subprocess.run(CES + list(args), cwd=root, capture_output=True, text=True, env=ces_env(env),
                          timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"ces {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def start(root, *args, env=None, **kw) -> subprocess.Popen:
    """`ces` started in the background (stdout and stderr together, text)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    return subprocess.Popen(CES + list(args), cwd=root, text=True, env=ces_env(env), **kw)


@pytest.fixture
def run_ces():
    return ces


def add_figure(root, name, body, needs=(), outputs=("out.json",), **decl) -> Path:
    """figures/<name>.py: a FIGURE (empty params) then `body` (dedented) after `run = setup(FIGURE)`;
    `time` and `Path` are imported. `timeout=N` is the smoke profile's timeout."""
    if isinstance(decl.get("timeout"), (int, float)):
        decl["timeout"] = {"smoke": decl["timeout"]}
    decl = {"name": name, "caption": "c", "alt": "a", "outputs": list(outputs), "needs": list(needs),
            "params": {}, **decl}
    path = root / "figures" / f"{name.replace('-', '_')}.py"
    path.write_text(f"FIGURE = {decl!r}\nimport time\nfrom pathlib import Path\nfrom builder.script import setup\n"
                    "run = setup(FIGURE)\n" + textwrap.dedent(body))
    return path


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there) by `new` in a file."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
