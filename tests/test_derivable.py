"""The first slice of the talk: the slide's f(x), made differentiable and trained with autograd."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # runs a real figure script (PyTorch)


def test_derivable_figure_learns_the_threshold(tmp_path):
    subprocess.run([sys.executable, "figures/derivable.py", "--profile", "smoke", "--out", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    data = json.loads((tmp_path / "derivable.json").read_text())
    k, target = data["params"]["k"], data["params"]["target"]
    # The talk's branch: f(3) is 6 or 9, never the talk's target 10.
    assert data["hard_values"] == [6.0, 9.0]
    # The relaxation x*(3 - sigmoid(k(x - C))) reaches f(3) = 8 at C = 3 + ln2/k (solved by hand here).
    assert math.isclose(data["C_exact"], 3 + math.log(2) / k)
    assert abs(data["C_final"] - data["C_exact"]) < 1e-3
    assert abs(data["f3_final"] - target) < 1e-3
    losses = data["history"]["loss"]
    assert losses[-1] < losses[0] * 1e-4 and len(losses) == data["params"]["steps"]
    assert (tmp_path / "derivable.svg").read_text().lstrip().startswith("<?xml")
