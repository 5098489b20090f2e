"""Fault injection: ces keeps working under kills, concurrent builds, a full disk, a damaged
cache and misbehaving figures, and loses nothing that was complete.

Every check of the cache here is independent of builder.cache: `audit` re-reads each entry's
manifest and re-hashes its files itself. Random points come from a seeded RNG
(CES_FAULT_SEED=<n> to replay another sequence); the seed is in every failure message.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builder.publish import published_path
from conftest import add_figure, start
from conftest import ces as run

SEED = int(os.environ.get("CES_FAULT_SEED", "20240611"))
RAN = re.compile(r"^  ran      (\S+)", re.M)
CACHED = re.compile(r"^  cached   (\S+)", re.M)
KILLED = re.compile(r"^  FAILED   (\S+): killed", re.M)


# -- a deck of tiny figures ------------------------------------------------------------------
CHAIN = {"fa": (), "fb": ("fa",), "fc": ("fb",), "fd": (), "fe": ()}  # fa → fb → fc, fd and fe alone


def chain_deck(root: Path, sleep: float) -> Path:
    """The minideck (figure `line`) plus fa → fb → fc and two independent figures, each reading
    its own data file, sleeping a little, writing a JSON and an SVG."""
    for name, needs in CHAIN.items():
        (root / "figures" / "data" / f"{name}.txt").write_text("0")
        add_figure(root, name, f'''
            v = Path("figures/data/{name}.txt").read_text()
            up = [run.upstream(n, "out.json").read_text() for n in {list(needs)!r}]
            time.sleep({sleep})
            run.save_json("out.json", {{"v": v, "up": up}})
            run.out("out.svg").write_text("<svg>" + v * 5000 + "</svg>")
        ''', needs=needs, outputs=("out.json", "out.svg"))
    return root


def mutate(root: Path, rng: random.Random) -> None:
    """Change the data of one to three figures among four values (so old entries come back)."""
    for name in rng.sample(sorted(CHAIN), rng.choice((1, 2, 3))):
        (root / "figures" / "data" / f"{name}.txt").write_text(str(rng.randrange(4)))


def downstream(name: str) -> set[str]:
    below = {n for n, needs in CHAIN.items() if name in needs}
    return below.union(*(downstream(n) for n in below)) if below else set()


# -- independent checks -----------------------------------------------------------------------
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digest_json(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def audit(root: Path, why: str = "") -> dict[tuple[str, str], int]:
    """Assert that every entry in cache/ is complete and verified; {(figure, dir): inode}."""
    found = {}
    cache = root / "cache"
    for fig_dir in sorted(cache.iterdir()) if cache.is_dir() else []:
        if fig_dir.name.startswith(".") or not fig_dir.is_dir():
            continue
        for d in sorted(fig_dir.iterdir()):
            where = f"{d.relative_to(root)} ({why}, seed {SEED})"
            assert sorted(os.listdir(d)) == ["log.txt", "manifest.json", "out"], f"incomplete entry {where}"
            m = json.loads((d / "manifest.json").read_text())
            assert d.name == m["key"][:16], f"entry under the wrong key: {where}"
            assert m["static_digest"] == digest_json(m["static"]), f"manifest does not match itself: {where}"
            assert m["key"] == digest_json({"static": m["static_digest"], "packages": m["packages"],
                                            "reads": m["reads"]}), f"key does not match the manifest: {where}"
            files = {p.name for p in (d / "out").iterdir()}
            assert files == set(m["outputs"]) == set(m["static"]["outputs"]), f"outputs missing or extra: {where}"
            for name, digest in m["outputs"].items():
                assert sha256(d / "out" / name) == digest, f"{name} does not match its sha256: {where}"
            found[(fig_dir.name, d.name)] = d.stat().st_ino
    return found


def check_runs(before: dict, after: dict, output: str, why: str) -> None:
    """Each `ran X` made exactly one new entry of X; no entry appeared for a cached figure."""
    new: dict[str, int] = {}
    for fig, d in set(after) - set(before) | {k for k in after if k in before and after[k] != before[k]}:
        new[fig] = new.get(fig, 0) + 1
    ran = RAN.findall(output)
    assert len(ran) == len(set(ran)), f"a figure ran twice in one build ({why}, seed {SEED}):\n{output}"
    for fig in ran:
        assert new.get(fig) == 1, f"{fig} ran but made {new.get(fig, 0)} new entries ({why}, seed {SEED}):\n{output}"
    for fig in CACHED.findall(output):
        assert fig not in new, f"{fig} was cached yet got a new entry ({why}, seed {SEED})"


def check_complete_build(root: Path, before: dict, proc_out: str, why: str) -> None:
    """After a build that finished: every figure whose current entry was complete before was
    reused (cached), every other one ran; what the slides and the site show is that entry."""
    after = audit(root, why)
    check_runs(before, after, proc_out, why)
    for fig_dir in sorted((root / "slides" / "_figures").iterdir()):
        if fig_dir.name.startswith("."):
            continue
        key = (fig_dir / ".key").read_text()
        entry = root / "cache" / fig_dir.name / key[:16]
        state = "cached" if (fig_dir.name, key[:16]) in before else "ran"
        assert re.search(rf"^  {state} +{fig_dir.name}\b", proc_out, re.M), \
            f"{fig_dir.name} should be {state} ({why}, seed {SEED}):\n{proc_out}"
        m = json.loads((entry / "manifest.json").read_text())
        for name, digest in m["outputs"].items():
            assert sha256(fig_dir / name) == digest, f"slides/_figures/{fig_dir.name}/{name} is stale ({why})"
            assert sha256(published_path(root / "_site", fig_dir.name, name)) == digest, \
                f"_site/_figures/{fig_dir.name}/{name} is stale ({why}, seed {SEED})"
    assert not list((root / "cache" / ".tmp").iterdir()), "staging left after a complete build"


def harness_procs(root: Path) -> dict[int, str]:
    """Running figure processes of this deck, found by their staging path: {pid: figure}."""
    marker = str(root / "cache" / ".tmp") + os.sep
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            continue  # exited, not yet reaped
        for arg in cmd:
            if arg.startswith(marker):
                found[int(pid)] = arg[len(marker):].split(os.sep)[0].rsplit("-", 2)[0]
    return found


def wait_no_figures(root: Path, timeout: float = 5.0) -> None:
    deadline = time.time() + timeout
    while harness_procs(root):
        assert time.time() < deadline, f"figure processes outlived a killed ces: {harness_procs(root)}"
        time.sleep(0.02)


def until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def ces(root: Path, *args, **kw) -> subprocess.CompletedProcess:
    return run(root, *args, check=False, **kw)


# -- kill -9 ---------------------------------------------------------------------------------
CES_KILLS = 30
FIGURE_KILLS = 20


@pytest.mark.slow
def test_kill_ces_at_random_points_loses_nothing(deck):
    """~30 × kill -9 of `ces build` at a random delay; after each the cache is all complete,
    verified entries; every few kills (and at the end) a build finishes and reuses them all."""
    root = chain_deck(deck, sleep=0.15)
    rng = random.Random(SEED)
    kills, stages, tries = 0, {"finished first": 0}, 0
    before = audit(root, "start")
    while kills < CES_KILLS:
        tries += 1
        assert tries < 3 * CES_KILLS, "builds kept finishing before the kill"
        mutate(root, rng)
        proc = start(root, "build", "--profile", "smoke", "--jobs", "2")
        try:
            proc.wait(timeout=rng.uniform(0.0, 1.0))
            stages["finished first"] += 1
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        out = proc.communicate(timeout=30)[0]
        if proc.returncode == -signal.SIGKILL:
            stage = "while figures ran" if "running" in out else "before or after the figures"
            stages[stage] = stages.get(stage, 0) + 1
        wait_no_figures(root)
        after = audit(root, f"after kill {kills}")
        check_runs(before, after, out, f"killed build {kills}")
        before = after
        if kills % 6 == 0 or kills == CES_KILLS:
            done = ces(root, "build", "--profile", "smoke", "--jobs", "2")
            assert done.returncode == 0, done.stdout + done.stderr
            check_complete_build(root, before, done.stdout, f"build after kill {kills}")
            before = audit(root)
    print(f"\n{kills} kills of ces ({tries} builds started), stage reached: {stages}")


@pytest.mark.slow
def test_kill_figure_processes_at_random_points(deck):
    """~20 × kill -9 of a running figure (found by its staging path in /proc): that figure fails
    with a clear message, its downstream is skipped, the others finish; nothing partial stays."""
    root = chain_deck(deck, sleep=0.4)
    rng = random.Random(SEED + 1)
    kills, builds = 0, 0
    before = audit(root, "start")
    while kills < FIGURE_KILLS:
        builds += 1
        assert builds < 3 * FIGURE_KILLS, "figures kept finishing before the kill"
        mutate(root, rng)
        proc = start(root, "build", "--profile", "smoke", "--jobs", "2", "--keep-going")
        name = None
        while proc.poll() is None:
            running = harness_procs(root)
            if running:
                pid, name = rng.choice(sorted(running.items()))
                time.sleep(rng.uniform(0.0, 0.5))
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                break
            time.sleep(0.005)
        out = proc.communicate(timeout=60)[0]
        killed = KILLED.findall(out)
        kills += len(killed)
        if killed:  # else the figure had finished when the signal came
            assert killed == [name] and proc.returncode == 1 and "Traceback" not in out, out
            assert f"1 figure(s) failed: {name}\n" in out and out.count(f"FAILED   {name}: killed") == 1, out
            for down in downstream(name):
                assert f"  skipped  {down} (upstream " in out, out
        after = audit(root, f"after figure kill {kills}")
        check_runs(before, after, out, f"figure kill {kills}")
        assert not any(k[0] in killed and k not in before for k in after), "a killed figure left an entry"
        before = after
    done = ces(root, "build", "--profile", "smoke", "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    check_complete_build(root, before, done.stdout, "build after figure kills")
    print(f"\n{kills} kills of figure processes in {builds} builds")


@pytest.mark.slow
def test_killing_the_lock_holder_lets_the_waiting_build_finish(deck):
    root = chain_deck(deck, sleep=0.3)
    rng = random.Random(SEED + 2)
    for round_ in range(3):
        for name in CHAIN:  # everything stale: the first build holds the lock a while
            (root / "figures" / "data" / f"{name}.txt").write_text(f"{round_ + 5}")
        before = audit(root)
        a = start(root, "build", "--profile", "smoke")
        until(lambda: harness_procs(root), "the first build to run a figure")  # it holds the lock
        log_b = root.parent / f"b{round_}.log"
        with open(log_b, "w") as f:
            b = start(root, "build", "--profile", "smoke", stdout=f)
        until(lambda: "Waiting for another ces build" in log_b.read_text(), "the second build to wait")
        time.sleep(rng.uniform(0.0, 0.5))
        assert a.poll() is None
        a.send_signal(signal.SIGKILL)
        out_a = a.communicate(timeout=30)[0]
        # b takes the lock now, but commits nothing for 0.3 s (the figures' sleep): what a left
        mid = audit(root, f"lock holder killed, round {round_}")
        check_runs(before, mid, out_a, f"killed lock holder, round {round_}")
        b.wait(timeout=60)
        out_b = log_b.read_text()
        assert b.returncode == 0, out_b
        wait_no_figures(root)
        check_complete_build(root, mid, out_b, f"waiting build, round {round_}")


# -- concurrent builds -------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 3])
def test_concurrent_builds_compute_each_figure_once(deck, n):
    root = chain_deck(deck, sleep=0.2)
    procs = []
    for _ in range(n):
        procs.append(start(root, "build", "--profile", "smoke", "--jobs", "2"))
        time.sleep(0.15)
    watcher = [ces(root, "status", "--profile", "smoke", timeout=30) for _ in range(3)]  # reads while building
    outs = [p.communicate(timeout=90)[0] for p in procs]  # a deadlock would time out here
    assert all(p.returncode == 0 for p in procs), outs
    assert all(w.returncode == 0 and "Traceback" not in w.stderr for w in watcher)
    joined = "".join(outs)
    ran = RAN.findall(joined)
    assert sorted(ran) == sorted(set(ran)) == sorted([*CHAIN, "line"]), joined
    assert sum("Waiting for another ces build" in o for o in outs) == n - 1, outs
    after = audit(root)
    assert sorted(fig for fig, _ in after) == sorted(ran)  # one entry each, made by the one run


# -- disk full -------------------------------------------------------------------------------
BIG = 'run.out("big.bin").write_bytes(b"x" * {size})\n'


def _mount_tmpfs(where: Path, size_kb: int) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                        capture_output=True).returncode == 0
    return ok


@pytest.fixture
def small_cache(deck):
    """cache/ on a 512 KiB tmpfs (root only; skipped elsewhere, where the RLIMIT_FSIZE test runs)."""
    if not _mount_tmpfs(deck / "cache", 512):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield deck
    subprocess.run(["umount", "-l", str(deck / "cache")], check=False)


def _fill(root: Path, leave: int) -> None:
    """Fill the tmpfs under cache/ until `leave` bytes are free."""
    filler = root / "cache" / "filler"
    filler.unlink(missing_ok=True)
    free = shutil.disk_usage(root / "cache").free
    with open(filler, "wb") as f:
        try:
            f.write(b"\0" * max(0, free - leave))
        except OSError:
            pass


@pytest.mark.parametrize("leave, size", [(0, 1000), (4096, 1000), (40_000, 100_000), (100_000, 100_000)],
                         ids=["full", "one-page", "output-too-big", "log-or-manifest"])
def test_disk_full_is_a_clear_error_and_leaves_no_partial_entry(small_cache, run_ces, leave, size):
    root = small_cache
    add_figure(root, "big", BIG.format(size=size), outputs=("big.bin",))
    _fill(root, leave)
    out = run_ces(root, "build", "--profile", "smoke", "--keep-going", check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("Error: ") and "big" in out.stderr
    assert "the disk holding cache/ is full" in out.stderr, text  # whatever the write that failed
    if leave == 0:  # nothing could be written, not even the figure's run file
        assert text.count("big: could not write the cache: No space left on device") == 1, text  # said once
    audit(root, "disk full")
    assert not (root / "cache" / "big").exists() or not list((root / "cache" / "big").iterdir())
    (root / "cache" / "filler").unlink()
    again = run_ces(root, "build", "--profile", "smoke")
    assert "ran      big" in again.stdout
    audit(root, "after freeing space")


def test_disk_full_while_rendering_keeps_the_cache(tmp_path, run_ces):
    """The whole deck on a 600 KiB tmpfs: the figure fits, Reveal.js (several MB) does not."""
    from conftest import FIXTURES

    root = tmp_path / "small"
    if not _mount_tmpfs(root, 600):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        shutil.copytree(FIXTURES / "minideck", root, dirs_exist_ok=True)
        out = run_ces(root, "build", "--profile", "smoke", check=False)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.startswith("Error: ") and "No space left on device" in out.stderr
        assert "the disk holding cache/ is full" in out.stderr
        assert "ran      line" in out.stdout
        before = audit(root, "render on a full disk")
        assert len(before) == 1
        subprocess.run(["mount", "-o", "remount,size=64m", str(root)], check=True)
        again = run_ces(root, "build", "--profile", "smoke")
        assert "cached   line" in again.stdout and "deck rendered" in again.stdout
        check_complete_build(root, before, again.stdout, "after the disk grew")
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_file_size_limit_is_a_clear_error(deck, run_ces):
    """Where no tmpfs can be mounted: RLIMIT_FSIZE (`ulimit -f`) makes big writes fail (EFBIG)."""
    add_figure(deck, "big", BIG.format(size=2_000_000), outputs=("big.bin",))

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    out = ces(deck, "build", "--profile", "smoke", "--keep-going", preexec_fn=limit)
    assert out.returncode == 1 and "File too large" in out.stdout and "FAILED   big" in out.stdout
    assert "ran      line" in out.stdout
    audit(deck, "file size limit")
    assert not (deck / "cache" / "big").exists()


# -- a damaged cache ---------------------------------------------------------------------------
def _entry(root: Path, fig: str) -> Path:
    (entry,) = (root / "cache" / fig).iterdir()
    return entry


def _cut(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _edit_manifest(change):
    def edit(entry: Path):
        m = json.loads((entry / "manifest.json").read_text())
        change(m)
        (entry / "manifest.json").write_text(json.dumps(m))
    return edit


DAMAGE = {
    "png-cut-in-half": ("png", lambda e: _cut(e / "out" / "plot.png"), "corrupt"),
    "svg-cut-in-half": ("line", lambda e: _cut(e / "out" / "line.svg"), "corrupt"),
    "output-missing": ("line", lambda e: (e / "out" / "line.json").unlink(), "corrupt"),
    "output-dir-missing": ("png", lambda e: shutil.rmtree(e / "out"), "corrupt"),
    "extra-file": ("line", lambda e: (e / "out" / "intruder.svg").write_text("<svg/>"), "corrupt"),
    "manifest-hash-edited": ("line", _edit_manifest(lambda m: m["outputs"].update({"line.svg": "0" * 64})), "corrupt"),
    "manifest-param-edited": ("line", _edit_manifest(lambda m: m["static"]["params"].update({"a": 9})), "corrupt"),
    "manifest-reads-edited": ("line", _edit_manifest(lambda m: m["reads"].update({"figures/data/offset.txt": "0" * 64})),
                              "corrupt"),
    "manifest-output-dropped": ("png", _edit_manifest(lambda m: m["outputs"].pop("plot.png")), "corrupt"),
    "manifest-truncated": ("line", lambda e: _cut(e / "manifest.json"), "missing"),
    "manifest-deleted": ("png", lambda e: (e / "manifest.json").unlink(), "missing"),
    # issue #12: each of these was a traceback on every build
    "manifest-deeply-nested": ("line", lambda e: (e / "manifest.json").write_text("[" * 200_000), "missing"),
    "manifest-date-null": ("line", _edit_manifest(lambda m: m.update(date=None)), "missing"),
    "manifest-outputs-a-list": ("line", _edit_manifest(lambda m: m.update(outputs=["line.svg"])), "missing"),
    "manifest-reads-a-list": ("line", _edit_manifest(lambda m: m.update(reads=["x"])), "corrupt"),
    "manifest-not-a-dict": ("png", lambda e: (e / "manifest.json").write_text("[1, 2]"), "missing"),
}


@pytest.fixture
def damaged_deck(deck, run_ces):
    add_figure(deck, "png", 'run.out("plot.png").write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(range(256)) * 40)\n',
               outputs=("plot.png",))
    run_ces(deck, "build", "--profile", "smoke")
    return deck


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_cache_is_detected_reported_and_recomputed(damaged_deck, run_ces, damage):
    root = damaged_deck
    fig, break_it, state = DAMAGE[damage]
    before = audit(root)
    break_it(_entry(root, fig))
    status = run_ces(root, "status", "--profile", "smoke")
    line = next(ln for ln in status.stdout.splitlines() if re.match(rf"  \S+ +{fig}\b", ln))
    assert line.split()[0] == state, status.stdout
    assert "never computed" not in line and _entry(root, fig).name in line, line  # says which entry
    other = "png" if fig == "line" else "line"
    assert re.search(rf"fresh +{other}\b", status.stdout)
    out = run_ces(root, "build", "--profile", "smoke")
    assert RAN.findall(out.stdout) == [fig] and CACHED.findall(out.stdout) == [other], out.stdout
    if state == "corrupt":
        assert f"warning  {fig}: entry" in out.stdout and "is corrupt" in out.stdout
    del before[(fig, _entry(root, fig).name)]
    audit(root, damage)
    final = run_ces(root, "status", "--profile", "smoke")
    assert "2 fresh" in final.stdout, final.stdout
    again = run_ces(root, "build", "--profile", "smoke")
    assert not RAN.findall(again.stdout), again.stdout  # recomputed once, not on every build


# -- misbehaving figures ----------------------------------------------------------------------
@pytest.mark.slow
def test_misbehaving_figures_fail_clearly_and_the_rest_builds(deck):
    add_figure(deck, "hang", "time.sleep(600)\n", timeout={"smoke": 2})
    add_figure(deck, "after-hang", 'run.save_json("out.json", 1)\n', needs=["hang"])
    add_figure(deck, "hog", 'blob = [bytearray(2**28) for _ in range(16)]\nrun.save_json("out.json", 1)\n',
               memory_gb=1)
    add_figure(deck, "vandal", 'Path("notes.txt").write_text("x")\nrun.save_json("out.json", 1)\n')
    add_figure(deck, "lazy", "pass\n")
    add_figure(deck, "chatty", 'for i in range(200_000):\n    print(f"{i:08d} " + "x" * 95)\n'
                               'run.save_json("out.json", 1)\n')
    add_figure(deck, "chatty-fail", 'import sys\nsys.stdout.write("y" * 20_000_000)\nraise SystemExit(2)\n')
    add_figure(deck, "fine", 'run.save_json("out.json", 1)\n')
    wrapper = ("import atexit, resource, sys; atexit.register(lambda: print('MAXRSS', "
               "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)); "
               "sys.argv[0] = 'ces'; from builder.cli import main; main()")  # ces' own peak memory
    t = time.time()
    out = subprocess.run([sys.executable, "-c", wrapper, "build", "--profile", "smoke", "--keep-going",
                          "--jobs", "2"], cwd=deck, capture_output=True, text=True, timeout=120)
    took = time.time() - t
    stdout = out.stdout
    assert out.returncode == 1
    assert took < 30, "the hung figure held the build"
    assert "FAILED   hang: timed out after 2 s" in stdout
    assert "skipped  after-hang (upstream hang failed)" in stdout
    assert "FAILED   hog: exit 1" in stdout and "MemoryError" in stdout
    assert "FAILED   vandal: wrote outside its output directory: notes.txt" in stdout
    assert "FAILED   lazy: did not write declared output(s): out.json" in stdout
    assert "FAILED   chatty-fail: exit 2" in stdout
    assert sorted(RAN.findall(stdout)) == ["chatty", "fine", "line"]
    assert "Error: 5 figure(s) failed: " in out.stderr and "Traceback" not in out.stderr
    assert len(stdout) < 100_000, "the huge log reached the terminal"
    entry = _entry(deck, "chatty")
    full = deck / "cache" / ".logs" / "chatty.log"   # capped at 10 MB (build.log_max_mb), its end kept
    assert 9 * 2**20 < full.stat().st_size <= 10 * 2**20, full.stat().st_size
    with open(full, "rb") as f:
        assert f.readline().startswith(b"[ces: 21") and f.read().endswith(b"x" * 95 + b"\n")
    assert (entry / "log.txt").stat().st_size <= 256 * 1024
    assert (entry / "log.txt").read_text().endswith("x" * 95 + "\n")  # the log's end is kept
    assert sorted(p.name for p in (deck / "cache").iterdir() if not p.name.startswith(".")) == [
        "chatty", "fine", "line"]
    audit(deck, "misbehaving figures")


@pytest.mark.slow
def test_huge_logs_do_not_grow_ces_memory(deck):
    """ces' peak memory with two figures printing 20 MB each, against the same build with quiet
    figures: the difference, not an absolute number, which depends on the machine and on what
    the environment preloads."""
    wrapper = ("import atexit, os, resource, sys; pid = os.getpid(); atexit.register(lambda: os.getpid() == pid and "
               "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)); "
               "sys.argv[0] = 'ces'; from builder.cli import main; main()")  # ces' own peak memory

    def peak_mb():
        out = subprocess.run([sys.executable, "-c", wrapper, "build", "--profile", "smoke", "--keep-going"],
                             cwd=deck, capture_output=True, text=True, timeout=120)
        assert len(out.stdout) < 100_000, "the huge log reached the terminal"
        return out, int(re.search(r"MAXRSS (\d+)", out.stderr).group(1)) / 1024

    add_figure(deck, "chatty", 'run.save_json("out.json", 1)\n')
    add_figure(deck, "chatty-fail", "raise SystemExit(2)\n")
    _, quiet = peak_mb()
    add_figure(deck, "chatty", 'for i in range(200_000):\n    print(f"{i:08d} " + "x" * 95)\n'
                               'run.save_json("out.json", 1)\n')
    add_figure(deck, "chatty-fail", 'import sys\nsys.stdout.write("y" * 20_000_000)\nraise SystemExit(2)\n')
    out, loud = peak_mb()
    assert out.returncode == 1 and "FAILED   chatty-fail: exit 2" in out.stdout and "ran      chatty" in out.stdout
    assert loud - quiet < 20, f"40 MB of logs grew ces from {quiet:.0f} MB to {loud:.0f} MB"



def test_verify_reproduces_the_minideck(deck, run_ces):
    run_ces(deck, "build", "--profile", "smoke")
    out = run_ces(deck, "verify", "--profile", "smoke")
    assert "identical        line" in out.stdout and "1/1 figures bit-reproducible" in out.stdout
    audit(deck, "verify")


# -- a crash at a precise point (in-process, deterministic) -----------------------------------
class Crash(BaseException):
    """Stands for kill -9 at one exact line: nothing after it runs, no cleanup either."""


def _build(root: Path) -> list[str]:
    from builder import build

    said = []
    build.build(build.BuildRequest(root, "smoke", renderer="pandoc"), echo=said.append)
    return said


def test_a_render_killed_halfway_is_redone_even_if_the_deck_comes_back(deck, monkeypatch):
    from builder import site

    _build(deck)
    slide = deck / "slides" / "index.qmd"
    original = slide.read_text()
    slide.write_text(original + "\n## Une diapositive de plus\n")

    def copy_then_die(root, site=None):
        shutil.rmtree(root / "_site" / "_figures")
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(site, "copy_figures", copy_then_die)
        with pytest.raises(Crash):
            _build(deck)
    slide.write_text(original)  # back to what the last complete render showed
    said = _build(deck)
    assert "deck rendered with pandoc" in said[-1], said
    assert published_path(deck / "_site", "line", "line.svg").is_file()
    assert "Une diapositive de plus" not in (deck / "_site" / "index.html").read_text()


def test_materialising_killed_halfway_is_redone(deck, monkeypatch):
    _build(deck)
    base = deck / "slides" / "_figures"
    real_rmtree = shutil.rmtree

    def rmtree_then_die(path, *args, **kwargs):
        path = Path(path)
        if path.parent == base and path.name.strip(".").startswith("line") and not path.name.endswith(".tmp") \
                and path.exists():
            for f in path.iterdir():
                if f.name != ".key":  # the outputs are gone, the key file not yet
                    f.unlink()
            raise Crash
        return real_rmtree(path, *args, **kwargs)

    offset = deck / "figures" / "data" / "offset.txt"
    original = offset.read_text()
    offset.write_text("7\n")
    with monkeypatch.context() as m:
        m.setattr(shutil, "rmtree", rmtree_then_die)
        with pytest.raises(Crash):
            _build(deck)
    offset.write_text(original)  # the entry the slides had before is the current one again
    said = _build(deck)
    assert "  cached   line" in said
    assert (base / "line" / "line.svg").is_file(), "slides/_figures/line lost its outputs"
    key = (base / "line" / ".key").read_text()
    m = json.loads((deck / "cache" / "line" / key[:16] / "manifest.json").read_text())
    for name, digest in m["outputs"].items():
        assert sha256(base / "line" / name) == digest
        assert sha256(published_path(deck / "_site", "line", name)) == digest


def test_a_figure_failing_before_it_starts_shows_no_old_log(deck, run_ces):
    add_figure(deck, "boom", 'raise RuntimeError("the first failure")\n')
    first = run_ces(deck, "build", "--profile", "smoke", check=False)
    assert "RuntimeError: the first failure" in first.stdout
    add_figure(deck, "boom", 'run.save_json("out.json", 1)\n')
    shutil.rmtree(deck / "cache" / ".tmp", ignore_errors=True)
    (deck / "cache" / ".tmp").write_text("")  # no staging can be made (as on a full disk, portably)
    second = run_ces(deck, "build", "--profile", "smoke", check=False)
    assert "FAILED   boom: could not write the cache" in second.stdout, second.stdout
    assert "the first failure" not in second.stdout, "an old log shown as this run's"


# -- outputs that are not plain files (issue #12) ---------------------------------------------
BAD_OUTPUTS = {
    "fifo": ('import os\nos.mkfifo(run.out("out.json"))\n', "output out.json is a FIFO, not a regular file"),
    "link-to-passwd": ('import os\nos.symlink("/etc/passwd", run.out("out.json"))\n',
                       "output out.json is a symbolic link, not a regular file"),
    "link-to-dev-zero": ('import os\nos.symlink("/dev/zero", run.out("out.json"))\n',
                         "output out.json is a symbolic link, not a regular file"),
    "hard-link": ('import os, tempfile\nsrc = Path(tempfile.mkdtemp()) / "x"\nsrc.write_text("1")\n'
                  'os.link(src, run.out("out.json"))\n', "output out.json is a hard link"),
    "directory": ('run.out("out.json").mkdir()\n', "output out.json is a directory, not a regular file"),
    "too-big": ('run.out("out.json").write_bytes(b"0" * (3 * 2**20))\n', "output out.json is 3.0 MiB, over the 2 MiB cap"),
}


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_an_output_that_is_not_a_regular_file_fails_the_figure_clearly(deck, case):
    body, message = BAD_OUTPUTS[case]
    add_figure(deck, "odd", body)
    out = ces(deck, "build", "--profile", "smoke", "--keep-going", timeout=60, env={"CES_MAX_OUTPUT_MB": "2"})
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"FAILED   odd: {message}" in out.stdout, out.stdout
    assert "Traceback" not in out.stderr and not (deck / "cache" / "odd").exists()
    assert not (deck / "_site" / "_figures" / "odd").exists()


def test_a_regular_output_under_the_cap_is_committed(deck):
    """The twin of the cases above: the same figure writing a plain file passes the check."""
    add_figure(deck, "odd", 'run.out("out.json").write_bytes(b"0" * (1 * 2**20))\n')
    out = ces(deck, "build", "--profile", "smoke", timeout=60, env={"CES_MAX_OUTPUT_MB": "2"})
    assert out.returncode == 0 and "ran      odd" in out.stdout, out.stdout + out.stderr


# -- figures that vandalise the project (issue #12) -------------------------------------------
VANDALS = {
    "write-slides": ('Path("slides/index.qmd").write_text("pwned")\n', "slides/index.qmd",
                     "wrote outside its output directory: slides/index.qmd"),
    "write-git-hook": ('Path(".git/hooks/pre-commit").write_text("pwned")\n', ".git/hooks/pre-commit",
                       "wrote outside its output directory: .git/hooks/pre-commit"),
    "write-builder": ('Path("builder/evil.py").write_text("pwned")\n', "builder/evil.py",
                      "wrote outside its output directory: builder/evil.py"),
    "remove-data": ('import os\nos.remove("figures/data/offset.txt")\n', "figures/data/offset.txt",
                    "changed the project: remove figures/data/offset.txt"),
    "rename-helper": ('import os\nos.rename("figures/_helper.py", "figures/_gone.py")\n', "figures/_helper.py",
                      "rename figures/_helper.py"),
    "shell": ('import subprocess\nsubprocess.run(["sh", "-c", "echo pwned > slides/index.qmd"], check=True)\n',
              "slides/index.qmd", "exit 1"),
    # a name relative to a directory descriptor (how shutil.rmtree removes): still the project's
    "remove-by-dir-fd": ('import os\nfd = os.open("figures/data", os.O_RDONLY)\nos.remove("offset.txt", dir_fd=fd)\n',
                         "figures/data/offset.txt",
                         # the kernel refuses it (guard on), or the hook sees the data change
                         ("Permission denied", "changed the project: remove figures/data/offset.txt",
                          "read a file that changed while it ran")),
}


def test_a_figure_cleaning_its_own_temporary_directory_is_no_vandal(deck):
    """shutil.rmtree of a directory outside the project removes names relative to its descriptor:
    those are not the project's files (the llm-pot sandbox cleans its working directory so)."""
    add_figure(deck, "tidy", 'import shutil, tempfile\nd = Path(tempfile.mkdtemp())\n'
               '(d / "main.py").write_text("x")\n(d / "sub").mkdir()\n(d / "sub" / "a").write_text("y")\n'
               'shutil.rmtree(d)\nrun.save_json("out.json", 1)\n')
    out = ces(deck, "build", "--profile", "smoke", timeout=60)
    assert out.returncode == 0 and "ran      tidy" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("guard", ["on", "off"])
@pytest.mark.parametrize("case", sorted(VANDALS))
def test_a_vandal_figure_fails_and_the_project_is_untouched(deck, case, guard):
    body, target, message = VANDALS[case]
    (deck / ".git" / "hooks").mkdir(parents=True)
    (deck / ".git" / "hooks" / "pre-commit").write_text("ok")
    (deck / "builder").mkdir()
    (deck / "builder" / "evil.py").write_text("ok")
    before = {p: p.read_bytes() for p in deck.rglob("*") if p.is_file()}
    add_figure(deck, "vandal", body + 'run.save_json("out.json", 1)\n')
    out = ces(deck, "build", "--profile", "smoke", "--keep-going", timeout=60, env={"CES_WRITE_GUARD": guard})
    changed = (deck / target).read_bytes() != before[deck / target] if (deck / target).exists() else True
    if guard == "off" and case == "shell":
        # Without the kernel guard a child process writes unseen: the test can tell.
        assert changed and out.returncode == 0
        return
    assert out.returncode == 1, out.stdout + out.stderr
    messages = message if isinstance(message, tuple) else (message,)
    assert "FAILED   vandal: " in out.stdout, out.stdout
    assert any(m in out.stdout.split("FAILED   vandal: ")[1] for m in messages), out.stdout
    assert not (deck / "cache" / "vandal").exists()
    if guard == "on":
        assert not changed, f"{target} was changed despite the write guard"


@pytest.mark.parametrize("edit_during_run", [True, False], ids=["edited", "untouched"])
def test_a_data_file_edited_while_its_figure_runs_fails_the_figure(deck, edit_during_run):
    """The read is hashed when opened and again after the run: an entry must never record the new
    content next to outputs computed from the old one. The untouched twin commits normally."""
    add_figure(deck, "reader", '''
        v = Path("figures/data/offset.txt").read_text()
        print("read", flush=True)
        time.sleep(1.5)
        run.save_json("out.json", {"v": v})
    ''')
    proc = start(deck, "build", "--profile", "smoke", "reader")
    log = deck / "cache" / ".logs" / "reader.log"
    until(lambda: log.exists() and "read" in log.read_text(), "the figure to read its data")
    if edit_during_run:
        (deck / "figures" / "data" / "offset.txt").write_text("42\n")
    out = proc.communicate(timeout=60)[0]
    if edit_during_run:
        assert proc.returncode == 1, out
        assert "FAILED   reader: read a file that changed while it ran (rerun it): figures/data/offset.txt" in out
        assert not (deck / "cache" / "reader").exists()
    else:
        assert proc.returncode == 0 and "ran      reader" in out, out


# -- the lock and `ces clean` (issue #12) ------------------------------------------------------
def test_ces_clean_waits_for_a_running_build(deck):
    add_figure(deck, "slowfig", 'print("started", flush=True)\ntime.sleep(2)\nrun.save_json("out.json", 1)\n')
    build = start(deck, "build", "--profile", "smoke", "slowfig")
    log = deck / "cache" / ".logs" / "slowfig.log"
    until(lambda: log.exists() and "started" in log.read_text(), "the figure to start")
    clean = ces(deck, "clean", timeout=60)
    out = build.communicate(timeout=60)[0]
    assert build.returncode == 0 and "ran      slowfig" in out, out
    assert "Waiting for another ces build" in clean.stdout, clean.stdout
    assert clean.returncode == 0 and not (deck / "_site").exists()


def test_the_lock_survives_git_clean_removing_its_files(deck):
    """`git clean -X` removes ignored files, cache/.lock* among them: a second build still waits."""
    add_figure(deck, "slowfig", 'print("started", flush=True)\ntime.sleep(2)\nrun.save_json("out.json", 1)\n')
    first = start(deck, "build", "--profile", "smoke", "slowfig")
    log = deck / "cache" / ".logs" / "slowfig.log"
    until(lambda: log.exists() and "started" in log.read_text(), "the figure to start")
    for leftover in (deck / "cache").glob(".lock*"):
        leftover.unlink()
    second = ces(deck, "build", "--profile", "smoke", "slowfig", timeout=60)
    out = first.communicate(timeout=60)[0]
    assert first.returncode == 0 and second.returncode == 0, out + second.stdout + second.stderr
    assert "Waiting for another ces build" in second.stdout
    assert (out + second.stdout).count("ran      slowfig") == 1


def test_clean_removes_a_site_link_not_its_target(deck, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    (deck / "_site").symlink_to(elsewhere)
    out = ces(deck, "clean", timeout=60)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert (elsewhere / "keep.txt").read_text() == "mine" and not (deck / "_site").exists()


def test_a_linked_slides_figures_is_refused_and_its_target_kept(deck, tmp_path):
    target = tmp_path / "target"
    (target / "precious").mkdir(parents=True)
    (deck / "slides" / "_figures").symlink_to(target)
    out = ces(deck, "build", "--profile", "smoke", timeout=60)
    assert out.returncode == 5 and "slides/_figures is not a directory of its own" in out.stderr, out.stderr
    assert (target / "precious").is_dir()


def test_a_stray_file_in_slides_figures_does_not_fail_the_build(deck):
    (deck / "slides" / "_figures").mkdir(parents=True)
    (deck / "slides" / "_figures" / "stray.txt").write_text("x")
    out = ces(deck, "build", "--profile", "smoke", timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
