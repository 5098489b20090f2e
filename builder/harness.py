"""Runs one figure script inside its own process: `python -m builder.harness RUN.json`.

It records, through a Python audit hook (PEP 578), every file and directory the script
opens or lists under the project (the figure's depfile), each hashed when it is first opened
and again when the script ends (a file that changed in between is reported: the entry would
lie); every file it writes, removes or renames in the project outside its staging directory;
and the commands it starts. All go to the record file named in RUN.json when the script ends.
Before the script runs, builder.guard confines it (Landlock): it writes nothing but its staging directory.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import threading
import time
from pathlib import Path

IGNORED_DIRS = ("builder", ".git", "_site", "_scratch", ".ces", "slides/_figures")  # for reads
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
# Upstream outputs live in cache/<figure>/ and are keyed by the upstream key instead; pinned
# LLM answers (cache/llm/) are data like any other file and are recorded.
KEYED_IN_CACHE = "llm"
RUN_FILE = "run.json"


# -- how ces starts it (every executor alike) ------------------------------------------------
def harness_command(run_json: Path) -> list[str]:
    return [sys.executable, "-m", "builder.harness", str(run_json)]


def harness_env(root: Path, staging: Path) -> dict:
    return dict(os.environ, CES_RUN=str(staging / RUN_FILE), PYTHONHASHSEED="0", MPLBACKEND="Agg",
                PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))


def write_run(staging: Path, run: dict) -> Path:
    """staging/run.json: what the harness runs (`run` from Runner.run_doc), whichever executor
    starts it; the output directory and the record file are the staging's."""
    doc = dict(run, outdir=str(staging / "out"), record=str(staging / "record.json"))
    path = staging / RUN_FILE
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


# -- inside the figure's process --------------------------------------------------------------


def main(spec_path: str) -> int:
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

    def first_read(path: str) -> None:
        if path in reads:
            return
        busy.on = True  # file_digest's own opens are not the figure's
        try:
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
                first_read(path)
        elif event in MUTATING:
            where = MUTATING[event]
            if any(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in args[1:]) and \
                    not all(os.path.isabs(os.fsdecode(a)) for a in args if isinstance(a, (str, bytes))):
                return  # relative to an open directory (shutil.rmtree; AT_FDCWD is -100): not resolvable here
            for i in (where if isinstance(where, tuple) else (where,)):
                if i < len(args) and (path := in_project(beside_fd(args, i, DIR_FDS.get(event, {})))) is not None:
                    vandalised.add(f"{event.split('.')[-1]} {os.path.relpath(path, root)}")
        elif event.startswith(SPAWNING) and len(started) < 20:
            started.append(f"{event} {str(args[1] if len(args) > 1 else args)[:120]}")

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
        try:
            Path(spec["record"]).write_text(json.dumps(record, indent=1), encoding="utf-8")
        except OSError as exc:  # a full disk: say it in one line, not as a second traceback
            sys.stderr.write(f"ces: could not write the run record {spec['record']}: {exc.strerror or exc}\n")
            status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
