"""The deck: it builds (from the committed cache, else by computing the figures), every figure
is shown on a slide, and `ces check` finds no layout problem (Chromium at 1280×720)."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ces(*args):
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800, check=False)


def figure_names():
    """The `name` of every figure script's FIGURE (read as ces reads it, without running it)."""
    names = []
    for script in sorted((ROOT / "figures").glob("[!_]*.py")):
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["FIGURE"]:
                names.append(ast.literal_eval(node.value).get("name", script.stem.replace("_", "-")))
    return names


@pytest.fixture(scope="module")
def site():
    proc = ces("build", "--no-check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ROOT / "_site"


def test_every_figure_is_on_a_slide(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    assert figure_names()
    for name in figure_names():
        assert f"_figures/{name}/" in html, f"figure {name} is on no slide"


def test_the_layout_has_no_problem(site):
    if not (shutil.which("chromium") or os.access("/usr/bin/chromium", os.X_OK) or os.environ.get("CES_CHROMIUM")):
        pytest.skip("ces check needs Chromium (apt-get install chromium)")
    proc = ces("check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
