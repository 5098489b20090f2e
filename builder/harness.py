"""Runs one figure script inside its own process: `python -m builder.harness RUN.json`,
started by builder.trace (the command every executor runs is `python -m builder.trace RUN.json`).

What the figure read is recorded from outside it, by builder.trace (strace follows every
process of the figure); the record ces trusts (staging/record.json) is written there, once
every process of the figure has ended. Inside, a Python audit hook (PEP 578) reports what the
script opens or lists under the project (an addition to the traced reads, never a substitute;
without strace, on a pipe to builder.trace as it happens), every file it writes, removes or
renames in the project outside its staging directory, and the commands it starts: they go to
staging/harness.json when the script ends. Before the script runs, builder.guard confines it
(Landlock): it writes nothing but its staging directory, anywhere on the filesystem.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import threading
import time
from pathlib import Path


MUTATING = {"os.remove": 0, "os.rmdir": 0, "shutil.rmtree": 0, "os.truncate": 0, "os.mkdir": 0,
            "os.rename": (0, 1), "os.symlink": 1, "os.link": 1, "shutil.copyfile": 1, "os.chmod": 0,
            "os.utime": 0, "os.mkfifo": 0, "os.mknod": 0, "os.setxattr": 0, "os.removexattr": 0}
# Where each of those events carries its dir_fd arguments (a name relative to a directory
# descriptor, as shutil.rmtree and tempfile's cleanup use them): (path index, dir_fd index).
DIR_FDS = {"os.remove": {0: 1}, "os.rmdir": {0: 1}, "os.mkdir": {0: 2}, "os.rename": {0: 2, 1: 3},
           "os.symlink": {1: 2}, "os.link": {0: 2, 1: 3}, "os.chmod": {0: 2}, "os.utime": {0: 3},
           "os.mkfifo": {0: 2}, "os.mknod": {0: 3}}
SPAWNING = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
            "pty.spawn", "_posixsubprocess.fork_exec")
IGNORED_DIRS = ("builder", ".git", "_site", "_scratch", ".ces", "slides/_figures")  # for reads
# Upstream outputs live in cache/<figure>/ and are keyed by the upstream key instead; pinned
# LLM answers (cache/llm/) are data like any other file and are recorded.
KEYED_IN_CACHE = "llm"
HARNESS_RECORD = "harness.json"   # the figure's own report; builder.trace writes record.json
# Without strace, a figure that does one of these reads what ces cannot follow (see builder.trace).
UNFOLLOWED = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn",
              "_posixsubprocess.fork_exec", "sqlite3.connect", "ctypes.dlopen")
RUN_FILE = "run.json"


# -- how ces starts it (every executor alike) ------------------------------------------------
def harness_command(run_json: Path) -> list[str]:
    """The figure's parent, builder.trace, which runs the harness and records its reads."""
    return [sys.executable, "-m", "builder.trace", str(run_json)]


def harness_env(root: Path, staging: Path) -> dict:
    return dict(os.environ, CES_RUN=str(staging / RUN_FILE), PYTHONHASHSEED="0", MPLBACKEND="Agg",
                PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))


def write_run(staging: Path, run: dict) -> Path:
    """staging/run.json: what the harness runs (`run` from Runner.run_doc), whichever executor
    starts it; the output directory and the record file are the staging's."""
    doc = dict(run, outdir=str(staging / "out"), record=str(staging / HARNESS_RECORD))
    path = staging / RUN_FILE
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


# -- inside the figure's process --------------------------------------------------------------


def main(spec_path: str, reads_fd: int | None = None) -> int:
    """reads_fd: without strace, where builder.trace listens for the reads, as they happen."""
    from . import guard
    from .keys import file_digest

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    root = Path(spec["root"])
    outdir = Path(spec["outdir"]).resolve()
    staging_prefix = str(outdir.parent) + os.sep
    reads: dict[str, str | None] = {}      # path -> digest when first opened
    writes_outside: set[str] = set()
    vandalised: set[str] = set()
    started: list[str] = []
    ignored = tuple(str(root / d) + os.sep for d in IGNORED_DIRS)
    root_prefix = str(root) + os.sep
    cache_prefix = str(root / "cache") + os.sep
    busy = threading.local()
    channel = os.fdopen(reads_fd, "w", encoding="utf-8", errors="surrogateescape", buffering=1) \
        if reads_fd is not None else None
    if channel is not None:
        os.set_inheritable(reads_fd, False)   # for this process (and its forks) only

    def tell(kind: str, what: str) -> None:
        if channel is not None:
            try:
                channel.write(f"{kind} {what}\n" if "\n" not in what else f"unfollowed a name with a newline\n")
            except (OSError, ValueError):
                pass

    def first_read(path: str, kind: str = "read") -> None:
        if path in reads:
            return
        busy.on = True  # file_digest's own opens are not the figure's
        try:
            tell(kind, path)
            reads[path] = file_digest(Path(path))
        finally:
            busy.on = False

    def in_project(path) -> str | None:
        """An absolute path in the project that the figure may not change, or None."""
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, (str, os.PathLike)):
            return None
        path = os.path.abspath(path)
        if not path.startswith(root_prefix) or path.startswith(staging_prefix) or f"{os.sep}__pycache__" in path:
            return None
        return path

    def beside_fd(args, i, fds):
        """args[i] made absolute against its dir_fd argument, when it has one."""
        path, fd = args[i], (args[fds[i]] if i in fds and fds[i] < len(args) else None)
        if isinstance(fd, int) and fd >= 0 and isinstance(path, (str, bytes)) and not os.path.isabs(path):
            try:
                return os.path.join(os.readlink(f"/proc/self/fd/{fd}"), os.fsdecode(path))
            except OSError:
                return None   # an fd that is gone: not a name in the project we can tell
        return path

    def relevant(path) -> str | None:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return None  # a file descriptor
        path = os.path.abspath(path)
        if not path.startswith(root_prefix) or path.startswith(ignored) or "__pycache__" in path \
                or ".egg-info" in path or ".dist-info" in path:  # package metadata read by importlib
            return None
        if path.startswith(cache_prefix) and not (path + os.sep).startswith(cache_prefix + KEYED_IN_CACHE + os.sep):
            return None
        return path

    def hook(event, args):
        if getattr(busy, "on", False):
            return
        if event == "open":
            mode, flags = args[1], args[2]
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & (os.O_WRONLY | os.O_RDWR))
            if writing:
                path = in_project(args[0])
                if path is not None:
                    writes_outside.add(path)
                return
            path = relevant(args[0])
            if path is not None and not path.startswith(str(outdir) + os.sep):
                first_read(path)
        elif event in ("os.listdir", "os.scandir"):
            path = relevant(args[0] if args and args[0] is not None else ".")
            # The import system lists sys.path entries and packages: those are code, keyed statically.
            if path is not None and path not in code_dirs and not os.path.exists(os.path.join(path, "__init__.py")):
                first_read(path, "list")
        elif event in MUTATING:
            where = MUTATING[event]
            if any(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in args[1:]) and \
                    not all(os.path.isabs(os.fsdecode(a)) for a in args if isinstance(a, (str, bytes))):
                return  # relative to an open directory (shutil.rmtree; AT_FDCWD is -100): not resolvable here
            for i in (where if isinstance(where, tuple) else (where,)):
                if i < len(args) and (path := in_project(beside_fd(args, i, DIR_FDS.get(event, {})))) is not None:
                    vandalised.add(f"{event.split('.')[-1]} {os.path.relpath(path, root)}")
        if event.startswith(SPAWNING) and len(started) < 20:
            started.append(f"{event} {str(args[1] if len(args) > 1 else args)[:120]}")
        if channel is not None and event.startswith(UNFOLLOWED):
            what = unfollowed(event, args)
            if what:
                tell("unfollowed", what)

    def unfollowed(event, args) -> str | None:
        """Without strace: what this event reads that the audit hook cannot see, or None."""
        if event == "sqlite3.connect":
            path = relevant(args[0]) if args and isinstance(args[0], (str, bytes)) else None
            return f"sqlite3 opens {os.path.relpath(path, root)}" if path else None
        if event == "ctypes.dlopen":
            path = relevant(args[0]) if args and isinstance(args[0], (str, bytes)) else None
            return f"the C library {os.path.relpath(path, root)}" if path else None
        # builder.sandbox runs programs in a view without the project: they read none of it.
        if any(f.f_code.co_filename == SANDBOX for f in _frames()):
            return None
        what = args[1] if event.startswith(("os.exec", "os.posix_spawn", "os.spawn")) and len(args) > 1 \
            else args[0] if args else "?"
        return f"a program started by {event} ({str(what)[:80]})"

    SANDBOX = str(Path(__file__).resolve().parent / "sandbox.py")
    os.chdir(root)
    sys.path[:0] = [str(root / "figures"), str(root)]
    code_dirs = {str(root / "figures"), str(root)}
    sys.argv = [spec["script"]]
    guarded = guard.confine(str(outdir.parent), broker=spec.get("sandbox_broker", False))
    start = time.perf_counter()
    sys.addaudithook(hook)
    status = 0
    try:
        runpy.run_path(spec["script"], run_name="__main__")
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        import builder.script as api

        busy.on = True
        final = {p: file_digest(Path(p)) for p in reads}
        record = {
            "wall_time_s": time.perf_counter() - start,
            "device": api.current.device_used if api.current else "cpu",
            # The script itself is keyed by its normalised code, without its FIGURE prose.
            # A path that does not exist once the script ended is no data: a failed probe, or a
            # relative name opened against a directory descriptor (shutil.rmtree) that the
            # audit event cannot tell from one under the project.
            "reads": {os.path.relpath(p, root).replace(os.sep, "/"): final[p]
                      for p in sorted(set(reads) - {os.path.abspath(spec["script"])}) if final[p] is not None},
            # Hashed when first opened and now: the output was computed from the first content.
            "changed_reads": sorted(os.path.relpath(p, root) for p, d in reads.items()
                                    if d is not None and final[p] != d),
            "writes_outside": sorted(os.path.relpath(p, root) for p in writes_outside),
            "vandalised": sorted(vandalised),
            "started": started,
            "write_guard": guarded,
        }
        if channel is not None:
            try:
                channel.close()
            except OSError:
                pass
        try:
            Path(spec["record"]).write_text(json.dumps(record, indent=1), encoding="utf-8")
        except OSError as exc:  # a full disk: say it in one line, not as a second traceback
            sys.stderr.write(f"ces: could not write the run record {spec['record']}: {exc.strerror or exc}\n")
            status = status or 1
    return status


def _frames():
    frame = sys._getframe(2)
    while frame is not None:
        yield frame
        frame = frame.f_back


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[3]) if sys.argv[2:3] == ["--reads-fd"] else None))
