"""builder.launch: timeout, group kill, leftovers in their own session, limits, die with parent.

Each safety property is also shown failing: the `broken` case disables the mechanism under test
and asserts that the phenomenon then does happen (so the check can see it)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from builder import launch


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_dead(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_exit_code_and_log(tmp_path):
    log = tmp_path / "log"
    r = launch.run([sys.executable, "-c", "import sys; print('hello'); sys.exit(3)"], tmp_path, None,
                   log_path=log)
    assert r.returncode == 3 and r.problem == "exit 3" and not r.timed_out
    assert launch.tail(log) == ["hello"]


def test_timeout_kills_the_whole_group(tmp_path):
    pidfile = tmp_path / "pid"
    code = f"import subprocess; p = subprocess.Popen(['sleep', '60']); open({str(pidfile)!r}, 'w').write(str(p.pid)); p.wait()"
    r = launch.run([sys.executable, "-c", code], tmp_path, None, timeout=1.0)
    assert r.timed_out and r.returncode is None and r.problem == "timed out after 1 s"
    assert wait_dead(int(pidfile.read_text()))


@pytest.mark.parametrize("broken", [False, True], ids=["guarded", "broken-no-leftover-kill"])
def test_child_in_its_own_session_does_not_outlive_the_launch(tmp_path, monkeypatch, broken):
    if broken:
        monkeypatch.setattr(launch, "kill_marked", lambda token: 0)
    pidfile = tmp_path / "pid"
    code = textwrap.dedent(f"""
        import subprocess
        p = subprocess.Popen(['sleep', '60'], start_new_session=True)
        open({str(pidfile)!r}, 'w').write(str(p.pid))
    """)
    r = launch.run([sys.executable, "-c", code], tmp_path, None, timeout=10)
    assert r.returncode == 0
    pid = int(pidfile.read_text())
    try:
        if broken:
            assert alive(pid), "without the leftover kill the daemon survives: the test can see it"
        else:
            assert wait_dead(pid)
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_tiny_memory_limit_is_one_clear_phrase(tmp_path):
    r = launch.run([sys.executable, "-c", "print(1)"], tmp_path, None, memory_bytes=100 * 1024)
    assert r.returncode != 0 or r.error
    assert r.problem and "Traceback" not in r.problem and "\n" not in r.problem


def test_cpu_limit(tmp_path):
    r = launch.run([sys.executable, "-c", "while True: pass"], tmp_path, None, timeout=20, cpu_seconds=1)
    assert r.problem and ("SIGXCPU" in r.problem or "SIGKILL" in r.problem)


@pytest.mark.parametrize("broken", [False, True], ids=["guarded", "broken-no-pdeathsig"])
def test_child_dies_with_its_parent(tmp_path, broken):
    pidfile = tmp_path / "pid"
    parent = textwrap.dedent(f"""
        import sys, threading
        from builder import launch
        if {broken!r}:
            launch.die_with_parent = lambda: None
        def started(proc):
            open({str(pidfile)!r}, 'w').write(str(proc.pid))
        # a child in its own session that ignores its group: only PDEATHSIG reaches it (its token
        # renamed, so that no ces' kill_orphans on this machine takes it for a leftover)
        launch.kill_group = lambda proc: proc.wait()
        launch.TOKEN_ENV = "CES_LAUNCH_TEST_ONLY"
        launch.run(['sleep', '60'], '.', None, on_start=started)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(launch.__file__).rsplit("/builder/", 1)[0],
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", parent], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 20
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    child = int(pidfile.read_text())
    proc.kill()
    proc.wait()
    try:
        if broken:
            time.sleep(0.5)
            assert alive(child), "without PDEATHSIG the child outlives its parent: the test can see it"
        else:
            assert wait_dead(child)
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)


def test_exit_problem_words():
    assert launch.exit_problem(-9).startswith("killed by SIGKILL")
    assert launch.exit_problem(-15) == "killed by SIGTERM"
    assert launch.exit_problem(2) == "exit 2"
