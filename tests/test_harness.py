"""builder.trace's reading of strace's output and its record, on lines strace really writes
(captured from strace 6.1 with `-f -y`), and on a staging directory the figure left behind."""

import json
import os
import threading
from pathlib import Path

import pytest

from builder import trace


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "deck"
    (root / "figures" / "data").mkdir(parents=True)
    (root / "figures" / "data" / "n.txt").write_text("41\n")
    (root / "figures" / "data" / "da>ta.csv").write_text("1,2\n")
    (root / "figures" / "fig.py").write_text("pass\n")
    staging = root / "cache" / ".tmp" / "fig-1"
    (staging / "out").mkdir(parents=True)
    return root, staging


def feed(root, staging, lines):
    reads = trace.Reads(str(root), str(staging), str(root / "figures" / "fig.py"))
    state = {"main": None, "main_done": threading.Event()}
    start = [f'100 execve("/usr/bin/python3", ["python3"], 0x7ffd /* 3 vars */) = 0',
             f'100 openat(AT_FDCWD<{root}>, "{root}/figures", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 3<{root}/figures>',
             f'100 openat(AT_FDCWD<{root}>, "figures/fig.py", O_RDONLY|O_CLOEXEC) = 3<{root}/figures/fig.py>']
    for line in start + [l.format(root=root) for l in lines]:
        trace.parse(line, reads, state)
    return reads, state


def test_reads_by_any_process_are_recorded_and_hashed(project):
    root, staging = project
    reads, _ = feed(root, staging, [
        '101 openat(AT_FDCWD<{root}>, "figures/data/n.txt", O_RDONLY) = 3<{root}/figures/data/n.txt>',
        '102 openat(AT_FDCWD<{root}>, "figures/data/da>ta.csv", O_RDONLY) = 3<{root}/figures/data/da\\76ta.csv>',
    ])
    found, changed = reads.result()
    assert sorted(found) == ["figures/data/da>ta.csv", "figures/data/n.txt"] and changed == []


def test_what_the_harness_did_before_the_script_is_not_the_figures(project):
    # The write guard walks the project before the script: those listings are ces's own.
    root, staging = project
    reads = trace.Reads(str(root), str(staging), str(root / "figures" / "fig.py"))
    state = {"main": None, "main_done": threading.Event()}
    for line in ['100 execve("/usr/bin/python3", ["python3"], 0x7ffd /* 3 vars */) = 0',
                 f'100 openat(AT_FDCWD<{root}>, "figures/data", O_RDONLY|O_DIRECTORY) = 3<{root}/figures/data>']:
        trace.parse(line, reads, state)
    assert reads.result() == ({}, [])


def test_an_interrupted_line_keeps_its_flags(project):
    # Another process's line comes between a call and its result: the listing is still a listing.
    root, staging = project
    reads, _ = feed(root, staging, [
        '101 openat(AT_FDCWD<{root}>, "figures/data", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY <unfinished ...>',
        '102 openat(AT_FDCWD</>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 4</etc/ld.so.cache>',
        '101 <... openat resumed>) = 3<{root}/figures/data>',
    ])
    assert list(reads.result()[0]) == ["figures/data"]


def test_writes_handles_staging_and_outside_are_not_reads(project):
    root, staging = project
    reads, _ = feed(root, staging, [
        '101 openat(AT_FDCWD<{root}>, "figures/data/n.txt", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3<{root}/figures/data/n.txt>',
        '101 openat(AT_FDCWD<{root}>, "figures/data/n.txt", O_RDONLY|O_PATH) = 3<{root}/figures/data/n.txt>',
        '101 openat(AT_FDCWD<{root}>, "x", O_RDONLY) = 3<{root}/cache/.tmp/fig-1/out/x>',
        '101 openat(AT_FDCWD<{root}>, "/usr/lib/libc.so.6", O_RDONLY) = 3</usr/lib/libc.so.6>',
        '101 openat(AT_FDCWD<{root}>, "figures/data", O_RDONLY|O_CLOEXEC) = 3<{root}/figures/data>',
    ])
    assert reads.result() == ({}, [])


def test_a_changed_read_is_reported(project):
    root, staging = project
    reads, _ = feed(root, staging, ['101 openat(AT_FDCWD<{root}>, "figures/data/n.txt", O_RDONLY) = 3<{root}/figures/data/n.txt>'])
    (root / "figures" / "data" / "n.txt").write_text("42\n")
    assert reads.result()[1] == ["figures/data/n.txt"]


def test_the_end_of_the_harness_is_seen(project):
    root, staging = project
    _, state = feed(root, staging, ["101 +++ exited with 0 +++"])
    assert not state["main_done"].is_set()
    _, state = feed(root, staging, ["100 +++ killed by SIGKILL +++"])
    assert state["main_done"].is_set()


@pytest.mark.parametrize("line, unfollowed", [
    ('101 mount("/oldroot{root}/figures/data", "/newroot/mnt", NULL, MS_BIND|MS_REC|MS_SILENT, NULL) = 0', True),
    ('101 mount("figures", "/mnt", NULL, MS_BIND, NULL) = 0', True),
    ('101 mount("/oldroot/usr", "/newroot/usr", NULL, MS_BIND|MS_REC|MS_SILENT, NULL) = 0', False),
    ('101 mount("none", "/newroot/usr", NULL, MS_RDONLY|MS_NOSUID|MS_REMOUNT|MS_BIND|MS_SILENT, NULL) = 0', False),
    # builder.sandbox's inputs, in the figure's TMPDIR (its staging)
    ('101 mount("/oldroot{root}/cache/.tmp/fig-1/tmp/in", "/newroot/in", NULL, MS_BIND|MS_REC, NULL) = 0', False),
    ('101 mount("newroot", "newroot", NULL, MS_MGC_VAL|MS_BIND|MS_REC|MS_SILENT, NULL) = 0', False),
    ('101 io_uring_setup(8, {{flags=0}}) = 3<anon_inode:[io_uring]>', True),
    ('101 open_tree(AT_FDCWD</>, "{root}", OPEN_TREE_CLONE) = 3', True),
])
def test_reads_ces_cannot_follow_are_named(project, line, unfollowed):
    root, staging = project
    reads, _ = feed(root, staging, [line])
    assert bool(reads.unfollowed) is unfollowed


def test_the_record_replaces_what_the_figure_planted_without_following_it(project, tmp_path):
    root, staging = project
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (staging / "record.json").symlink_to(victim)
    trace.write_record(staging, {"reads": {"a": "b"}})
    assert victim.read_text() == "keep"
    assert not (staging / "record.json").is_symlink()
    assert json.loads((staging / "record.json").read_text())["reads"] == {"a": "b"}


def test_the_figures_report_is_not_followed_through_a_link(project, tmp_path):
    root, staging = project
    elsewhere = tmp_path / "report.json"
    elsewhere.write_text(json.dumps({"reads": {"figures/data/n.txt": "x"}, "wall_time_s": 1.0}))
    (staging / "harness.json").symlink_to(elsewhere)
    assert trace.figure_report(staging) == {}
    os.unlink(staging / "harness.json")
    Path(staging / "harness.json").write_text(json.dumps({"wall_time_s": 1.0}))
    assert trace.figure_report(staging) == {"wall_time_s": 1.0}
    assert not (staging / "harness.json").exists()   # read once, then gone from the entry


def test_unescape():
    assert trace.unescape("da\\76ta") == "da>ta"
    assert trace.unescape("a\\nb\\\\c\\x41") == "a\nb\\cA"
