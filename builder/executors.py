"""Where a figure's harness runs: here, or as a Slurm job (builder.slurm, through submitit).

Every executor runs the same command, `python -m builder.harness <staging>/run.json`, with the
same environment (builder.harness: `harness_command`, `harness_env`); it is given a run file and a log path and
returns a launch.Result (`.problem` is None when the harness exited 0). The Runner writes the
run file, checks the outputs and commits the entry, the same way whichever ran it; keys do not
depend on the executor. No executor imports or calls the Runner.

    local   each figure in a subprocess of ces (builder.launch), up to --jobs at once;
    slurm   each stale figure is a submitit job (builder.slurm.SlurmExecutor).

The interface the Runner uses (LocalExecutor is the reference):
    name, batches, announces, heartbeat_s
    workers(jobs, figures) -> threads         prepare(todo)  (todo: [(spec, inputs, run)])
    staging(spec, inputs) -> Path | None      (None: the Runner makes a fresh one)
    execute(spec, run_file, log_path, timeout) -> launch.Result
    describe(name) -> str     release(name)   abandon(staging)   interrupt()
    finish(figures, wanted, cache)

`ces.yml` (optional, at the repository root): `executor:` and `slurm:`, checked by builder.config.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

from . import launch
from . import config as ces_yml
from .harness import harness_command, harness_env


def executor_name(config: dict, profile: str, given: str | None) -> str:
    if given:
        return given
    ex = config.get("executor", "local")
    return ex.get(profile, "local") if isinstance(ex, dict) else ex


def make_executor(root: Path, given: str | None, profile: str, echo=print, confirm=None):
    """The executor --executor GIVEN names, else ces.yml's `executor:` (for `profile`), else local."""
    config = ces_yml.load(root)
    name = executor_name(config, profile, given)
    if name == "local":
        return LocalExecutor()
    from .slurm import SlurmExecutor  # here: `ces status` and local builds never import it

    return SlurmExecutor(root, config.get("slurm") or {}, profile, echo=echo, confirm=confirm)


# -- local ------------------------------------------------------------------------------------
class LocalExecutor:
    """Each figure in a subprocess of ces, up to --jobs at once."""

    name = "local"
    batches = False       # the Runner looks figures up in its worker threads, one at a time
    announces = False     # the Runner prints "running"
    heartbeat_s = 15.0

    def __init__(self):
        self._procs: dict[str, object] = {}
        self._lock = threading.Lock()
        launch.become_subreaper()  # what a figure's children leave is re-parented to ces, then killed

    def workers(self, jobs: int, figures: int) -> int:
        return jobs

    def prepare(self, todo) -> None:
        pass

    def staging(self, spec, inputs) -> Path | None:
        return None

    def execute(self, spec, run_file: Path, log_path: Path, timeout: float) -> launch.Result:
        def started(proc):
            with self._lock:
                self._procs[spec.name] = proc
        root = Path(json.loads(run_file.read_text(encoding="utf-8"))["root"])
        try:
            return launch.run(harness_command(run_file), root, harness_env(root, run_file.parent), log_path=log_path,
                              timeout=timeout, memory_bytes=int(spec.memory_gb * 2**30) if spec.memory_gb else None,
                              on_start=started, contain=True, log_max_bytes=launch.log_cap(root))
        finally:
            with self._lock:
                self._procs.pop(spec.name, None)

    def describe(self, name: str) -> str:
        return ""

    def release(self, name: str) -> None:
        pass

    def abandon(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def interrupt(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            launch.kill_group(proc)

    def finish(self, figures, wanted, cache) -> None:
        pass
