import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def deck(tmp_path):
    """A copy of the tiny deck in tests/fixtures/minideck: one figure, two slides."""
    root = tmp_path / "deck"
    shutil.copytree(FIXTURES / "minideck", root)
    return root


def ces(root, *args, check=True, env=None, timeout=120):
    """Run the real `ces` command in a deck; returns the CompletedProcess."""
    proc = subprocess.run([sys.executable, "-m", "builder.cli", *args], cwd=root, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"ces {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def run_ces():
    return ces
