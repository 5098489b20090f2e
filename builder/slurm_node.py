"""What a Slurm job runs on its node: `run_figure`, pickled by reference by submitit (the job
imports builder.slurm_node, which imports only launch and harness).

The job waits until its job.json names it (a job whose ces died before recording it writes
nothing), then runs the harness exactly as the local executor does, its output in harness.log.
A harness killed by SIGTERM inside a job (scancel, time limit, pre-emption, requeue) makes the
job wait for Slurm to end it, so that the state ces reads is Slurm's, not "killed by signal 15".
"""

from __future__ import annotations

import shutil
import signal
import socket
import time
from pathlib import Path

from . import launch
from .harness import harness_command, harness_env
from .slurm_jobs import JOB_FILE, read_json

STAGING = "entry"
HARNESS_LOG = "harness.log"
OWNER_WAIT_S = 120.0           # how long a job waits for job.json to name it
SIGTERM_GRACE_S = 90.0         # a harness SIGTERMed in a job: how long the job waits for Slurm's SIGKILL


def run_figure(root: str, jobdir: str, timeout_s: float) -> dict:
    """What a submitted job runs (pickled by reference).

    Waits until job.json names this job, then runs the harness exactly as the local executor
    does, its output in <jobdir>/harness.log. Returns a small dict; never raises for the figure.
    """
    import traceback

    jobdir_p, root_p = Path(jobdir), Path(root)
    staging = jobdir_p / STAGING
    try:
        owner = _wait_for_owner(jobdir_p)
        if owner is not None:
            return {"superseded": owner}
        shutil.rmtree(staging / "out", ignore_errors=True)  # a requeued job starts clean
        (staging / "out").mkdir(parents=True)
        result = launch.run(harness_command(staging / "run.json"), root_p, harness_env(root_p, staging),
                            log_path=jobdir_p / HARNESS_LOG, timeout=timeout_s)
        if result.returncode == -signal.SIGTERM and _in_slurm_job():
            # scancel, the time limit, pre-emption or a requeue: Slurm SIGKILLs this job within its
            # KillWait, so that ces reads Slurm's state (a requeued job runs this function again).
            time.sleep(SIGTERM_GRACE_S)
        if result.timed_out:
            return {"timed_out": timeout_s, "host": socket.gethostname()}
        if result.error:
            return {"error": result.error}
        return {"rc": result.returncode, "host": socket.gethostname(), "wall_s": round(result.wall_s, 3)}
    except Exception:
        return {"error": traceback.format_exc()}


def _in_slurm_job() -> bool:
    try:
        import submitit

        return submitit.JobEnvironment().cluster == "slurm"
    except Exception:
        return False


def _wait_for_owner(jobdir: Path) -> str | None:
    """None when job.json names this job (or outside submitit); else the id that owns it."""
    try:
        import submitit

        me = str(submitit.JobEnvironment().job_id)
    except Exception:
        return None
    deadline = time.time() + OWNER_WAIT_S
    while True:
        info = read_json(jobdir / JOB_FILE)
        if info and info.get("job_id"):
            return None if str(info["job_id"]) == me else str(info["job_id"])
        if time.time() > deadline:
            return "nobody"
        time.sleep(0.1)
