"""The Slurm executor: each stale figure a submitit job (submitit.AutoExecutor).

The job runs the same command as the local executor (builder.executors.harness_command), on a
node, through builder.launch; the Runner verifies the outputs and commits the entry with the same
code whichever ran it. The figure's FIGURE declaration gives its resources (gpu → gpus_per_node,
timeout → timeout_min, memory_gb → mem_gb), ces.yml's `slurm:` section the rest (partition,
account, qos, per-profile and gpu overrides). Figures that are ready together are submitted
together, as one job array per set of identical resources.

A Slurm figure runs in cache/.tmp/<figure>-slurm-<key16>/ (inside the repository, so on the
cluster's shared filesystem), where <key16> starts the *static key*: the digest of everything
known before the figure runs (code, params, seed, outputs, upstream keys, package versions).

    job.json      figure, profile, static key, cluster, job id, submitit folder, parameters
    harness.log   the figure's output, written by the job
    entry/        the staging the Runner commits: out/, run.json, record.json
    (submitit's own pickles and logs: cache/.tmp/slurm/<job id>/)

A build that finds job.json for a figure it needs re-attaches to the job instead of submitting
again; a build that starts keeps these directories (`clean_staging`). A job only runs the
figure once job.json names it, so a job whose ces died before recording it writes nothing.

How a job ends, as ces sees it (README's "what each job state means" says the same):
  - a result: the figure's exit, checked and committed by the Runner as for a local run;
  - a final Slurm state without a result (ENDED: CANCELLED, TIMEOUT, PREEMPTED, NODE_FAIL,
    OUT_OF_MEMORY, FAILED outside the figure…): one line naming the job, its state and the log;
    a harness killed by SIGTERM inside a job (scancel, time limit, pre-emption, requeue) makes
    the job wait for Slurm to end it, so that the state is Slurm's, not "killed by signal 15";
  - REQUEUED / PENDING after RUNNING (pre-emption, `scontrol requeue`): followed, not abandoned;
  - no record in sacct nor squeue (a queued array task cancelled, accounting off or purged) for
    `slurm.lost_after_s` (LOST_AFTER_S): a failure, "UNKNOWN", also when re-attaching.
A figure that declares a GPU, sent to a partition whose nodes have none (sinfo's Gres), is
refused before anything is submitted, naming the setting to change (`gpu: {gpus_per_node: 0}`).
This module imports neither submitit nor yaml until they are needed (`ces status` stays light).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import math
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from . import launch
from .errors import ConfigError, Detached
from .files import write_json
from .harness import write_run
from .keys import static_key
from .slurm_jobs import (JOB_FILE, LOST_AFTER_S, SUBMITIT_DIR, Handle, job_result, import_submitit, submitted_at, attach,
                         clean_staging, ended_problem, job_files, partition_gpus, phase, read_json)
from .slurm_node import HARNESS_LOG, STAGING, run_figure

GRACE_MIN = 2                  # Slurm's limit is the figure's timeout plus this
SACCT_EVERY_S = 10.0           # at most one forced sacct call (for all jobs) per this many seconds
# Names submitit's AutoExecutor shares between clusters; any other ces.yml key is Slurm's own.
GENERIC = ("name", "timeout_min", "mem_gb", "nodes", "cpus_per_task", "gpus_per_node", "tasks_per_node",
           "stderr_to_stdout")
SLURM_KEYS = ("cluster", "profiles", "gpu", "lost_after_s")  # ces.yml keys that are not submission parameters


def slurm_parameters(spec, profile: str, slurm: dict) -> dict:
    """The arguments of AutoExecutor.update_parameters for one figure, from the lowest layer up:
    ces.yml `slurm:` (site defaults) < the figure's declaration < `slurm.gpu:` (gpu figures) <
    `slurm.profiles.<profile>:` < `slurm.profiles.<profile>.gpu:`. Keys other than submitit's
    generic ones (timeout_min, mem_gb, gpus_per_node, cpus_per_task, …) are Slurm's: partition →
    slurm_partition, account → slurm_account, qos → slurm_qos, setup → slurm_setup, …"""
    def own(section):
        return {k: v for k, v in (section or {}).items() if k not in SLURM_KEYS}

    declared = {"timeout_min": math.ceil(spec.timeout[profile] / 60) + GRACE_MIN}
    if spec.gpu:
        declared["gpus_per_node"] = 1
    if spec.memory_gb:
        declared["mem_gb"] = spec.memory_gb
    prof = (slurm.get("profiles") or {}).get(profile) or {}
    layers = [own(slurm), declared]
    if spec.gpu:
        layers.append(own(slurm.get("gpu")))
    layers.append(own(prof))
    if spec.gpu:
        layers.append(own(prof.get("gpu")))
    merged: dict = {}
    for layer in layers:
        merged.update(layer)
    return {(k if k in GENERIC or k.startswith("slurm_") else f"slurm_{k}"): v for k, v in merged.items()}


def job_timeout_s(spec, profile: str, params: dict) -> float:
    """The figure's own timeout, unless ces.yml moved Slurm's limit: then that limit less the grace."""
    declared = math.ceil(spec.timeout[profile] / 60) + GRACE_MIN
    if params.get("timeout_min", declared) == declared:
        return spec.timeout[profile]
    return max(60.0, (params["timeout_min"] - GRACE_MIN) * 60.0)


class SlurmExecutor:
    """Figures as submitit jobs; the Runner commits what they leave in their staging."""

    name = "slurm"
    batches = True        # the Runner looks up every ready figure, then prepare() submits them together
    announces = True      # prepare() prints "submitted" / "attached"
    heartbeat_s = 60.0

    def __init__(self, root: Path, slurm: dict, profile: str, echo=print, confirm=None, poll_s: float | None = None):
        import_submitit()
        self.root, self.slurm, self.profile, self.echo = root, slurm, profile, echo
        self.confirm = confirm
        self.cluster = slurm.get("cluster", "slurm")
        lost = slurm.get("lost_after_s", LOST_AFTER_S)
        if isinstance(lost, bool) or not isinstance(lost, (int, float)) or lost <= 0:
            raise ConfigError(f"ces.yml: slurm.lost_after_s must be a positive number of seconds, not {lost!r}")
        self.lost_after_s = float(lost)
        self._gpus: dict = {}             # partition → (name, has GPUs), from sinfo
        self.poll_s = poll_s if poll_s is not None else (2.0 if self.cluster == "slurm" else 0.2)
        self.handles: dict[str, Handle] = {}
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._debug = threading.Lock()    # debug jobs run in this process and swap os.environ
        self._last_sacct = float("-inf")
        self._listed: tuple[set, set] | None = None  # (jobs asked, jobs listed) at the last sacct call
        self.tmp = root / "cache" / ".tmp"

    # -- what the Runner calls --------------------------------------------------------------
    def workers(self, jobs: int, figures: int) -> int:
        return max(jobs, figures)   # the threads only wait for jobs

    def jobdir(self, spec, inputs) -> Path:
        return self.tmp / f"{spec.name}-slurm-{static_key(inputs)[:16]}"

    def staging(self, spec, inputs) -> Path:
        return self.handles[spec.name].jobdir / STAGING

    def describe(self, name: str) -> str:
        handle = self.handles.get(name)
        return f", {handle.label}" if handle else ""

    def prepare(self, todo) -> None:
        """Re-attach to the jobs already submitted for these figures and inputs; submit the others,
        one job array per set of identical parameters."""
        fresh = []
        for spec, inputs, run in todo:
            handle = self._reattach(spec, inputs)
            if handle is not None:
                self.handles[spec.name] = handle
                continue
            jobdir = self.jobdir(spec, inputs)
            shutil.rmtree(jobdir, ignore_errors=True)
            (jobdir / STAGING / "out").mkdir(parents=True)
            write_run(jobdir / STAGING, run)
            params = slurm_parameters(spec, self.profile, self.slurm)
            info = {"figure": spec.name, "profile": self.profile, "static_key": static_key(inputs),
                    "static_digest": inputs.static_digest, "cluster": self.cluster, "executor": "slurm",
                    "parameters": params, "timeout_s": job_timeout_s(spec, self.profile, params),
                    "log": (jobdir / HARNESS_LOG).relative_to(self.root).as_posix(),
                    "staging": (jobdir / STAGING).relative_to(self.root).as_posix()}
            self.handles[spec.name] = handle = Handle(spec.name, jobdir, info, lost_after_s=self.lost_after_s)
            fresh.append(handle)
        self._check_gpus(fresh)
        groups: dict[str, list[Handle]] = {}
        for handle in fresh:
            groups.setdefault(json.dumps(handle.info["parameters"], sort_keys=True), []).append(handle)
        for group in groups.values():
            self._submit(group)

    def execute(self, spec, run_file: Path, log_path: Path, timeout: float) -> launch.Result:
        """Wait for the figure's job; its result as a launch.Result (the timeout is the job's; wall_s
        is the figure's run time on its node, not the time it queued)."""
        result, problem = self._problem(spec, log_path)
        wall = float((result or {}).get("wall_s") or 0.0)
        return launch.Result(0, wall_s=wall) if problem is None else launch.Result(None, wall_s=wall, error=problem)

    def _problem(self, spec, log_path: Path) -> tuple[dict | None, str | None]:
        handle = self.handles[spec.name]
        if handle.error:  # not submitted: the log says why, in full
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(f"{handle.error}\n{handle.info.get('submit_error', '')}\n"
                                f"parameters: {json.dumps(handle.info.get('parameters', {}), sort_keys=True)}\n",
                                encoding="utf-8")
            return None, handle.error
        result, state = self._wait(handle)
        self._gather_log(handle, log_path, with_job_logs=not result or result.get("rc") != 0)
        where = handle.label
        if not result:
            return None, ended_problem(where, state)
        return result, self._result_problem(where, result)

    @staticmethod
    def _result_problem(where: str, result: dict) -> str | None:
        if "error" in result:
            return f"{where} failed: {result['error'].strip().splitlines()[-1]}"
        if "superseded" in result:
            return f"{where} did not run: its staging belongs to job {result['superseded']}"
        if "timed_out" in result:
            return f"timed out after {result['timed_out']:g} s ({where})"
        if result["rc"] != 0:
            return f"{launch.exit_problem(result['rc'])} ({where})"
        return None

    def release(self, name: str) -> None:
        """After the commit or the failure: the job's directories go."""
        handle = self.handles.get(name)
        if handle is not None:
            handle.collected = True
            self._discard(handle)

    def abandon(self, staging: Path) -> None:
        pass  # interrupted: the job runs on, its staging stays for the next build

    def interrupt(self) -> None:
        """Ctrl-C: ask whether to cancel the submitted jobs (default: no, they keep running)."""
        self.stop.set()
        live = [h for h in self.handles.values() if h.job is not None and h.info.get("job_id") and not h.collected
                and phase(h, self._slurm_state)[0] in ("queued", "running")]
        if not live:
            return
        ids = ", ".join(str(h.info["job_id"]) for h in live)
        cancel = False
        if self.confirm is not None:
            try:
                cancel = self.confirm(f"\nCancel the {len(live)} submitted job(s) ({ids})?", default=False)
            except (Exception, KeyboardInterrupt):   # click.Abort on end of input or a second Ctrl-C
                cancel = False
        if cancel:
            for h in live:
                self._cancel(h)
                self._discard(h)
            self.echo(f"Cancelled {len(live)} job(s): {ids}")
        else:
            self.echo(f"{len(live)} job(s) keep running ({ids}); run `ces build --executor slurm "
                      f"--profile {self.profile}` again to collect them.")

    def finish(self, figures, wanted, cache) -> None:
        """Sweep the job directories of this build's figures that no figure uses any more (their
        inputs changed, or the figure is gone) once their job has ended; name those still running."""
        used = {h.jobdir for h in self.handles.values()}
        for f in job_files(self.root):
            if f.parent in used:
                continue
            info = read_json(f) or {}
            figure = info.get("figure")
            if figure in figures and figure not in wanted:
                continue
            handle = Handle(figure or f.parent.name, f.parent, info)
            try:
                handle.job = attach(self.root, info)
            except Exception:
                handle.job = None
            state = phase(handle, self._slurm_state)[0]
            if state in ("finished", "failed"):
                self._discard(handle)
            else:
                self.echo(f"  note     {handle.label} ({handle.figure}, older inputs) is still {state}"
                          + (f"; `scancel {info['job_id']}` stops it" if handle.cluster == "slurm" else ""))
        clean_staging(cache)  # submitit's leftovers of the jobs just collected

    # -- submission -----------------------------------------------------------------------------
    def _reattach(self, spec, inputs) -> Handle | None:
        jobdir = self.jobdir(spec, inputs)
        info = read_json(jobdir / JOB_FILE)
        if not info:
            return None
        # A job unknown to sacct and squeue counts as lost from its submission on, not from now.
        handle = Handle(spec.name, jobdir, info, lost_after_s=self.lost_after_s, unknown_since=submitted_at(info))
        if info.get("static_key") == static_key(inputs) and info.get("job_id"):
            try:
                handle.job = attach(self.root, info)
            except Exception as exc:
                self.echo(f"  warning  {spec.name}: cannot follow {handle.label} ({exc}); submitting again")
                handle.job = None
            if handle.job is not None:
                state, word = phase(handle, self._slurm_state)
                if state != "failed":
                    self.echo(f"  attached {spec.name} [{self.profile}] → {handle.label} ({word}), "
                              f"static key {info['static_key'][:16]}")
                    return handle
                self.echo(f"  warning  {spec.name}: {ended_problem(handle.label, word)}, while ces was away; "
                          "submitting again")
        self._discard(handle)
        return None

    def _executor(self, params: dict):
        submitit = import_submitit()
        try:
            ex = submitit.AutoExecutor(folder=self.tmp / SUBMITIT_DIR / "%j", cluster=self.cluster)
        except RuntimeError as exc:  # no srun here
            raise RuntimeError(f"{exc} (run ces on the cluster's login node)") from None
        ex.update_parameters(**params)
        return ex

    def _submit(self, group: list[Handle]) -> None:
        params = dict(group[0].info["parameters"])
        params.setdefault("name", f"ces-{group[0].figure}" if len(group) == 1 else f"ces-{self.profile}")
        try:
            ex = self._executor(params)
            args = [(str(self.root), str(h.jobdir), h.info["timeout_s"]) for h in group]
            # submitit prints sbatch's stderr when it fails; the FAILED line and the log say it instead
            with contextlib.redirect_stderr(io.StringIO()):
                if len(group) == 1:
                    jobs = [ex.submit(run_figure, *args[0])]
                else:
                    with ex.batch():
                        jobs = [ex.submit(run_figure, *a) for a in args]
        except Exception as exc:  # bad parameters, sbatch refused, no Slurm here: the Runner says it, once
            why = [line.strip() for line in f"{exc}".strip().splitlines() if line.strip()] or [type(exc).__name__]
            for h in group:
                h.error = f"could not submit to {self.cluster}: {why[-1] if 'error' in why[-1] else why[0]}"
                h.info["submit_error"] = "\n".join(why)
            return
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        for h, job in zip(group, jobs):
            h.job = job
            h.info.update(job_id=str(job.job_id), submitted=now, ces_pid=os.getpid(),
                          submitit_folder=job.paths.folder.relative_to(self.root).as_posix())
            write_json(h.jobdir / JOB_FILE, h.info)
            array = f", array of {len(group)}" if len(group) > 1 else ""
            self.echo(f"  submitted {h.figure} [{self.profile}] → {h.label}{array}, "
                      f"static key {h.info['static_key'][:16]}")

    # -- waiting ------------------------------------------------------------------------------------
    def _slurm_state(self, job) -> str:
        """sacct's state of the job: one sacct call for all jobs at most every SACCT_EVERY_S. submitit's
        watcher keeps the last state it read for a job that sacct no longer lists (a queued array
        task cancelled: PENDING for ever); such a job reads UNKNOWN here."""
        watcher = job.watcher
        with self._lock:
            state = watcher.get_state(job.job_id, mode="cache")  # registers the job
            if time.monotonic() - self._last_sacct > SACCT_EVERY_S:
                self._last_sacct = time.monotonic()
                asked = set(getattr(watcher, "_registered", ())) - set(getattr(watcher, "_finished", ()))
                watcher.update()
                try:
                    self._listed = (asked, set(watcher.read_info(getattr(watcher, "_output", b""))))
                except Exception:
                    self._listed = None
                state = watcher.get_state(job.job_id, mode="cache")
            listed = getattr(self, "_listed", None)
        if listed is not None and job.job_id in listed[0] and job.job_id not in listed[1]:
            return "UNKNOWN"
        return state

    def _wait(self, handle: Handle) -> tuple[dict | None, str]:
        job = handle.job
        if handle.cluster == "debug":   # runs here, now, in this thread
            with self._debug:
                return job_result(job, lambda: "cancelled")
        while True:
            ph, word = phase(handle, self._slurm_state)
            if ph in ("finished", "failed"):
                break
            if ph == "running":
                handle.was_running = True
            elif word != "UNKNOWN" and handle.cluster == "slurm" and self._requeued(handle):
                self.echo(f"  requeued {handle.figure} → {handle.label} ({word}), following it")
            if self.stop.wait(self.poll_s):
                raise Detached(handle.label)
        if handle.cluster != "slurm":
            job._results_timeout_s = 1     # no shared filesystem to wait for
        elif ph == "failed" and not job.paths.result_pickle.exists():
            return None, word              # no result is coming (and submitit would wait on its own state)
        return job_result(job, lambda: word)

    @staticmethod
    def _requeued(handle: Handle) -> bool:
        """Queued again after it ran (pre-empted, `scontrol requeue`): seen running, or its figure's
        log written by a run that ces did not see. True once per requeue."""
        try:
            st = (handle.jobdir / HARNESS_LOG).stat()
            mark = (st.st_ino, st.st_mtime_ns)
        except OSError:
            mark = None
        if not handle.was_running and (mark is None or mark == handle.requeue_mark):
            return False
        handle.was_running, handle.requeue_mark = False, mark
        return True

    def _check_gpus(self, handles: list[Handle]) -> None:
        """Refuse, before submitting anything, a GPU request to a partition without GPUs."""
        if self.cluster != "slurm":
            return
        for h in handles:
            params = h.info["parameters"]
            if not params.get("gpus_per_node") and "gpu" not in str(params.get("slurm_gres", "")):
                continue
            part = params.get("slurm_partition")
            if part not in self._gpus:
                self._gpus[part] = partition_gpus(part)
            found = self._gpus[part]
            if found is not None and not found[1]:
                self.stop.set()  # figures already submitted are left running, for the next build
                raise ConfigError(
                    f"ces.yml: {h.figure} declares \"gpu\": True, and asks {params.get('gpus_per_node', 1)} GPU(s) "
                    f"of Slurm partition {found[0]}, whose nodes have none (sinfo: no gpu gres); nothing submitted",
                    tip="on a cluster without GPUs, run the GPU figures on CPUs: in ces.yml, under slurm:, set "
                        "`gpu: {gpus_per_node: 0}`; or send them to a partition with GPUs: `gpu: {partition: NAME}`")

    def _gather_log(self, handle: Handle, log_path: Path, with_job_logs: bool) -> None:
        """cache/.logs/<figure>.log: the figure's output, then (if the job died outside the figure)
        the tail of submitit's own logs."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(handle.jobdir / HARNESS_LOG, log_path)
        except OSError:
            log_path.write_bytes(b"")
        if not with_job_logs or handle.job is None:
            return
        with open(log_path, "ab") as out:
            for path in (handle.job.paths.stdout, handle.job.paths.stderr):
                if path.is_file():
                    with open(path, "rb") as f:
                        f.seek(max(0, f.seek(0, 2) - 16384))
                        out.write(f"\n---- {handle.label}: {path.relative_to(self.root)} ----\n".encode())
                        out.write(f.read())

    def _cancel(self, handle: Handle) -> None:
        job = handle.job
        try:
            if handle.cluster == "local" and getattr(job, "_process", None) is None:
                os.kill(int(job.job_id), signal.SIGINT)   # what LocalJob.cancel does, for a re-attached job
            else:
                job.cancel(check=False)
        except (OSError, ValueError, subprocess.SubprocessError):
            pass

    def _discard(self, handle: Handle) -> None:
        folder = handle.info.get("submitit_folder")
        if folder and handle.info.get("job_id"):
            shutil.rmtree(self.root / folder, ignore_errors=True)
        shutil.rmtree(handle.jobdir, ignore_errors=True)
