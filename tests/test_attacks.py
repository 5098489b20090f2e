"""Hostile figures (issue 21): each test is an attack a figure script can make on ces, and
asserts what must hold — the project, the venv, the entry, ces itself untouched. Each of them
fails on the code before the confinement (shown in the report: run against that tree) and
passes here. Smoke-size: one small figure per attack in a copy of the minideck, run through
the real Runner (the real harness, guard and launch), or the real `ces` where ces is the target.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from builder import build as stage
from builder.cache import Cache
from builder.errors import BuildError
from builder.figures import discover
from builder.runner import Runner
from conftest import add_figure, require_tool, start


def run_figure(root: Path, name: str):
    """(outcome, printed lines, BuildError or None) of bringing one figure up to date."""
    lines: list[str] = []
    figures = discover(root)
    runner = Runner(root, figures, Cache(root), "smoke", echo=lines.append)
    try:
        return runner.build([name])[name], "\n".join(lines), None
    except BuildError as exc:
        return None, "\n".join(lines), exc


def entry_sound(root: Path, name: str) -> list[str]:
    """What is wrong with the figure's committed entries (their files against their manifest)."""
    bad = []
    for entry in Cache(root).entries(name):
        bad += entry.corrupt_files()
        extra = sorted(set(os.listdir(entry.path)) - {"manifest.json", "log.txt", "out"})
        bad += [f"{x} in the entry" for x in extra]
    return bad


def no_process_with(marker: str) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    return False
        except OSError:
            pass
    return True


# -- 1. ces follows nothing the figure planted in its staging directory ------------------------
@pytest.mark.parametrize("plant", ["log-link", "stray-file", "manifest-link"])
def test_what_a_figure_plants_in_its_staging_is_never_followed_nor_kept(deck, plant):
    victim = deck / "slides" / "index.qmd"
    before = victim.read_bytes()
    target = {"log-link": "log.txt", "stray-file": "extra.txt", "manifest-link": "manifest.json"}[plant]
    make = (f"os.symlink({str(victim)!r}, staging / {target!r})" if plant != "stray-file"
            else f"(staging / {target!r}).write_text('smuggled')")
    add_figure(deck, "planter", f"""
        import os
        staging = run.outdir.parent
        {make}
        run.save_json("out.json", {{"ok": 1}})
        print("LOG LINE FROM THE FIGURE")
    """)
    outcome, printed, err = run_figure(deck, "planter")
    assert victim.read_bytes() == before, "ces wrote the figure's log through a link it planted"
    assert err is not None and "staging" in printed, printed
    assert entry_sound(deck, "planter") == []


# -- 2. importing builder.sandbox does not lift the guard ---------------------------------------
def test_a_figure_importing_the_sandbox_is_confined_all_the_same(deck):
    slides, data = deck / "slides" / "index.qmd", deck / "figures" / "data" / "offset.txt"
    before = slides.read_bytes()
    add_figure(deck, "sneaky", f"""
        import builder.sandbox, ctypes, subprocess
        subprocess.run(["sh", "-c", "echo pwned >> {slides}"])
        ctypes.CDLL(None).unlink(b"{data}")
        run.save_json("out.json", {{"ok": 1}})
    """)
    run_figure(deck, "sneaky")
    assert slides.read_bytes() == before and data.exists()


@pytest.mark.slow
def test_a_confined_figure_still_runs_sandboxed_code(deck):
    require_tool("bwrap")
    add_figure(deck, "boxed", """
        from builder.sandbox import run_python
        r = run_python("ans = 6 * 7", value="ans", timeout=20)
        run.save_json("out.json", {"reason": r.reason, "value": r.value, "isolation": r.isolation})
    """)
    outcome, printed, err = run_figure(deck, "boxed")
    assert err is None, printed
    got = json.loads(outcome.entry.output("out.json").read_text())
    assert got["reason"] == "ok" and got["value"]["float"] == 42 and got["isolation"] == "bubblewrap", got
    assert outcome.entry.manifest["write_guard"], "the figure ran unconfined"


# -- 3. nothing of a figure outlives it -----------------------------------------------------------
@pytest.mark.slow
def test_a_tokenless_double_forked_daemon_cannot_touch_the_committed_entry(deck):
    marker = f"ces-daemon-{uuid.uuid4().hex}"
    daemon = (f"import os, time; os.fork() and os._exit(0); os.setsid(); os.fork() and os._exit(0); "
              f"time.sleep(1.5); open('out/out.json', 'w').write('forged'); open('out/extra', 'w').write('x')  # {marker}")
    add_figure(deck, "daemon", f"""
        import os, subprocess, sys
        os.chdir(run.outdir.parent)
        subprocess.Popen(["env", "-i", sys.executable, "-c", {daemon!r}], start_new_session=True)
        time.sleep(0.3)
        os.chdir("/")
        run.save_json("out.json", {{"ok": 1}})
    """)
    outcome, printed, err = run_figure(deck, "daemon")
    assert no_process_with(marker), "the daemon outlived its figure"
    time.sleep(2.5)
    assert no_process_with(marker)
    assert entry_sound(deck, "daemon") == []


# -- 6. the figure writes nowhere but its staging -------------------------------------------------
def test_a_figure_writes_nothing_outside_its_staging(deck, tmp_path):
    import sysconfig

    tag = uuid.uuid4().hex
    other = tmp_path / "other-project"
    other.mkdir()
    targets = [Path(sysconfig.get_paths()["purelib"]) / f"ces_attack_{tag}.pth", Path(f"/dev/shm/ces-attack-{tag}"),
               other / "planted", deck / "figures" / "__pycache__" / f"x_{tag}.pyc", Path(f"/tmp/ces-attack-{tag}")]
    add_figure(deck, "writer", f"""
        import os
        hit = []
        for t in {[str(t) for t in targets]!r}:
            try:
                os.makedirs(os.path.dirname(t), exist_ok=True)
                with open(t, "w") as f:
                    f.write("# planted by a figure\\n")
                hit.append(t)
            except OSError:
                pass
        names = ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR", "HF_HOME", "TORCH_HOME", "TMPDIR")
        run.save_json("out.json", {{"hit": hit, "env": {{n: os.environ.get(n) for n in names}},
                                   "staging": str(run.outdir.parent)}})
    """)
    try:
        outcome, printed, err = run_figure(deck, "writer")
        assert [t for t in targets if t.exists()] == []
        assert err is None, printed
        got = json.loads(outcome.entry.output("out.json").read_text())
        assert got["hit"] == []
        outside = {n: v for n, v in got["env"].items() if not (v or "").startswith(got["staging"] + "/tmp")}
        assert outside == {}, f"not under the figure's TMPDIR: {outside}"
    finally:
        for t in targets:
            if t.is_file():
                t.unlink()


# -- 8. materialise copies only what was committed ------------------------------------------------
@pytest.mark.parametrize("damage", ["link", "missing", "altered"])
def test_materialise_refuses_an_output_that_is_not_the_committed_one(deck, damage):
    add_figure(deck, "plain", 'run.save_json("out.json", {"ok": 1})\n')
    outcome, printed, err = run_figure(deck, "plain")
    assert err is None, printed
    out = outcome.entry.output("out.json")
    if damage == "link":
        out.unlink()
        out.symlink_to("/etc/hostname")
    elif damage == "missing":
        out.unlink()
    else:
        out.write_text('{"ok": 2}')
    with pytest.raises(BuildError):
        stage.materialise(deck, discover(deck), {"plain": outcome})
    assert not (deck / "slides" / "_figures" / "plain" / "out.json").exists()


# -- 9. a figure cannot stop or kill ces; its log is capped ---------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGSTOP", "SIGKILL"])
def test_a_figure_cannot_stop_or_kill_ces(deck, sig):
    add_figure(deck, "stopper", f"""
        import os, signal
        ces = int(os.environ["CES_LAUNCH"].split("-")[0])
        for pid in (ces, os.getppid()):
            try:
                os.kill(pid, signal.{sig})
            except OSError:
                pass
        time.sleep(30)
    """, timeout=3)
    proc = start(deck, "build", "--profile", "smoke", "stopper")
    try:
        out, _ = proc.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.communicate()
        pytest.fail("ces was stopped by its figure: its timeout never fired")
    assert proc.returncode == 1 and "timed out after 3 s" in out, (proc.returncode, out)


@pytest.mark.slow
def test_a_flooding_figure_leaves_a_capped_log_with_its_tail(deck):
    (deck / "ces.yml").write_text("build:\n  log_max_mb: 1\n")
    add_figure(deck, "flood", """
        import sys
        line = "x" * 1023 + "\\n"
        for _ in range(30 * 1024):
            sys.stdout.write(line)
        print("THE END")
        sys.stdout.flush()
        raise SystemExit(3)
    """)
    outcome, printed, err = run_figure(deck, "flood")
    log = deck / "cache" / ".logs" / "flood.log"
    assert log.stat().st_size < 1.1 * 2**20, log.stat().st_size
    assert log.read_text().rstrip().endswith("THE END")


def test_a_bad_log_cap_is_one_clear_error(deck):
    (deck / "ces.yml").write_text("build:\n  log_max_mb: lots\n")
    add_figure(deck, "plain", 'run.save_json("out.json", {"ok": 1})\n')
    from builder.errors import ConfigError
    with pytest.raises(ConfigError, match="build.log_max_mb"):
        run_figure(deck, "plain")


# -- 10/11. the sandbox wherever Python lives; its /tmp; smaller ones ------------------------------
@pytest.mark.slow
def test_the_sandbox_runs_an_interpreter_that_lives_under_tmp(tmp_path):
    require_tool("bwrap")
    venv = Path("/tmp") / f"ces-venv-{uuid.uuid4().hex[:8]}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    try:
        code = ("from builder import sandbox; r = sandbox.run_python("
                "'open(\"/tmp/x\", \"w\").write(\"1\"); print(open(\"/tmp/x\").read())', timeout=20); "
                "print(sandbox.isolation(), r.reason, r.stdout.strip(), r.stderr.strip()[-200:])")
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent), CES_SANDBOX="auto")
        p = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env,
                           timeout=120)
        assert p.stdout.split()[:3] == ["bubblewrap", "ok", "1"], p.stdout + p.stderr
    finally:
        import shutil
        shutil.rmtree(venv, ignore_errors=True)


def test_os_exit_in_a_figure_says_what_happened(deck):
    add_figure(deck, "quitter", """
        import os
        run.save_json("out.json", {"ok": 1})
        os._exit(0)
    """)
    outcome, printed, err = run_figure(deck, "quitter")
    assert err is not None and "os._exit" in printed, printed
    assert "could not write the cache" not in printed


def test_a_thousand_undeclared_outputs_make_a_short_error_said_once(deck):
    add_figure(deck, "litter", """
        for i in range(1000):
            (run.outdir / (f"{i:04d}-" + "n" * 200)).write_text("x")
        run.save_json("out.json", {"ok": 1})
    """)
    outcome, printed, err = run_figure(deck, "litter")
    assert err is not None and "undeclared" in printed
    assert len(printed) + len(str(err)) < 2000, (len(printed), len(str(err)))
    assert "undeclared" not in str(err)


@pytest.mark.slow
def test_a_fifo_planted_as_the_record_does_not_hang_ces(deck):
    add_figure(deck, "fifo", """
        import os
        os.mkfifo(run.outdir.parent / "record.json.new")
        os.replace(run.outdir.parent / "record.json.new", run.outdir.parent / "record.json")
        raise SystemExit(1)
    """, timeout=5)
    proc = start(deck, "build", "--profile", "smoke", "fifo")
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("ces hung on the FIFO its figure planted")
    assert proc.returncode == 1 and "FAILED   fifo" in out, out


@pytest.mark.slow
def test_the_sandbox_broker_runs_no_project_code_unconfined(deck, tmp_path):
    require_tool("bwrap")
    planted = tmp_path / f"planted-{uuid.uuid4().hex}"
    (deck / "figures" / "evilpkg").mkdir()   # looking up evilpkg.mod imports evilpkg
    (deck / "figures" / "evilpkg" / "__init__.py").write_text(f"open({str(planted)!r}, 'w').write('escaped')\n")
    add_figure(deck, "preloader", """
        from builder.sandbox import SandboxError, run_python
        try:
            run_python("ans = 1", value="ans", preload=("evilpkg.mod",), timeout=20)
        except (SandboxError, ImportError, ModuleNotFoundError):
            pass
        run.save_json("out.json", {"ok": 1})
    """)
    run_figure(deck, "preloader")
    assert not planted.exists(), "project code ran outside the figure's confinement"
