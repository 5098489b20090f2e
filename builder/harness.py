"""Runs one figure script inside its own process: `python -m builder.harness RUN.json`.

It records, through a Python audit hook (PEP 578), every file and directory the script
opens or lists under the project (the figure's depfile), and every file it writes outside
its output directory. Both go to the record file named in RUN.json when the script ends.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
from pathlib import Path

IGNORED_DIRS = ("builder", ".git", "_site", "_scratch", ".ces", "slides")
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
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    root = Path(spec["root"])
    outdir = Path(spec["outdir"]).resolve()
    reads: set[str] = set()
    writes_outside: set[str] = set()
    ignored = tuple(str(root / d) + os.sep for d in IGNORED_DIRS)
    root_prefix = str(root) + os.sep
    cache_prefix = str(root / "cache") + os.sep

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
        if event == "open":
            path = relevant(args[0])
            if path is None or path.startswith(str(outdir) + os.sep):
                return
            mode, flags = args[1], args[2]
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & (os.O_WRONLY | os.O_RDWR))
            (writes_outside if writing else reads).add(path)
        elif event in ("os.listdir", "os.scandir"):
            path = relevant(args[0] if args and args[0] is not None else ".")
            # The import system lists sys.path entries and packages: those are code, keyed statically.
            if path is not None and path not in code_dirs and not os.path.exists(os.path.join(path, "__init__.py")):
                reads.add(path)

    os.chdir(root)
    sys.path[:0] = [str(root / "figures"), str(root)]
    code_dirs = {str(root / "figures"), str(root)}
    sys.argv = [spec["script"]]
    start = time.perf_counter()
    sys.addaudithook(hook)
    status = 0
    try:
        runpy.run_path(spec["script"], run_name="__main__")
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        import builder.script as api

        from .keys import file_digest

        record = {
            "wall_time_s": time.perf_counter() - start,
            "device": api.current.device_used if api.current else "cpu",
            # The script itself is keyed by its normalised code, without its FIGURE prose.
            # A path that does not exist once the script ended is no data: a failed probe, or a
            # relative name opened against a directory descriptor (shutil.rmtree) that the
            # audit event cannot tell from one under the project.
            "reads": {rel: digest for rel, digest in (
                (os.path.relpath(p, root).replace(os.sep, "/"), file_digest(Path(p)))
                for p in sorted(reads - {os.path.abspath(spec["script"])})) if digest is not None},
            "writes_outside": sorted(os.path.relpath(p, root) for p in writes_outside),
        }
        try:
            Path(spec["record"]).write_text(json.dumps(record, indent=1), encoding="utf-8")
        except OSError as exc:  # a full disk: say it in one line, not as a second traceback
            sys.stderr.write(f"ces: could not write the run record {spec['record']}: {exc.strerror or exc}\n")
            status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
