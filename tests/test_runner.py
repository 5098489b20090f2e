"""The runner: failures, timeouts, kills, parallel jobs, --frozen."""

import json
import os
import signal
import subprocess
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from builder import launch
from builder.cache import Cache
from conftest import add_figure, start


def entries(root, name):
    return [p for p in (root / "cache" / name).glob("*")] if (root / "cache" / name).exists() else []


def test_failing_figure_shows_script_path_and_log_tail(deck, run_ces):
    add_figure(deck, "boom", 'print("computing…")\nraise RuntimeError("la courbe diverge")\n')
    out = run_ces(deck, "build", "--profile", "smoke", check=False)
    assert out.returncode == 1
    assert "FAILED   boom: exit 1" in out.stdout and "figures/boom.py" in out.stdout
    assert "RuntimeError: la courbe diverge" in out.stdout  # the log tail
    assert "Error: 1 figure(s) failed: boom" in out.stderr and "Tip:" in out.stderr
    assert "Traceback" not in out.stderr  # ces itself does not crash
    assert entries(deck, "boom") == []
    assert not list((deck / "cache" / ".tmp").glob("boom-*"))


def test_keep_going_builds_the_independent_figures(deck, run_ces):
    add_figure(deck, "boom", "raise SystemExit(3)\n")
    add_figure(deck, "after-boom", 'run.save_json("out.json", 1)\n', needs=["boom"])
    out = run_ces(deck, "build", "--profile", "smoke", "--keep-going", check=False)
    assert out.returncode == 1
    assert "ran      line" in out.stdout
    assert "skipped  after-boom (upstream boom failed)" in out.stdout
    assert len(entries(deck, "line")) == 1


def test_timeout_kills_the_figure(deck, run_ces):
    add_figure(deck, "slow", "import time\ntime.sleep(60)\n", timeout=1)
    start = time.time()
    out = run_ces(deck, "build", "--profile", "smoke", "--keep-going", check=False)
    assert time.time() - start < 30
    assert "slow: timed out after 1 s" in out.stdout
    assert entries(deck, "slow") == []


def test_missing_and_undeclared_outputs_are_errors(deck, run_ces):
    add_figure(deck, "lazy", "pass\n")
    add_figure(deck, "sloppy", 'run.save_json("out.json", 1)\n(run.outdir / "extra.txt").write_text("x")\n')
    out = run_ces(deck, "build", "--profile", "smoke", "--keep-going", check=False)
    assert "lazy: did not write declared output(s): out.json" in out.stdout
    assert "sloppy: wrote 1 undeclared file(s): extra.txt" in out.stdout


def test_writing_outside_the_output_directory_is_an_error(deck, run_ces):
    add_figure(deck, "vandal", 'open("figures/data/offset.txt", "w").write("0")\nrun.save_json("out.json", 1)\n')
    out = run_ces(deck, "build", "--profile", "smoke", "--keep-going", check=False)
    assert "vandal: wrote outside its output directory: figures/data/offset.txt" in out.stdout


def test_non_json_output_is_a_clear_error(deck, run_ces):
    add_figure(deck, "setty", 'run.save_json("out.json", {"a": {1, 2}})\n')
    out = run_ces(deck, "build", "--profile", "smoke", "--keep-going", check=False)
    assert "out.json is not JSON-serialisable" in out.stdout


def test_frozen_fails_listing_every_stale_figure(deck, run_ces):
    add_figure(deck, "other", 'run.save_json("out.json", 2)\n')
    out = run_ces(deck, "build", "--profile", "smoke", "--frozen", check=False)
    assert out.returncode == 3
    assert "--frozen: 2 figure(s) would need computing" in out.stderr
    assert "line (missing" in out.stderr and "other (missing" in out.stderr
    assert not (deck / "cache" / "line").exists()  # nothing computed
    run_ces(deck, "build", "--profile", "smoke")
    run_ces(deck, "build", "--profile", "smoke", "--frozen")


def test_parallel_jobs_run_independent_figures_together(deck, run_ces):
    for i in range(2):
        add_figure(deck, f"nap{i}", 't0 = time.time()\ntime.sleep(4)\nrun.save_json("out.json", [t0, time.time()])\n')
    run_ces(deck, "build", "--profile", "smoke", "--jobs", "2")
    assert len(entries(deck, "nap0")) == len(entries(deck, "nap1")) == 1
    (a0, a1), (b0, b1) = (json.loads((entries(deck, n)[0] / "out" / "out.json").read_text()) for n in ("nap0", "nap1"))
    assert a0 < b1 and b0 < a1, "the two naps did not overlap"  # whatever the machine's load


def test_killed_build_leaves_no_entry_and_next_build_finishes(deck, run_ces):
    add_figure(deck, "long", 'import time\nprint("started", flush=True)\ntime.sleep(30)\nrun.save_json("out.json", 1)\n')
    proc = start(deck, "build", "--profile", "smoke")
    log = deck / "cache" / ".logs" / "long.log"
    for _ in range(200):
        if log.exists() and "started" in log.read_text():
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("figure never started")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert entries(deck, "long") == []
    staged = list((deck / "cache" / ".tmp").glob("long-*"))
    assert all(not (s / "manifest.json").exists() for s in staged)
    time.sleep(0.5)  # the figure dies with its parent (PR_SET_PDEATHSIG)
    orphans = subprocess.run(["pgrep", "-f", str(deck / "cache" / ".tmp" / "long-")], capture_output=True, text=True)
    assert orphans.stdout.strip() == "", "the figure outlived the killed ces"
    # Rewrite the figure to be quick and rebuild: the line entry (complete before) is reused.
    (deck / "figures" / "long.py").write_text((deck / "figures" / "long.py").read_text().replace("time.sleep(30)", "pass"))
    rebuilt = run_ces(deck, "build", "--profile", "smoke")
    assert "ran      long" in rebuilt.stdout
    assert not (deck / "cache" / ".tmp").exists() or not list((deck / "cache" / ".tmp").iterdir())
    assert Cache(deck).entries("long")


def test_two_builds_at_once_compute_each_figure_once(deck):
    add_figure(deck, "counted", 'import time\ntime.sleep(1)\nrun.save_json("out.json", 1)\n')
    a = start(deck, "build", "--profile", "smoke")
    time.sleep(0.3)
    b = start(deck, "build", "--profile", "smoke")
    out_a, out_b = a.communicate(timeout=60)[0], b.communicate(timeout=60)[0]
    assert a.returncode == b.returncode == 0, out_a + out_b
    assert (out_a + out_b).count("ran      counted") == 1
    assert "Waiting for another ces build" in out_a + out_b
    assert len(entries(deck, "counted")) == 1


def test_memory_limit_stops_a_greedy_figure(deck, run_ces):
    add_figure(deck, "greedy", 'blob = bytearray(4 * 2**30)\nrun.save_json("out.json", 1)\n')
    script = deck / "figures" / "greedy.py"
    script.write_text(script.read_text().replace("'needs': []", "'needs': [], 'memory_gb': 1"))
    out = run_ces(deck, "build", "--profile", "smoke", "--keep-going", check=False)
    assert "FAILED   greedy: exit 1" in out.stdout and "MemoryError" in out.stdout
    assert "ran      line" in out.stdout


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


DAEMON = '''
    import subprocess, sys
    d = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)  # MARK"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run.save_json("out.json", {"daemon": d.pid})
    print("daemon", d.pid, flush=True)
'''


def _marked(mark: str) -> list[int]:
    """Host pids of the processes whose command line carries mark (a figure sees the pids of
    its own PID namespace, not these)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if mark.encode() in Path(f"/proc/{pid}/cmdline").read_bytes() and _alive(int(pid)):
                found.append(int(pid))
        except OSError:
            pass
    return found


def _gone(mark: str, seconds: float = 5.0) -> bool:
    deadline = time.time() + seconds
    while _marked(mark) and time.time() < deadline:
        time.sleep(0.05)
    return not _marked(mark)


def test_a_daemon_in_its_own_session_does_not_outlive_its_figure(deck, run_ces):
    mark = f"ces-daemon-{uuid.uuid4().hex}"
    add_figure(deck, "spawner", DAEMON.replace("MARK", mark))
    run_ces(deck, "build", "--profile", "smoke", "spawner")
    try:
        assert _gone(mark), "the figure's daemon outlived it"
    finally:
        for pid in _marked(mark):
            os.kill(pid, signal.SIGKILL)


def test_a_killed_ces_leaves_no_figure_process_running(deck, run_ces):
    """kill -9 of ces: its figure's PID namespace goes with it (PR_SET_PDEATHSIG on its holder),
    daemon included; where there is no namespace, the next build kills what was left."""
    mark = f"ces-daemon-{uuid.uuid4().hex}"
    add_figure(deck, "spawner", textwrap.dedent(DAEMON.replace("MARK", mark)) + "time.sleep(60)\n")
    proc = start(deck, "build", "--profile", "smoke", "spawner")
    log = deck / "cache" / ".logs" / "spawner.log"
    deadline = time.time() + 30
    while not (log.exists() and "daemon" in log.read_text()):
        assert time.time() < deadline and proc.poll() is None, "the figure never started its daemon"
        time.sleep(0.05)
    assert _marked(mark)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        if not launch.containment()[0]:   # no PID namespace here: the next build's sweep
            (deck / "figures" / "spawner.py").write_text((deck / "figures" / "spawner.py").read_text()
                                                         .replace("time.sleep(60)", "pass"))
            run_ces(deck, "build", "--profile", "smoke", "spawner")
        assert _gone(mark), "a process of the killed build's figure is still running"
    finally:
        for pid in _marked(mark):
            os.kill(pid, signal.SIGKILL)
