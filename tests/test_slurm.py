"""The Slurm executor against a real Slurm (the single-node cluster .ci/slurm-up starts from Debian's
packages): submission, job arrays, waiting, collecting, re-attaching after kill -9, scancel of a
queued and of a running job, a requeue, a job failing outside the figure, a GPU figure on a
cluster without GPUs. The submission / re-attach cases also run against submitit's `local`
executor, for machines without Slurm.

Without a cluster these tests skip; under CI=true they fail, naming what is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from builder.cache import Cache
from builder.errors import ExitCode
from conftest import CES, ces_env

pytestmark = pytest.mark.slow
submitit = pytest.importorskip("submitit")
CI = os.environ.get("CI") == "true"

NAP = '''FIGURE = {"name": "nap", "caption": "c", "alt": "a", "outputs": ["nap.json"],
          "params": {}}
import os, time
from builder.script import setup
run = setup(FIGURE)
print("started", flush=True)
time.sleep(float(os.environ.get("CES_TEST_NAP", "0")))
run.save_json("nap.json", {"slept": True})
'''


def _sh(*cmd, timeout=30) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False)


def _cluster_problem() -> str | None:
    """Why this machine has no usable Slurm, or None."""
    for tool in ("sbatch", "squeue", "sacct", "sinfo", "scontrol"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    try:
        nodes = _sh("sinfo", "-h", "-o", "%T").stdout.split()
        if not any(n.rstrip("*") in ("idle", "mixed", "allocated", "completing") for n in nodes):
            return f"no node up (sinfo: {' '.join(nodes) or 'nothing'})"
        if _sh("sacctmgr", "-n", "list", "cluster").returncode != 0:
            return "no accounting (slurmdbd): submitit reads job states with sacct"
    except subprocess.TimeoutExpired:
        return "slurmctld does not answer"
    return None


@pytest.fixture(scope="session")
def cluster():
    """The default partition and its node's CPUs."""
    problem = _cluster_problem()
    if problem:
        msg = f"no Slurm cluster here: {problem} (.ci/slurm-up starts one)"
        pytest.fail(msg) if CI else pytest.skip(msg)
    rows = [line.split() for line in _sh("sinfo", "-h", "-o", "%P %c").stdout.splitlines()]
    default = next(r for r in rows if r[0].endswith("*"))
    return {"partition": default[0].rstrip("*"), "cpus": int(default[1])}


@pytest.fixture
def slurm_deck(deck, cluster):
    """A copy of the minideck with a nap figure, submitting to the real cluster under a job name of
    its own; every job left behind is cancelled at the end."""
    (deck / "figures" / "nap.py").write_text(NAP)
    name = f"ces-test-{uuid.uuid4().hex[:8]}"
    write_config(deck, "slurm", name, partition=cluster["partition"])
    yield deck
    _sh("scancel", f"--name={name}")
    _sh("scancel", f"--name={name}-blocker")


def write_config(deck: Path, cluster: str, name: str, partition: str | None = None, extra: str = "") -> None:
    lines = ["executor: slurm", "slurm:", f"  cluster: {cluster}", f"  name: {name}", "  lost_after_s: 8"]
    if partition:
        lines.append(f"  partition: {partition}")
    (deck / "ces.yml").write_text("\n".join(lines) + "\n" + extra)


def job_name(deck: Path) -> str:
    return re.search(r"name: (\S+)", (deck / "ces.yml").read_text())[1]


def start(deck: Path, log: Path, nap: float, *args) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(CES + ["build", "--profile", "smoke", *args], cwd=deck, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=ces_env({"CES_TEST_NAP": str(nap)}))


def finish(proc: subprocess.Popen, log: Path, timeout: float = 120) -> tuple[int, str]:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"ces build still waiting after {timeout:g} s:\n{log.read_text()}")
    return rc, log.read_text()


def wait_for(predicate, what: str, timeout: float = 60.0):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def job_info(deck: Path, figure: str = "nap") -> dict | None:
    for f in (deck / "cache" / ".tmp").glob(f"{figure}-slurm-*/job.json"):
        try:
            return json.loads(f.read_text())
        except ValueError:
            return None
    return None


def job_dirs(deck: Path, figure: str) -> list[Path]:
    return sorted((deck / "cache" / ".tmp").glob(f"{figure}-slurm-*"))


def started(deck: Path, figure: str = "nap"):
    def check():
        dirs = job_dirs(deck, figure)
        log = dirs[0] / "harness.log" if dirs else None
        return job_info(deck, figure) if log and log.is_file() and "started" in log.read_text() else None
    return check


def squeue_state(job_id: str) -> str:
    return _sh("squeue", "-h", "-j", job_id, "-o", "%T").stdout.strip()


def block_the_node(deck: Path, cluster) -> str:
    """A job that takes every CPU of the node, so that ces's jobs stay PENDING."""
    out = _sh("sbatch", "--parsable", f"--job-name={job_name(deck)}-blocker", f"--cpus-per-task={cluster['cpus']}",
              "--output=/dev/null", "--wrap", "sleep 300").stdout.strip()
    wait_for(lambda: squeue_state(out) == "RUNNING", "the blocker to run", 30)
    return out


def failed_line(out: str, figure: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith(f"  FAILED   {figure}:")]
    assert len(lines) == 1, out  # printed once
    return lines[0]


def entry_count(deck: Path, figure: str) -> int:
    return len(Cache(deck).entries(figure))


# -- submission, arrays, waiting, collecting: Slurm and submitit's local executor --------------------
@pytest.mark.parametrize("where", ["slurm", "local"])
def test_an_array_is_submitted_waited_for_and_collected(deck, where, request, run_ces, tmp_path):
    """Two ready figures go as one job array; the entries are those of a local build (same keys)."""
    (deck / "figures" / "nap.py").write_text(NAP)
    plain = tmp_path / "plain"
    shutil.copytree(deck, plain)
    name = f"ces-test-{uuid.uuid4().hex[:8]}"
    if where == "slurm":
        cluster = request.getfixturevalue("cluster")
        write_config(deck, "slurm", name, partition=cluster["partition"])
        request.addfinalizer(lambda: _sh("scancel", f"--name={name}"))
    else:
        write_config(deck, "local", name)
    label = "Slurm job" if where == "slurm" else "local job"
    out = run_ces(deck, "build", "--profile", "smoke", env={"CES_TEST_NAP": "1"}, timeout=180).stdout
    ids = re.findall(rf"submitted (\w+) \[smoke\] → {label} (\S+), array of 2", out)
    assert sorted(f for f, _ in ids) == ["line", "nap"], out
    ran = re.search(r"ran      nap \(([\d.]+) s, cpu, " + label, out)
    assert ran and 1.0 <= float(ran[1]) < 5, out  # its run time (it sleeps 1 s)
    if where == "slurm":
        array = {i.split("_")[0] for _, i in ids}
        assert len(array) == 1 and all("_" in i for _, i in ids)  # one array, two tasks
        states = _sh("sacct", "-n", "-X", "-P", "-j", array.pop(), "-o", "JobID,State").stdout
        wait_for(lambda: _sh("sacct", "-n", "-X", "-P", "-j", ids[0][1].split("_")[0], "-o", "State").stdout
                 .split() == ["COMPLETED", "COMPLETED"], f"sacct to show both tasks COMPLETED ({states})", 30)
    run_ces(plain, "build", "--profile", "smoke")
    for fig in ("line", "nap"):
        a, b = Cache(deck).entries(fig), Cache(plain).entries(fig)
        assert len(a) == len(b) == 1 and a[0].key == b[0].key and a[0].manifest["outputs"] == b[0].manifest["outputs"]
        assert not job_dirs(deck, fig)
    assert "cached   nap" in run_ces(deck, "build", "--profile", "smoke").stdout


def test_run_time_is_not_queue_time(slurm_deck, cluster, tmp_path):
    """A job queued behind another for several seconds reports the seconds it ran."""
    blocker = block_the_node(slurm_deck, cluster)
    proc = start(slurm_deck, tmp_path / "b.log", 0.5, "nap")
    wait_for(lambda: job_info(slurm_deck), "the submission")
    time.sleep(6)
    _sh("scancel", blocker)
    t0 = time.time()
    rc, out = finish(proc, tmp_path / "b.log")
    assert rc == 0, out
    ran = float(re.search(r"ran      nap \(([\d.]+) s", out)[1])
    assert ran < 3 < 6 + (time.time() - t0), out


@pytest.mark.parametrize("where", ["slurm", "local"])
def test_reattach_after_kill_9(deck, where, request, run_ces, tmp_path):
    (deck / "figures" / "nap.py").write_text(NAP)
    name = f"ces-test-{uuid.uuid4().hex[:8]}"
    if where == "slurm":
        write_config(deck, "slurm", name, partition=request.getfixturevalue("cluster")["partition"])
        request.addfinalizer(lambda: _sh("scancel", f"--name={name}"))
    else:
        write_config(deck, "local", name)
    proc = start(deck, tmp_path / "b.log", 4, "nap")
    info = wait_for(started(deck), "the job to start")
    proc.kill()  # kill -9: ces, not the job
    proc.wait()
    label = ("Slurm job " if where == "slurm" else "local job ") + info["job_id"]
    status = run_ces(deck, "status", "--profile", "smoke").stdout
    assert f"{label} " in status and "missing  nap" in status, status
    out = run_ces(deck, "build", "--profile", "smoke", "nap", timeout=120).stdout
    assert f"attached nap [smoke] → {label}" in out and "submitted" not in out and "ran      nap" in out, out
    assert entry_count(deck, "nap") == 1 and not job_dirs(deck, "nap")


# -- how jobs end without a result --------------------------------------------------------------------
@pytest.mark.parametrize("bound", ["lost_after_s: 8", "lost_after_s: 3600"])
def test_a_queued_array_task_cancelled_is_a_failure_not_a_wait(slurm_deck, cluster, tmp_path, bound):
    """scancel of a PENDING array task leaves no record in sacct nor squeue: UNKNOWN. Past
    slurm.lost_after_s it is a failure naming the job, its state and the log. The broken case
    (a bound of an hour) shows the build would wait on: it is the bound that ends it."""
    cfg = slurm_deck / "ces.yml"
    cfg.write_text(cfg.read_text().replace("lost_after_s: 8", bound))
    blocker = block_the_node(slurm_deck, cluster)
    proc = start(slurm_deck, tmp_path / "b.log", 0)
    info = wait_for(lambda: job_info(slurm_deck), "the submission")
    assert "_" in info["job_id"], info  # an array task
    assert squeue_state(info["job_id"]) == "PENDING"
    _sh("scancel", info["job_id"])
    _sh("scancel", blocker)
    if bound.endswith("3600"):
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=40)
        proc.kill()
        proc.wait()
        return
    rc, out = finish(proc, tmp_path / "b.log", timeout=90)
    line = failed_line(out, "nap")
    assert rc == 1 and f"Slurm job {info['job_id']} UNKNOWN: known to neither sacct nor squeue" in line, out
    assert "log: cache/.logs/nap.log" in line and (slurm_deck / "cache" / ".logs" / "nap.log").is_file()
    assert "ran      line" in out and entry_count(slurm_deck, "nap") == 0 and not job_dirs(slurm_deck, "nap")


def test_a_lost_job_found_on_reattach_is_submitted_again(slurm_deck, cluster, tmp_path, run_ces):
    blocker = block_the_node(slurm_deck, cluster)
    proc = start(slurm_deck, tmp_path / "b.log", 0, "nap")
    info = wait_for(lambda: job_info(slurm_deck), "the submission")
    proc.kill()
    proc.wait()
    _sh("scancel", info["job_id"])
    _sh("scancel", blocker)
    wait_for(lambda: not squeue_state(info["job_id"]), "the job to leave squeue", 30)
    time.sleep(8)  # lost_after_s, counted from the submission
    out = run_ces(slurm_deck, "build", "--profile", "smoke", "nap", timeout=120).stdout
    assert re.search(rf"warning  nap: Slurm job {info['job_id']} (UNKNOWN|CANCELLED): .*submitting again", out), out
    assert "submitted nap" in out and "ran      nap" in out and entry_count(slurm_deck, "nap") == 1


def test_scancel_of_a_running_job_says_cancelled(slurm_deck, tmp_path):
    proc = start(slurm_deck, tmp_path / "b.log", 120, "nap")
    info = wait_for(started(slurm_deck), "the job to start")
    _sh("scancel", info["job_id"])
    rc, out = finish(proc, tmp_path / "b.log", timeout=90)
    line = failed_line(out, "nap")
    assert rc == 1 and f"Slurm job {info['job_id']} CANCELLED: cancelled (scancel" in line, out
    assert "signal" not in line and "log: cache/.logs/nap.log" in line
    log = (slurm_deck / "cache" / ".logs" / "nap.log").read_text()
    assert "started" in log  # the figure's own output, kept
    assert entry_count(slurm_deck, "nap") == 0 and not job_dirs(slurm_deck, "nap")


def test_a_requeued_job_is_followed(slurm_deck, tmp_path):
    """scontrol requeue (what pre-emption with PreemptMode=REQUEUE does): the job is killed, goes
    back to the queue and runs again; ces waits for it and commits its second run."""
    proc = start(slurm_deck, tmp_path / "b.log", 6, "nap")
    info = wait_for(started(slurm_deck), "the job to start")
    assert _sh("scontrol", "requeue", info["job_id"]).returncode == 0
    wait_for(lambda: squeue_state(info["job_id"]) == "PENDING", "the job to be requeued", 60)
    wait_for(lambda: "requeued nap" in (tmp_path / "b.log").read_text(), "ces to see the requeue", 60)
    _sh("scontrol", "update", f"jobid={info['job_id']}", "StartTime=now")  # Slurm delays a requeued job
    rc, out = finish(proc, tmp_path / "b.log", timeout=150)
    assert rc == 0, out
    assert f"requeued nap → Slurm job {info['job_id']}" in out and "ran      nap" in out, out
    assert entry_count(slurm_deck, "nap") == 1 and not job_dirs(slurm_deck, "nap")


def test_a_job_failing_outside_the_figure(slurm_deck, tmp_path):
    """The job's setup (before the figure) fails: Slurm says FAILED, there is no result; ces says
    so without waiting for a result that cannot come, with submitit's log in the figure's log."""
    cfg = slurm_deck / "ces.yml"
    cfg.write_text(cfg.read_text() + "  setup: ['echo la-preparation-echoue >&2', 'exit 3']\n")
    t0 = time.time()
    proc = start(slurm_deck, tmp_path / "b.log", 0, "nap")
    rc, out = finish(proc, tmp_path / "b.log", timeout=120)
    info_id = re.search(r"→ Slurm job (\d+(?:_\d+)?)", out)[1]
    line = failed_line(out, "nap")
    assert rc == 1 and f"Slurm job {info_id} FAILED: failed outside the figure" in line, out
    assert time.time() - t0 < 40, out  # noticed at the next sacct poll, not after result timeouts
    assert "la-preparation-echoue" in (slurm_deck / "cache" / ".logs" / "nap.log").read_text()


@pytest.mark.parametrize("fixed", [False, True])
def test_a_gpu_figure_on_a_cluster_without_gpus(slurm_deck, tmp_path, run_ces, fixed):
    """Refused before anything is submitted, once, naming the setting; with that setting it runs."""
    script = slurm_deck / "figures" / "line.py"
    script.write_text(script.read_text().replace('"seed": 0,', '"seed": 0, "gpu": True,'))
    if fixed:
        cfg = slurm_deck / "ces.yml"
        cfg.write_text(cfg.read_text() + "  gpu: {gpus_per_node: 0}\n")
    proc = run_ces(slurm_deck, "build", "--profile", "smoke", "line", check=False, timeout=120)
    out = proc.stdout + proc.stderr
    if fixed:
        assert proc.returncode == 0 and "ran      line" in out, out
        return
    assert proc.returncode == ExitCode.CONFIG and "sbatch" not in out and "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and 'line declares "gpu": True' in errors[0] and "have none" in errors[0], out
    assert "gpu: {gpus_per_node: 0}" in out and "FAILED" not in out
    assert not _sh("squeue", "-h", f"--name={job_name(slurm_deck)}").stdout.strip()  # nothing submitted


def test_a_refused_submission_is_one_failed_line_and_a_log(slurm_deck, run_ces):
    cfg = slurm_deck / "ces.yml"
    cfg.write_text(re.sub(r"partition: \S+", "partition: nosuch", cfg.read_text()))
    proc = run_ces(slurm_deck, "build", "--profile", "smoke", "line", check=False)
    line = failed_line(proc.stdout, "line")
    assert proc.returncode == 1 and "could not submit to slurm: sbatch: error:" in line and "log: cache/.logs/line.log" in line
    assert not [x for x in proc.stderr.splitlines() if x.startswith("sbatch:")], proc.stderr  # no raw sbatch line
    log = (slurm_deck / "cache" / ".logs" / "line.log").read_text()
    assert "invalid partition specified: nosuch" in log and '"slurm_partition": "nosuch"' in log


def test_ctrl_c_offers_to_cancel_only_the_jobs_still_running(slurm_deck, tmp_path):
    with open(tmp_path / "b.log", "w") as out:
        proc = subprocess.Popen(CES + ["build", "--profile", "smoke"], cwd=slurm_deck, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.PIPE, env=ces_env({"CES_TEST_NAP": "120"}))
        wait_for(lambda: "ran      line" in (tmp_path / "b.log").read_text(), "line to be collected", 90)
        info = wait_for(started(slurm_deck), "nap to start")
        proc.send_signal(signal.SIGINT)
        proc.communicate(b"y\n", timeout=60)
    log = (tmp_path / "b.log").read_text()
    line_id = re.search(r"submitted line \[smoke\] → Slurm job (\S+),", log)[1]
    assert f"Cancel the 1 submitted job(s) ({info['job_id']})? [y/N]" in log and line_id not in log.split("Cancel")[1], log
    wait_for(lambda: squeue_state(info["job_id"]) in ("", "COMPLETING"), "the job to be cancelled", 30)
