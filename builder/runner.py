"""Bring figures up to date: each stale one runs in its own subprocess (builder.harness),
upstream first, up to --jobs at once, with a timeout; its log goes to a file whose tail is
shown when it fails. A crash, an out-of-memory or a timeout in one figure never kills ces.
"""

from __future__ import annotations

import concurrent.futures as cf
import graphlib
import json
import os
import shutil
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import launch
from .cache import Cache, Entry, Lookup
from .keys import output_digest, static_inputs
from .errors import BuildError, StaleError
from .executors import LocalExecutor
from .harness import RUN_FILE, write_run
from .figures import FigureSpec, closure

MAX_LOG_BYTES = 256 * 1024  # kept in the entry; the full log stays in cache/.logs/
MAX_OUTPUT_MB = 512         # per output file (CES_MAX_OUTPUT_MB overrides)


@dataclass
class Outcome:
    name: str
    state: str                    # cached | ran | failed | skipped | stale
    entry: Entry | None = None
    message: str = ""
    wall_time_s: float = 0.0
    warnings: tuple = ()


def plan(root: Path, figures: dict[str, FigureSpec], cache: Cache, profile: str,
         frozen: bool = False) -> dict[str, Lookup]:
    """The state of every figure, without running anything (what `ces status` shows)."""
    states: dict[str, Lookup] = {}
    for name in graphlib.TopologicalSorter({n: s.needs for n, s in figures.items()}).static_order():
        spec = figures[name]
        blocked = [n for n in spec.needs if states[n].state != "fresh"]
        if blocked:
            last = cache.entries(name)
            states[name] = Lookup("stale" if last else "missing",
                                  reasons=[f"upstream {n} is {states[n].state}" for n in blocked],
                                  last_wall_time=last[0].manifest.get("wall_time_s") if last else None)
            continue
        keys = {n: states[n].entry.key for n in spec.needs}
        states[name] = cache.lookup(spec, profile, static_inputs(spec, profile, keys, root), frozen)
    return states


class Runner:
    """Brings figures up to date, upstream first. Where a figure runs is its executor's business
    (builder.executors: local subprocesses, or Slurm jobs); looking up, checking the outputs and
    committing the entry are done here, the same way for both."""

    def __init__(self, root: Path, figures: dict[str, FigureSpec], cache: Cache, profile: str,
                 jobs: int = 1, keep_going: bool = False, echo=print, executor=None):
        self.root, self.figures, self.cache, self.profile = root, figures, cache, profile
        self.jobs, self.keep_going, self.echo = max(1, jobs), keep_going, echo
        self.executor = executor or LocalExecutor()
        self.logs = cache.dir / ".logs"
        self.running: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- the build --------------------------------------------------------------------
    def build(self, names=None, frozen: bool = False) -> dict[str, Outcome]:
        wanted = closure(self.figures, names or self.figures)
        if frozen:
            return self._frozen(wanted)
        sorter = graphlib.TopologicalSorter({n: [d for d in self.figures[n].needs] for n in wanted})
        sorter.prepare()
        outcomes: dict[str, Outcome] = {}
        stop = False
        heartbeat = threading.Thread(target=self._heartbeat, args=(self.executor.heartbeat_s,), daemon=True)
        heartbeat.start()
        with cf.ThreadPoolExecutor(max_workers=self.executor.workers(self.jobs, len(wanted))) as pool:
            pending: dict[cf.Future, str] = {}
            try:
                while sorter.is_active():
                    ready = []
                    for name in sorter.get_ready():
                        failed_up = [n for n in self.figures[name].needs if outcomes[n].state in ("failed", "skipped")]
                        if failed_up or stop:
                            why = f"upstream {failed_up[0]} failed" if failed_up else "build stopped"
                            outcomes[name] = Outcome(name, "skipped", message=why)
                            self.echo(f"  skipped  {name} ({why})")
                            sorter.done(name)
                            continue
                        ready.append(name)
                    self._launch(ready, outcomes, pool, pending)
                    if not pending:
                        continue
                    done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        name = pending.pop(fut)
                        outcomes[name] = fut.result()
                        if outcomes[name].state == "failed" and not self.keep_going:
                            stop = True
                        sorter.done(name)
            except KeyboardInterrupt:
                self.executor.interrupt()
                raise
        self.running.clear()
        self.executor.finish(self.figures, wanted, self.cache)
        failed = [o for o in outcomes.values() if o.state == "failed"]
        if failed:
            first = failed[0]
            raise BuildError(  # each reason was printed once, on its FAILED line
                f"{len(failed)} figure(s) failed: " + _names([o.name for o in failed], 10),
                tip=f"see the log tail above; rerun one alone with `python {self.figures[first.name].path.relative_to(self.root)} "
                    f"--profile {self.profile}`" + ("" if self.keep_going else ", or pass --keep-going"))
        return outcomes

    def _frozen(self, wanted) -> dict[str, Outcome]:
        states = plan(self.root, {n: self.figures[n] for n in wanted}, self.cache, self.profile, frozen=True)
        stale = {n: s for n, s in states.items() if s.state != "fresh"}
        if stale:
            lines = [f"{n} ({s.state}: {'; '.join(s.reasons)})" for n, s in sorted(stale.items())]
            raise StaleError(f"--frozen: {len(stale)} figure(s) would need computing: " + ", ".join(lines),
                             tip="run `ces build` where the figures can be computed, then commit cache/")
        return {n: Outcome(n, "cached", entry=s.entry, warnings=tuple(s.warnings)) for n, s in states.items()}

    def _launch(self, ready: list[str], outcomes: dict[str, Outcome], pool, pending: dict) -> None:
        """Start bringing the ready figures up to date. A batching executor (slurm) gets every
        stale one at once, so that it can submit them together."""
        if not self.executor.batches:
            for name in ready:
                pending[pool.submit(self._bring_up_to_date, name, outcomes)] = name
            return
        todo = []
        for name in ready:
            spec, inputs, found = self._lookup(name, outcomes)
            if found.state == "fresh":
                pending[pool.submit(self._cached, name, found)] = name
            else:
                todo.append((spec, inputs, {n: outcomes[n].entry for n in spec.needs}))
        self.executor.prepare([(spec, inputs, self.run_doc(spec, upstream)) for spec, inputs, upstream in todo])
        for spec, inputs, upstream in todo:
            pending[pool.submit(self._run, spec, inputs, upstream)] = spec.name

    def _lookup(self, name: str, outcomes: dict[str, Outcome]):
        spec = self.figures[name]
        keys = {n: outcomes[n].entry.key for n in spec.needs}
        inputs = static_inputs(spec, self.profile, keys, self.root)
        found = self.cache.lookup(spec, self.profile, inputs)
        if found.state == "corrupt":
            self.echo(f"  warning  {name}: {found.reasons[0]}; recomputing")
            self.cache.discard(found.entry)
        return spec, inputs, found

    def _cached(self, name: str, found: Lookup) -> Outcome:
        self.echo(f"  cached   {name}")
        return Outcome(name, "cached", entry=found.entry)

    def _bring_up_to_date(self, name: str, outcomes: dict[str, Outcome]) -> Outcome:
        spec, inputs, found = self._lookup(name, outcomes)
        if found.state == "fresh":
            return self._cached(name, found)
        return self._run(spec, inputs, {n: outcomes[n].entry for n in spec.needs})

    def _run(self, spec: FigureSpec, inputs, upstream: dict[str, Entry]) -> Outcome:
        name = spec.name
        if not self.executor.announces:
            self.echo(f"  running  {name} [{self.profile}]")
        start = time.perf_counter()
        staging = None
        (self.logs / f"{name}.log").unlink(missing_ok=True)  # a tail shown on failure is this run's
        try:
            staging = self.executor.staging(spec, inputs)
            if staging is None:
                staging = self.cache.staging(name)
                write_run(staging, self.run_doc(spec, upstream))
            problem, record = self.execute(spec, staging)
            if problem:
                return self._fail(spec, staging, start, problem)
            entry = self.cache.commit(staging, spec, self.profile, inputs, record)
        except OSError as exc:  # disk full, permissions: the figure is lost, the cache is not
            why = f"could not write the cache: {exc.strerror or exc} ({exc.filename or self.cache.dir})"
            return self._fail(spec, staging, start, why)
        except BaseException:
            if staging is not None:
                self.executor.abandon(staging)
            raise
        self.executor.release(spec.name)
        wall = record.get("wall_time_s") or time.perf_counter() - start  # run time, not time in a queue
        where = record.get("device", "cpu") + self.executor.describe(name)
        self.echo(f"  ran      {name} ({wall:.1f} s, {where})")
        return Outcome(name, "ran", entry=entry, wall_time_s=wall)

    def run_doc(self, spec: FigureSpec, upstream: dict[str, Entry]) -> dict:
        """What the harness runs (executors.write_run adds the staging's paths)."""
        # builder.sandbox needs mounts, which the guard's Landlock domain forbids: a figure using
        # it gets a broker forked before the guard (builder.sandbox.start_broker); it is confined all the same.
        runtime = static_inputs(spec, self.profile, {}, self.root).static["runtime"]
        return {"root": str(self.root), "script": str(spec.path), "profile": self.profile,
                "params": spec.params(self.profile), "upstream": {n: str(e.path / "out") for n, e in upstream.items()},
                "sandbox_broker": "builder/sandbox.py" in runtime}

    def execute(self, spec: FigureSpec, staging: Path) -> tuple[str | None, dict]:
        """Run one figure into staging/out through its executor; (problem or None, its record)."""
        name = spec.name
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"
        with self._lock:
            self.running[name] = time.perf_counter()
        try:
            result = self.executor.execute(spec, staging / RUN_FILE, log_path, spec.timeout[self.profile])
        finally:
            with self._lock:
                self.running.pop(name, None)
        if result.problem:  # a write the guard refused makes the script fail: say which
            why = _guard_problem(_read_record(staging))
            return (f"{why} (and then {result.problem})" if why else result.problem), {}
        return self.collect(spec, staging, log_path)

    def collect(self, spec: FigureSpec, staging: Path, log_path: Path) -> tuple[str | None, dict]:
        """After the harness exited 0 (and, contained, every process of the figure is gone): the
        staging directory holds only what ces expects (STAGING), each entry of the expected
        kind; its record, the outputs checked, the log kept in the entry. Every name is opened
        relative to the staging directory's descriptor, without following a link, and what
        ces creates there is created exclusively (O_EXCL): nothing the figure planted is followed."""
        fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            problem = _staging_problem(fd)
            if problem:
                return problem, {}
            record = _read_record_at(fd)
            if record is None:
                return ("ended without the harness's record of its run (os._exit(), exec() or a signal in the "
                        "figure's own process: end a figure by returning or sys.exit)"), {}
            problem = _check_outputs(spec, staging / "out", record)
            if problem:
                return problem, record
            for scratch in ("run.json", "record.json"):
                os.unlink(scratch, dir_fd=fd)
            if "tmp" in os.listdir(fd):
                shutil.rmtree("tmp", dir_fd=fd)  # the figure's TMPDIR (rmtree never follows a link)
            launch.copy_tail(log_path, "log.txt", MAX_LOG_BYTES, dir_fd=fd)
        finally:
            os.close(fd)
        return None, record

    def _fail(self, spec, staging, start, why) -> Outcome:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        self.executor.release(spec.name)
        log_path = self.logs / f"{spec.name}.log"
        wall = time.perf_counter() - start
        rel = spec.path.relative_to(self.root)
        tail = launch.tail(log_path)
        self.echo(f"  FAILED   {spec.name}: {why} after {wall:.1f} s ({rel}); log: {log_path.relative_to(self.root)}")
        if tail:
            self.echo("\n".join(f"    | {line}" for line in tail))
        return Outcome(spec.name, "failed", message=f"{why} ({rel}, log {log_path.relative_to(self.root)})",
                       wall_time_s=wall)

    # -- progress and interruption -------------------------------------------------------
    def _heartbeat(self, every: float = 15.0) -> None:
        while True:
            time.sleep(every)
            with self._lock:
                running = dict(self.running)
            if running:
                now = time.perf_counter()
                self.echo("  … running " + ", ".join(f"{n} ({now - t:.0f} s)" for n, t in running.items()))


#: What a staging directory may hold when its figure ends, and of which kind: anything else
#: (a `log.txt` or `manifest.json` planted as a link, a stray file) fails the figure.
STAGING = {"out": stat.S_IFDIR, "tmp": stat.S_IFDIR, "run.json": stat.S_IFREG, "record.json": stat.S_IFREG}


def _staging_problem(fd: int) -> str | None:
    names = sorted(os.listdir(fd))
    extra = [n for n in names if n not in STAGING]
    if extra:
        return "left unexpected file(s) in its staging directory: " + _names(extra)
    for name in names:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_IFMT(st.st_mode) != STAGING[name] or (STAGING[name] == stat.S_IFREG and st.st_nlink != 1):
            return f"replaced {name} in its staging directory by something else (a link, a special file)"
    return None


def _read_record_at(fd: int) -> dict | None:
    try:
        rfd = os.open("record.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    except (FileNotFoundError, OSError):
        return None
    with os.fdopen(rfd, "rb") as f:
        if not stat.S_ISREG(os.fstat(rfd).st_mode):   # a FIFO would block ces
            return None
        try:
            record = json.loads(f.read(64 * 2**20).decode("utf-8"))
        except ValueError:
            return None
    return record if isinstance(record, dict) else None


def _names(names: list[str], most: int = 5) -> str:
    """At most `most` names, each cut to 80 characters: an error stays one line."""
    shown = [n if len(n) <= 80 else n[:77] + "…" for n in names[:most]]
    return ", ".join(shown) + (f" and {len(names) - most} more" if len(names) > most else "")


def _read_record(staging: Path) -> dict:
    """The record of a failed run, when there is a sound one ({} otherwise: a link, a FIFO)."""
    try:
        fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        return _read_record_at(fd) or {}
    except OSError:
        return {}
    finally:
        os.close(fd)


def _guard_problem(record: dict) -> str | None:
    """What the harness saw the figure do that it may not: write, remove or rename in the
    project, or read a file that changed while it ran (its entry would record the new content)."""
    for key, what in (("writes_outside", "wrote outside its output directory"),
                      ("vandalised", "changed the project"),
                      ("changed_reads", "read a file that changed while it ran (rerun it)"),
                      ("unfollowed", "read what ces could not follow")):
        if record.get(key) and isinstance(record[key], list):
            return f"{what}: " + _names([str(x) for x in record[key]])
    return None


def max_output_bytes() -> int:
    return int(float(os.environ.get("CES_MAX_OUTPUT_MB", MAX_OUTPUT_MB)) * 2**20)


def _check_outputs(spec: FigureSpec, outdir: Path, record: dict) -> str | None:
    """None when the outputs are exactly the declared ones, each a regular file under the size
    cap (opened without following links: a FIFO, a device or a link to /etc/passwd is refused);
    their sha256 go to record["output_digests"]."""
    why = _guard_problem(record)
    if why:
        return why
    try:
        if not stat.S_ISDIR(os.lstat(outdir).st_mode):
            return "replaced its output directory by something that is not a directory"
        present = set(os.listdir(outdir))
    except OSError as exc:
        return f"its output directory is gone ({exc.strerror})"
    missing = [o for o in spec.outputs if o not in present]
    if missing:
        return "did not write declared output(s): " + _names(missing)
    extra = sorted(present - set(spec.outputs))
    if extra:
        return f"wrote {len(extra)} undeclared file(s): " + _names(extra) + " (add them to FIGURE['outputs'])"
    digests = {}
    for name in sorted(spec.outputs):
        try:
            digests[name] = output_digest(outdir / name, max_output_bytes())
        except ValueError as exc:
            return f"output {name} {exc}"
    record["output_digests"] = digests
    return None
