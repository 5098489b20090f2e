"""builder.guard on its own: a process confined to its staging directory writes nothing
else anywhere, whatever it starts, and cannot signal a process outside its domain. Each test
also runs with the guard off (`broken`), where the same attack must succeed: the test can fail.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from builder import guard

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(guard.abi() < 1, reason="no Landlock in this kernel")


def confined(tmp_path, body: str, guard_on: bool) -> dict:
    """Run body in a child that confines itself to tmp_path/staging first; its JSON result."""
    staging = tmp_path / "staging"
    (staging / "out").mkdir(parents=True)
    code = textwrap.dedent(f"""
        import json, os, signal, subprocess, sys
        sys.path.insert(0, {REPO!r})
        from builder import guard
        staging = {str(staging)!r}
        how = guard.confine(staging)
        result = {{"how": how}}
    """) + textwrap.dedent(body) + "\nprint(json.dumps(result))\n"
    env = dict(os.environ, CES_WRITE_GUARD="on" if guard_on else "off")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[-1])


@pytest.mark.parametrize("guard_on", [True, False], ids=["guarded", "broken"])
def test_writes_anywhere_but_the_staging_are_refused_children_included(tmp_path, guard_on):
    beside = tmp_path / "beside.txt"
    beside.write_text("kept")
    result = confined(tmp_path, f"""
        def attempt(fn):
            try:
                fn()
                return "done"
            except OSError as exc:
                return exc.strerror
        result["append"] = attempt(lambda: open({str(beside)!r}, "a").write("x"))
        result["create"] = attempt(lambda: open({str(tmp_path / "new.txt")!r}, "w").write("x"))
        result["shell"] = subprocess.run(["sh", "-c", "echo x >> {beside}"]).returncode
        result["unlink_c"] = __import__("ctypes").CDLL(None).unlink({str(beside).encode()!r})
        result["own"] = attempt(lambda: open(os.path.join(staging, "out", "a.json"), "w").write("{{}}"))
        result["tmp"] = attempt(lambda: open(os.path.join(os.environ["TMPDIR"], "t"), "w").write("x"))
        result["devnull"] = attempt(lambda: open(os.devnull, "w").write("x"))
    """, guard_on)
    assert result["own"] == result["tmp"] == result["devnull"] == "done"
    if guard_on:
        assert result["how"].startswith("landlock")
        assert beside.read_text() == "kept" and not (tmp_path / "new.txt").exists()
        assert result["append"] == result["create"] == "Permission denied"
        assert result["shell"] != 0 and result["unlink_c"] == -1
    else:
        assert not beside.exists() and (tmp_path / "new.txt").exists()


@pytest.mark.parametrize("guard_on", [True, False], ids=["guarded", "broken"])
def test_a_confined_process_cannot_signal_its_parent(tmp_path, guard_on):
    if guard.abi() < 6:
        pytest.skip("Landlock signal scoping needs ABI 6 (Linux 6.12)")
    old = signal.signal(signal.SIGUSR1, signal.SIG_IGN)   # the broken run's signal must not hurt pytest
    try:
        result = confined(tmp_path, f"""
            try:
                os.kill({os.getpid()}, signal.SIGUSR1)
                result["kill"] = "sent"
            except OSError as exc:
                result["kill"] = exc.strerror
        """, guard_on)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert result["kill"] == ("Operation not permitted" if guard_on else "sent")


def test_the_private_environment_points_under_tmpdir(tmp_path):
    env = guard.private_env(str(tmp_path / "tmp"))
    assert all(v.startswith(str(tmp_path / "tmp")) for v in env.values())
    assert {"HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR", "HF_HOME", "TORCH_HOME", "TMPDIR"} <= set(env)
