"""`ces verify` recomputes into scratch and compares with the cache."""

import pytest

from builder.errors import ExitCode
from conftest import add_figure


def add(root, name, body, **decl):
    add_figure(root, name, body, outputs=(f"{name}.json",), **decl)


@pytest.mark.slow
def test_verify_reports_identical_noisy_and_nondeterministic(deck, run_ces):
    add(deck, "clock", 'run.save_json("clock.json", {"t": time.time()})\n')
    add(deck, "noisy", 'run.save_json("noisy.json", {"x": 1.0 + (time.time() % 1) * 1e-12})\n', tolerance=1e-9)
    run_ces(deck, "build", "--profile", "smoke")
    out = run_ces(deck, "verify", "--profile", "smoke", check=False)
    assert out.returncode == ExitCode.VERIFY_MISMATCH == 6
    assert "identical        line" in out.stdout
    assert "within-tolerance noisy" in out.stdout
    assert "differs          clock: clock.json (max relative difference" in out.stdout
    assert "1/3 figures bit-reproducible" in out.stdout
    assert "not reproduced: clock" in out.stderr
    ok = run_ces(deck, "verify", "--profile", "smoke", "line")
    assert "1/1 figures bit-reproducible" in ok.stdout
    assert not list((deck / "cache" / ".tmp").glob("verify-*"))  # scratch removed, cache untouched


@pytest.mark.slow
def test_a_figure_that_fails_when_recomputed_says_failed_and_why(deck, run_ces):
    """A figure that ran once, then fails in verify: « failed: reason » and its log, not the
    tolerance tip for numbers that differ."""
    add(deck, "once", 'if Path("figures/data/fail-now").exists():\n    raise SystemExit("asked to fail")\n'
                      'run.save_json("once.json", {"v": 1})\n')
    run_ces(deck, "build", "--profile", "smoke")
    (deck / "figures" / "data" / "fail-now").write_text("")   # stat()ed, never opened: not an input
    out = run_ces(deck, "verify", "--profile", "smoke", "once", check=False)
    assert out.returncode == ExitCode.VERIFY_MISMATCH, out.stdout + out.stderr
    assert "failed           once: " in out.stdout
    assert "once failed: " in out.stderr and "tolerance" not in out.stderr, out.stderr
