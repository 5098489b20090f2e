"""Slurm job state: what ces knows of a submitted figure's job (job.json, submitit's Job), and
its phase from sacct (through submitit's watcher) and squeue.

How a job ends, as ces sees it (README's "what each job state means" says the same):
  - a result: the figure's exit, checked and committed by the Runner as for a local run;
  - a final Slurm state without a result (ENDED: CANCELLED, TIMEOUT, PREEMPTED, NODE_FAIL,
    OUT_OF_MEMORY, FAILED outside the figure…): one line naming the job, its state and the log;
  - REQUEUED / PENDING after RUNNING (pre-emption, `scontrol requeue`): followed, not abandoned;
  - no record in sacct nor squeue (a queued array task cancelled, accounting off or purged) for
    `slurm.lost_after_s` (LOST_AFTER_S): a failure, "UNKNOWN", also when re-attaching.
Imports submitit only when a job is attached (`ces status` stays light).
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

JOB_FILE = "job.json"           # in a submitted figure's directory: figure, profile, static key, job id, …
SUBMITIT_DIR = "slurm"         # cache/.tmp/slurm/<job id>/: submitit's pickles and logs
LOST_AFTER_S = 60.0            # known to neither sacct nor squeue for this long: the job is lost
QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "RESIZING", "SUSPENDED",
          "UNKNOWN", "READY"}
RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"}
# A final state without a result: what it means (the FAILED line says it after the job id and state).
ENDED = {
    "CANCELLED": "cancelled (scancel, or an administrator) before the figure finished",
    "TIMEOUT": "reached its Slurm time limit (timeout_min; the figure's own timeout is 2 minutes shorter)",
    "PREEMPTED": "pre-empted by a job of higher priority, and not requeued",
    "NODE_FAIL": "its node failed; run the build again to resubmit it",
    "BOOT_FAIL": "its node failed to boot; run the build again to resubmit it",
    "OUT_OF_MEMORY": "ran out of memory (raise memory_gb in FIGURE, or mem_gb in ces.yml)",
    "DEADLINE": "passed its deadline before it could run",
    "FAILED": "failed outside the figure (job setup, Python or submitit: their output ends the log)",
    "REVOKED": "revoked by Slurm (federation)",
    "UNKNOWN": "known to neither sacct nor squeue (cancelled while queued, accounting off, or purged)",
}


def read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def job_files(root: Path) -> list[Path]:
    """The job.json of every submitted figure (cache/.tmp/<figure>-slurm-<key16>/job.json)."""
    tmp = root / "cache" / ".tmp"
    return sorted(tmp.glob(f"*/{JOB_FILE}")) if tmp.is_dir() else []


def clean_staging(cache) -> None:
    """Remove what killed runs left in cache/.tmp, but keep the directories of submitted jobs
    (those with a job.json) and their submitit folders: the next slurm build re-attaches to them
    or, once their job has ended, removes them."""
    tmp = cache.tmp
    if not tmp.is_dir():
        return
    keep_jobs, keep_ids = set(), set()
    for f in job_files(cache.root):
        keep_jobs.add(f.parent.name)
        info = read_json(f) or {}
        if info.get("job_id"):
            keep_ids.update({str(info["job_id"]), str(info["job_id"]).split("_")[0]})
    for d in tmp.iterdir():
        if d.name == SUBMITIT_DIR and d.is_dir():
            for sub in d.iterdir():
                if sub.name not in keep_ids:
                    _remove(sub)
            if not keep_ids:
                _remove(d)
            continue
        if d.name not in keep_jobs:
            _remove(d)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


@dataclass
class Handle:
    figure: str
    jobdir: Path
    info: dict = field(default_factory=dict)
    job: object = None            # a submitit Job, None when it cannot be re-attached
    error: str | None = None      # the submission failed
    lost_after_s: float = LOST_AFTER_S
    unknown_since: float | None = None  # time.time() when sacct and squeue first both ignored it
    was_running: bool = False
    requeue_mark: tuple | None = None  # the figure's log when a requeue was last reported
    collected: bool = False       # released: committed or failed, not to be cancelled

    @property
    def cluster(self) -> str:
        return self.info.get("cluster", "slurm")

    @property
    def label(self) -> str:
        job_id = self.info.get("job_id", "?")
        return f"Slurm job {job_id}" if self.cluster == "slurm" else f"{self.cluster} job {job_id}"


def import_submitit():
    try:
        import submitit
    except ImportError:
        raise ConfigError("the slurm executor needs submitit", tip="pip install submitit") from None
    return submitit


def attach(root: Path, info: dict):
    """The submitit Job that job.json describes, or None (a debug job lived inside its ces)."""
    submitit = import_submitit()
    if not info.get("job_id") or not info.get("submitit_folder"):
        return None
    folder, job_id, cluster = root / info["submitit_folder"], str(info["job_id"]), info.get("cluster", "slurm")
    if cluster == "slurm":
        return submitit.SlurmJob(folder=folder, job_id=job_id)
    if cluster == "local":
        return submitit.LocalJob(folder=folder, job_id=job_id)
    return None


def _pid_alive(job_id: str) -> bool:
    """A re-attached local job: its controller process (its pid is the job id) still runs."""
    try:
        stat = Path(f"/proc/{int(job_id)}/stat").read_text()
        cmdline = Path(f"/proc/{int(job_id)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z" and b"submitit" in cmdline


def phase(handle: Handle, slurm_state=None) -> tuple[str, str]:
    """(queued | running | finished | failed, the cluster's word for it)."""
    job = handle.job
    if job is None:
        return "failed", "lost with the ces that ran it" if handle.cluster == "debug" else "not submitted"
    if job.paths.result_pickle.exists():
        return "finished", "finished"
    if handle.cluster == "slurm":
        state = (slurm_state(job) if slurm_state else job.watcher.get_state(job.job_id, mode="force")) or "UNKNOWN"
        state = state.split()[0].upper()
        if state == "UNKNOWN":
            state = _squeue_state(job.job_id) or "UNKNOWN"
        if state == "UNKNOWN":
            now = time.time()
            if handle.unknown_since is None:
                handle.unknown_since = now
            if now - handle.unknown_since >= handle.lost_after_s:
                return "failed", "UNKNOWN"
            return "queued", "UNKNOWN"
        handle.unknown_since = None
        if state in QUEUED:
            return "queued", state
        if state in RUNNING:
            return "running", state
        return ("finished" if state == "COMPLETED" else "failed"), state
    if handle.cluster == "local":
        proc = getattr(job, "_process", None)
        alive = proc.poll() is None if proc is not None else _pid_alive(job.job_id)
        return ("running", "running") if alive else ("failed", "its process ended")
    return "running", "debug"


def _squeue_state(job_id: str) -> str | None:
    """squeue's word for a job that sacct does not know (yet, or any more), or None."""
    try:
        out = subprocess.run(["squeue", "-h", "-j", str(job_id), "-o", "%T"], capture_output=True, text=True,
                             timeout=30, check=False).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return out[0].upper() if out else None


def submitted_at(info: dict) -> float | None:
    try:
        return _dt.datetime.fromisoformat(info["submitted"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def ended_problem(label: str, state: str) -> str:
    """The FAILED line's reason for a job that ended without a result: job id, state, meaning."""
    if state in ENDED:
        return f"{label} {state}: {ENDED[state]}"
    return f"{label} ended without a result ({state})"


def partition_gpus(partition: str | None) -> tuple[str, bool] | None:
    """(partition, whether any of its nodes has a GPU gres), from sinfo; None when sinfo cannot tell."""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P %G"] + (["-p", partition] if partition else []),
                             capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [line.split(None, 1) for line in out.splitlines() if line.strip()]
    if not partition:  # the default partition is starred
        rows = [r for r in rows if r[0].endswith("*")]
    if not rows:
        return None
    name = rows[0][0].rstrip("*")
    return name, any("gpu" in (r[1] if len(r) > 1 else "") for r in rows)


def job_result(job, state) -> tuple[dict | None, str]:
    """The job's return value, or None and why there is none (its state, or submitit's error)."""
    try:
        return job.result(), "finished"
    except Exception as exc:
        text = str(exc)
        if "failed during processing with trace" in text:  # submitit could not run run_figure
            trace = [line for line in text.split("-" * 22)[1].splitlines() if line.strip()]
            return None, f"submitit: {trace[-1].strip() if trace else 'error'}"
        return None, state()


def describe_jobs(root: Path, names=None) -> list[tuple[str, str, str]]:
    """(figure, phase, detail) for each job.json; `ces status` prints them."""
    lines = []
    for f in job_files(root):
        info = read_json(f)
        if not info or (names and info.get("figure") not in names):
            continue
        handle = Handle(info.get("figure", f.parent.name), f.parent, info, unknown_since=submitted_at(info))
        try:
            handle.job = attach(root, info)
            ph, state = phase(handle)
        except ConfigError:
            ph, state = "unknown", "(submitit is not installed)"
        except Exception as exc:  # sacct missing, a damaged job.json
            ph, state = "unknown", f"({exc})"
        detail = (f"{handle.label} {state}, submitted {info.get('submitted', '?')[:19]}, "
                  f"static key {info.get('static_key', '?')[:12]}; log {Path(info.get('log', '?'))}")
        lines.append((handle.figure, ph, detail))
    return lines
