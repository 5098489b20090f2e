"""What a figure read, recorded from outside the figure: `python -m builder.trace RUN.json`.

This is the command every executor starts for a figure (builder.harness.harness_command). It
runs the harness (`python -m builder.harness RUN.json`) under strace, which ptraces it and
every process it starts (children, `sh -c`, sqlite3 and other C libraries, static binaries,
daemons in sessions of their own: ptrace follows every fork) and reports each file they open
on a pipe that none of them holds. This process, the figure's parent, reads that pipe as the
figure runs, hashes each file of the project when it is first opened (`open`, `openat`,
`openat2`, `open_by_handle_at`, `execve`; a directory opened to be listed counts as its
listing), and when the harness has exited it kills whatever of the figure is still traced,
waits until strace has seen the last of them exit, hashes every file again, and only then
writes `record.json` in the staging directory: no process of the figure is left to rewrite
it. Its `reads` are the traced ones (plus those the harness's audit hook reported, which can
only add). The figure's own report (`harness.json`: run time, device, what its audit hook saw
it write) is merged in as data.

A read that ces cannot follow fails the figure, naming it (`unfollowed` in the record):
io_uring (opens no syscall reports), a mount of part of the project under another name (a
bind mount, the new mount API, setns), whose paths mean nothing outside that view.

Where strace is missing or cannot trace (no ptrace in a container), or with CES_READS=hook,
the harness reports its reads itself, on a pipe to this process as they happen (so that what
runs at exit cannot take them back); a figure that then starts a program, opens an SQLite
database or loads a C library from the project fails, naming it: those reads need strace.

Paths outside the project (the interpreter, /usr, the venv) are not hashed: the versions of
the packages a figure imports are in its key (builder.keys).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .harness import HARNESS_RECORD, IGNORED_DIRS, KEYED_IN_CACHE
from .launch import become_subreaper, die_with_parent

ENV = "CES_READS"            # "trace" (default: strace when it works here) or "hook"
RECORD = "record.json"
SYSCALLS = ("open", "openat", "openat2", "open_by_handle_at", "execve", "execveat", "io_uring_setup",
            "mount", "open_tree", "move_mount", "fsmount", "setns")
DECLARE = "install strace (apt-get install strace) so that ces can follow it"

_LINE = re.compile(r"^(\d+) +(?:<\.\.\. )?(\w+)(.*)$")
_RESULT_FD = re.compile(r"= \d+<(.*)>$")
_ESCAPE = re.compile(rb"\\(?:x([0-9a-fA-F]{2})|([0-7]{1,3})|(.))")
_SIMPLE = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"v": b"\v", b"f": b"\f", b"\\": b"\\", b'"': b'"'}


def unescape(text: str) -> str:
    """A path as strace prints it (C escapes, \\ooo octal) back to the name."""
    def one(m):
        if m.group(1):
            return bytes([int(m.group(1), 16)])
        if m.group(2):
            return bytes([int(m.group(2), 8) & 0xFF])
        return _SIMPLE.get(m.group(3), m.group(3))
    return os.fsdecode(_ESCAPE.sub(one, os.fsencode(text)))


class Reads:
    """The files of the project a figure read: each hashed when first seen and again at the end
    (a file changed meanwhile is reported); what could not be followed."""

    def __init__(self, root: str, staging: str, script: str):
        from .keys import file_digest

        self.digest = lambda p: file_digest(Path(p))
        self.root = os.path.realpath(root)
        self.prefix = self.root + os.sep
        self.staging = os.path.realpath(staging) + os.sep
        self.ignored = tuple(os.path.join(self.root, d) + os.sep for d in IGNORED_DIRS)
        self.cache = os.path.join(self.root, "cache") + os.sep
        self.pins = self.cache + KEYED_IN_CACHE + os.sep
        self.script = os.path.realpath(script)
        self.code_dirs = {self.root, os.path.join(self.root, "figures")}
        self.first: dict[str, str | None] = {}
        self.unfollowed: list[str] = []
        self.lock = threading.Lock()

    def relevant(self, path: str) -> str | None:
        """The absolute path if it is project data a figure's key must hold, else None."""
        if not path.startswith(self.prefix) or (path + os.sep).startswith((self.staging,) + self.ignored) \
                or "__pycache__" in path or ".egg-info" in path or ".dist-info" in path or path == self.script:
            return None
        if path.startswith(self.cache) and not path.startswith(self.pins):
            return None
        return path

    def saw(self, path: str, listing: bool = False) -> None:
        path = self.relevant(os.path.normpath(path))
        if path is None or path in self.first:
            return
        if os.path.isdir(path):
            # A directory is data when it is listed (not opened as an anchor for *at calls), and
            # not one the import system lists (sys.path entries, packages: code, keyed statically).
            if not listing or path in self.code_dirs or os.path.exists(os.path.join(path, "__init__.py")):
                return
        digest = self.digest(path)
        with self.lock:
            self.first.setdefault(path, digest)

    def cannot_follow(self, what: str) -> None:
        with self.lock:
            if what not in self.unfollowed and len(self.unfollowed) < 20:
                self.unfollowed.append(what)

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def result(self) -> tuple[dict[str, str], list[str]]:
        """(reads: relative path -> digest now, changed: read paths whose content changed since
        first seen). A path gone by now is no data (a probe of a file that was then removed)."""
        reads, changed = {}, []
        for path, first in sorted(self.first.items()):
            now = self.digest(path)
            if now is not None:
                reads[self.rel(path)] = now
            if first is not None and now != first:
                changed.append(self.rel(path))
        return reads, changed


# -- strace's output --------------------------------------------------------------------------
def parse(line: str, reads: Reads, state: dict) -> None:
    """One line of `strace -f -y` output."""
    head, _, tail = line.partition(" ")
    if not head.isdigit():
        return
    pid = int(head)
    if state.get("main") is None:
        state["main"] = pid   # the first line is the harness's own execve
    tail = tail.lstrip(" ")
    if tail.startswith("+++ "):   # +++ exited with N +++, +++ killed by SIG… +++
        if pid == state["main"]:
            state["main_done"].set()
        return
    pending = state.setdefault("pending", {})
    if tail.endswith("<unfinished ...>"):   # another process's line came in between: joined below
        pending[pid] = tail[:-len("<unfinished ...>")]
        return
    if tail.startswith("<... "):
        name, _, after = tail[len("<... "):].partition(" resumed>")
        tail = pending.pop(pid, f"{name}(") + after
    m = _LINE.match(f"{pid} {tail}")
    if not m:
        return
    call, rest = m.group(2), m.group(3)
    if call in ("open", "openat", "openat2", "open_by_handle_at"):
        found = _RESULT_FD.search(rest)
        if not found:
            return
        path = unescape(found.group(1))
        if path.endswith(" (deleted)"):
            return
        flags = rest
        if "O_WRONLY" in flags and "O_RDWR" not in flags:
            return   # a write: the guard's business (Landlock), not an input
        if "O_PATH" in flags:
            return   # a handle to the name, no content read
        if not state.get("started"):
            # What the harness does before the script (the write guard lists the project) is
            # ces's own: the figure starts when the harness opens its script to run it.
            state["started"] = pid == state["main"] and os.path.normpath(path) == reads.script
            return
        reads.saw(path, listing="O_DIRECTORY" in flags)
    elif call in ("execve", "execveat"):
        target = re.match(r'\("((?:[^"\\]|\\.)*)"', rest)
        if target and rest.rstrip().endswith("= 0") and state.get("started"):
            name = unescape(target.group(1))
            if not os.path.isabs(name):
                name = os.path.join(reads.root, name)  # the harness runs in the project root
            reads.saw(name)
    elif call == "io_uring_setup":
        reads.cannot_follow(f"io_uring (process {pid}): files opened through it are not reported; "
                            "open them with open()/openat()")
    elif call == "mount":
        src = re.match(r'\("((?:[^"\\]|\\.)*)"', rest)
        if src and "MS_BIND" in rest and "MS_REMOUNT" not in rest:   # a remount changes flags only
            name = unescape(src.group(1))
            if name.startswith("/oldroot/"):      # bubblewrap mounts from the old root
                name = name[len("/oldroot"):]
            if name in ("newroot", "oldroot"):     # bubblewrap's own root
                return
            real = os.path.realpath(name) + os.sep
            if not os.path.isabs(name) or (real.startswith(reads.prefix) and not real.startswith(reads.staging)):
                reads.cannot_follow(f"a bind mount of {name} (process {pid}): reads under another name "
                                    "cannot be traced; read project files at their own path")
    elif call in ("open_tree", "move_mount", "fsmount", "setns"):
        reads.cannot_follow(f"{call} (process {pid}): reads in another mount view cannot be traced")


def _tracees(tracer: int) -> list[int]:
    """Pids of the processes that `tracer` ptraces."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status") as f:
                    for line in f:
                        if line.startswith("TracerPid:"):
                            if int(line.split()[1]) == tracer:
                                found.append(int(name))
                            break
            except (OSError, ValueError):
                pass
    return found


def _strace() -> str | None:
    if os.environ.get(ENV, "trace") == "hook" or sys.platform != "linux":
        return None
    return shutil.which("strace")


def traced(run_file: str, reads: Reads) -> int | None:
    """Run the harness under strace; its exit status (as subprocess gives it), or None when
    strace could not trace it here (then nothing of the figure ran)."""
    strace = _strace()
    if strace is None:
        return None
    r, w = os.pipe()   # neither end is inherited: strace opens its own descriptor on w, close-on-exec
    argv = [strace, "-f", "--seccomp-bpf", "-y", "-e", "trace=" + ",".join(SYSCALLS), "-e", "status=successful",
            "-e", "signal=none", "-o", f"/proc/{os.getpid()}/fd/{w}", "--", *_die_with_strace(),
            sys.executable, "-m", "builder.harness", run_file, "--traced"]
    state = {"main": None, "main_done": threading.Event()}
    lock = threading.Lock()
    w_open = [True]

    def close_w():
        with lock:
            if w_open[0]:   # strace holds its own end: ours must go for EOF to come
                w_open[0] = False
                os.close(w)

    def read():
        with os.fdopen(r, "r", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
            for line in f:
                close_w()
                parse(line.rstrip("\n"), reads, state)
    become_subreaper()   # what the figure orphans comes to us, to be reaped once strace has seen it end
    try:
        proc = subprocess.Popen(argv, preexec_fn=die_with_parent)
    except OSError:
        close_w()
        os.close(r)
        return None
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while proc.poll() is None:
            if state["main_done"].wait(0.05):
                _sweep(proc)
        status = proc.returncode
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        close_w()
    reader.join()
    _reap()
    if state["main"] is None:
        return None   # strace never started the harness (ptrace refused here): trace nothing
    if status == 0 and not state.get("started"):
        reads.cannot_follow("the script's start (strace never saw the harness open it)")
    return status


def _die_with_strace() -> list[str]:
    """The harness is SIGKILLed when strace ends (killed, or with ces and this process): a
    tracee whose tracer is gone would run on untraced (strace 6.1 has no --kill-on-exit), each
    of its traced calls failing with ENOSYS. util-linux's setpriv sets that, then execs."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL"] if setpriv else []


def _reap() -> None:
    """Collect the figure's orphans that were given to us (all dead by now)."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _sweep(proc: subprocess.Popen) -> None:
    """The harness is gone: kill what of the figure is left (every process strace still
    traces, wherever it went: its own session, no token), until strace ends."""
    try:
        proc.wait(0.2)
        return
    except subprocess.TimeoutExpired:
        pass
    while proc.poll() is None:
        for pid in _tracees(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            proc.wait(0.05)
        except subprocess.TimeoutExpired:
            pass


def hooked(run_file: str, reads: Reads) -> int:
    """No strace here: the harness reports its reads through its audit hook, on a pipe."""
    r, w = os.pipe()
    os.set_inheritable(w, True)

    def read():
        with os.fdopen(r, "r", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
            for line in f:
                kind, _, what = line.rstrip("\n").partition(" ")
                if kind in ("read", "list"):
                    reads.saw(what, listing=kind == "list")
                elif kind == "unfollowed":
                    reads.cannot_follow(f"{what}: {DECLARE}")
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "builder.harness", run_file, "--reads-fd", str(w)],
                                pass_fds=(w,))
    finally:
        os.close(w)
    try:
        status = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    reader.join(5)
    return status


# -- the record ---------------------------------------------------------------------------------
def write_record(staging: Path, record: dict) -> None:
    """staging/record.json, replaced whole (whatever the figure left under that name, a link
    included, is replaced, never followed)."""
    dfd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        tmp = f".record-{os.getpid()}.json"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dfd)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, RECORD, src_dir_fd=dfd, dst_dir_fd=dfd)
    finally:
        os.close(dfd)


def figure_report(staging: Path) -> dict:
    """What the harness (inside the figure) reported: data, never a source of trust for reads."""
    try:
        fd = os.open(staging / HARNESS_RECORD, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            doc = json.loads(f.read(4 << 20))
        os.unlink(staging / HARNESS_RECORD)
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def main(run_file: str) -> int:
    spec = json.loads(Path(run_file).read_text(encoding="utf-8"))
    staging = Path(run_file).resolve().parent
    reads = Reads(spec["root"], str(staging), spec["script"])
    status = traced(run_file, reads)
    how = "strace"
    if status is None:
        how = "audit hook"
        status = hooked(run_file, reads)
    report = figure_report(staging)
    claimed = report.get("reads")
    if isinstance(claimed, dict):   # the audit hook's list can only add reads
        for rel in claimed:
            if isinstance(rel, str):
                reads.saw(os.path.join(reads.root, rel))
    found, changed = reads.result()
    record = {k: report.get(k) for k in ("wall_time_s", "device", "writes_outside", "vandalised", "started",
                                         "write_guard") if k in report}
    if not isinstance(record.get("wall_time_s", 0.0), (int, float)):
        record.pop("wall_time_s")
    record.update({"reads": found, "changed_reads": sorted(set(changed) | set(_strings(report.get("changed_reads")))),
                   "unfollowed": list(reads.unfollowed), "reads_by": how})
    try:
        if report:   # no report: the script ended without the harness (os._exit, exec): no record, ces says so
            write_record(staging, record)
    except OSError as exc:
        sys.stderr.write(f"ces: could not write the run record in {staging}: {exc.strerror or exc}\n")
        return status or 70
    if status < 0:   # killed by a signal: end the same way, for ces to say which
        if -status not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status
    return status


def _strings(value) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
