"""What a figure read is recorded from outside it (builder.trace: strace follows every process
of the figure), so that an entry goes stale when any file it read changes — read by a child
process, a C library or a static binary — and a figure cannot take a read back afterwards.

Each test builds a figure, changes the file it read, and asks `ces status`: `stale` is the
right answer. On the code before builder.trace (the audit hook alone, in the figure's own
process) each of them says `fresh`: run with PYTHONPATH=<a checkout of that code> to see it.
"""

import json
import shutil
import subprocess

import pytest

from conftest import add_figure, ces, require_tool

DATA = "figures/data/offset.txt"   # in the fixture deck


def status_of(root, name):
    out = ces(root, "status", "--profile", "smoke").stdout
    line = next(l for l in out.splitlines() if l.split()[1:2] == [name])
    return line.split()[0]


def built_then_changed(deck, name, body, change=DATA, **decl):
    """Build the figure, check it is fresh, change the file; its state now."""
    require_tool("strace")
    add_figure(deck, name, body, **decl)
    ces(deck, "build", "--profile", "smoke", name)
    assert status_of(deck, name) == "fresh"
    path = deck / change
    path.write_bytes(path.read_bytes() + b"0\n")
    return status_of(deck, name)


def test_a_file_read_by_a_child_process_is_recorded(deck):
    body = f"""
    import subprocess
    n = subprocess.run(["cat", "{DATA}"], capture_output=True, text=True, check=True).stdout
    run.save_json("out.json", n)
    """
    assert built_then_changed(deck, "by-cat", body) == "stale"


def test_a_file_read_by_sqlite_is_recorded(deck):
    import sqlite3

    db = deck / "figures" / "data" / "v.db"
    with sqlite3.connect(db) as c:
        c.execute("create table t(v)")
        c.execute("insert into t values (7)")
    body = """
    import sqlite3
    v = sqlite3.connect("file:figures/data/v.db?mode=ro", uri=True).execute("select v from t").fetchone()[0]
    run.save_json("out.json", v)
    """
    require_tool("strace")
    add_figure(deck, "by-sqlite", body)
    ces(deck, "build", "--profile", "smoke", "by-sqlite")
    assert status_of(deck, "by-sqlite") == "fresh"
    with sqlite3.connect(db) as c:
        c.execute("update t set v = 8")
    assert status_of(deck, "by-sqlite") == "stale"


def test_a_file_read_by_a_raw_system_call_is_recorded(deck):
    # No libc wrapper, no audit event: what a static binary does.
    body = f"""
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(257, -100, b"{DATA}", os.O_RDONLY)   # openat(AT_FDCWD, …)
    assert fd >= 0
    run.save_json("out.json", os.read(fd, 100).decode())
    """
    assert built_then_changed(deck, "by-syscall", body) == "stale"


def test_a_file_read_by_a_static_binary_is_recorded(deck, tmp_path):
    gcc = require_tool("gcc")
    source = tmp_path / "readit.c"
    source.write_text('#include <stdio.h>\nint main(int c, char **v) { FILE *f = fopen(v[1], "r"); '
                      'int ch; while ((ch = fgetc(f)) != EOF) putchar(ch); return 0; }\n')
    exe = tmp_path / "readit"
    made = subprocess.run([gcc, "-static", "-O1", "-o", str(exe), str(source)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"no static libc here: {made.stderr.strip()[-200:]}")
    body = f"""
    import subprocess
    run.save_json("out.json", subprocess.run(["{exe}", "{DATA}"], capture_output=True, text=True).stdout)
    """
    assert built_then_changed(deck, "by-static", body) == "stale"


def test_a_read_by_a_daemon_in_its_own_session_is_recorded(deck):
    # env -i drops ces's token, setsid leaves the figure's session: ptrace follows anyway.
    body = f"""
    import subprocess
    subprocess.run(["env", "-i", "setsid", "-f", "sh", "-c", "cat {DATA} > /dev/null"], check=True)
    time.sleep(0.5)
    run.save_json("out.json", 1)
    """
    assert built_then_changed(deck, "by-daemon", body) == "stale"


def test_a_record_rewritten_at_exit_does_not_hide_a_read(deck):
    # An atexit handler runs after the harness wrote its report: it empties every record it
    # can find. The record ces trusts is written once no process of the figure is left.
    body = f"""
    import atexit, json, os
    from pathlib import Path
    run.save_json("out.json", Path("{DATA}").read_text())
    staging = Path(os.environ["CES_RUN"]).parent

    def forge():
        for name in ("record.json", "harness.json"):
            (staging / name).write_text(json.dumps({{"reads": {{}}, "wall_time_s": 0.0}}))
    atexit.register(forge)
    """
    assert built_then_changed(deck, "forger", body) == "stale"


def test_a_process_left_behind_cannot_rewrite_the_record(deck):
    # A grandchild that outlives the harness, then writes the record: killed before ces reads it.
    body = """
    import os, subprocess
    from pathlib import Path
    run.save_json("out.json", Path("DATA").read_text())
    record = Path(os.environ["CES_RUN"]).parent / "record.json"
    subprocess.Popen(["setsid", "-f", "sh", "-c", f"sleep 1; echo '{{}}' > {record}"])
    """.replace("DATA", DATA)
    assert built_then_changed(deck, "late-forger", body) == "stale"


def test_a_bind_mount_of_the_project_fails_the_figure(deck):
    bwrap = require_tool("bwrap")
    require_tool("strace")
    # builder.sandbox needs mounts: a figure importing it runs without Landlock today.
    add_figure(deck, "mounter", f"""
    import subprocess
    import builder.sandbox
    subprocess.run(["{bwrap}", "--ro-bind", "/", "/", "--ro-bind", "figures/data", "/mnt", "cat", "/mnt/offset.txt"],
                   check=True)
    run.save_json("out.json", 1)
    """)
    out = ces(deck, "build", "--profile", "smoke", "mounter", check=False)
    assert out.returncode != 0
    # Two defences, either is enough: the write guard (Landlock) refuses the mount, or builder.trace
    # sees it and fails the figure naming what it could not follow.
    refused = "FAILED   mounter: exit 1" in out.stdout and "ro-bind" in out.stdout
    followed = "mounter: read what ces could not follow: a bind mount of" in out.stdout and "figures/data" in out.stdout
    assert refused or followed, out.stdout
    assert not (deck / "cache" / "mounter").exists() or not any((deck / "cache" / "mounter").iterdir())


def test_without_strace_a_child_process_fails_the_figure_naming_it(deck):
    add_figure(deck, "untraced", f"""
    import subprocess
    run.save_json("out.json", subprocess.run(["cat", "{DATA}"], capture_output=True, text=True).stdout)
    """)
    out = ces(deck, "build", "--profile", "smoke", "untraced", check=False, env={"CES_READS": "hook"})
    assert out.returncode != 0
    assert "untraced: read what ces could not follow: a program started by subprocess.Popen" in out.stdout
    assert "install strace" in out.stdout
    # The same figure under strace is fine.
    if shutil.which("strace"):
        ces(deck, "build", "--profile", "smoke", "untraced")


def test_without_strace_python_reads_still_count(deck):
    body = f"""
    from pathlib import Path
    run.save_json("out.json", Path("{DATA}").read_text())
    """
    add_figure(deck, "plain", body)
    env = {"CES_READS": "hook"}
    ces(deck, "build", "--profile", "smoke", "plain", env=env)
    manifest = json.loads(next((deck / "cache" / "plain").glob("*/manifest.json")).read_text())
    assert DATA in manifest["reads"]
    (deck / DATA).write_text("3\n")
    assert status_of(deck, "plain") == "stale"


def test_the_traced_reads_are_those_of_the_script(deck):
    # What the harness does before the script (the write guard lists the whole project) is
    # not the figure's: the fixture's figure reads its helper and its data file, nothing else.
    require_tool("strace")
    ces(deck, "build", "--profile", "smoke", "line")
    manifest = json.loads(next((deck / "cache" / "line").glob("*/manifest.json")).read_text())
    assert sorted(manifest["reads"]) == ["figures/_helper.py", DATA]
