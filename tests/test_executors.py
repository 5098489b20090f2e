"""The slurm executor, through submitit's own `local` and `debug` clusters (no Slurm here): the
real submission path end to end, re-attachment, failures; and the Slurm parameters a figure gets."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import require_module

from builder.cache import Cache, digest_json
from builder.errors import ConfigError
from builder.config import load as load_config
from builder.slurm import slurm_parameters
from builder.slurm_jobs import clean_staging
from builder.figures import discover

submitit = require_module("submitit")

NAP = '''FIGURE = {"name": "nap", "caption": "c", "alt": "a", "outputs": ["nap.json"],
          "params": {}}
import os, time
from builder.script import setup
run = setup(FIGURE)
print("started", flush=True)
time.sleep(float(os.environ.get("CES_TEST_NAP", "0")))
run.save_json("nap.json", {"slept": True})
'''


def use_cluster(root, cluster, extra=""):
    (root / "ces.yml").write_text(f"executor: slurm\nslurm:\n  cluster: {cluster}\n  partition: gpu\n{extra}")


def entry_of(root, name):
    entries = Cache(root).entries(name)
    assert len(entries) == 1, entries
    return entries[0]


def job_dirs(root, name):
    return sorted((root / "cache" / ".tmp").glob(f"{name}-slurm-*"))


def wait_for(predicate, what, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def started(root, name="nap"):
    def check():
        dirs = job_dirs(root, name)
        log = dirs[0] / "harness.log" if dirs else None
        return bool(dirs) and (dirs[0] / "job.json").exists() and log.exists() and "started" in log.read_text()
    return check


def alive(pid) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def start_build(root, out, nap, stdin=subprocess.DEVNULL):
    # Output to a file: a submitit local job inherits ces's stdout and outlives a killed ces.
    env = {**os.environ, "CES_TEST_NAP": str(nap)}
    return subprocess.Popen([sys.executable, "-m", "builder.cli", "build", "--profile", "smoke"], cwd=root,
                            stdout=out, stderr=subprocess.STDOUT, stdin=stdin, env=env)


def test_submission_parameters_of_a_gpu_figure_in_the_full_profile(deck, tmp_path, monkeypatch):
    script = deck / "figures" / "line.py"
    script.write_text(script.read_text().replace('"seed": 0,', '"seed": 0, "gpu": True, "memory_gb": 24, '
                                                                '"timeout": {"full": 7200},'))
    (deck / "ces.yml").write_text(
        "executor: slurm\nslurm:\n  partition: cpu\n  account: proj42\n  qos: normal\n  cpus_per_task: 4\n"
        "  gpu: {partition: gpu}\n  profiles:\n    full:\n      qos: long\n      gpu: {partition: gpu-a100}\n")
    config = load_config(deck)
    spec = discover(deck)["line"]
    params = slurm_parameters(spec, "full", config["slurm"])
    assert params == {"slurm_partition": "gpu-a100", "slurm_account": "proj42", "slurm_qos": "long",
                      "cpus_per_task": 4, "gpus_per_node": 1, "timeout_min": 122, "mem_gb": 24}
    assert slurm_parameters(spec, "quick", config["slurm"])["slurm_partition"] == "gpu"
    # What sbatch would get: a fake srun makes submitit believe it is on a cluster.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    ex = submitit.AutoExecutor(folder=tmp_path / "slurm" / "%j", cluster="slurm")
    ex.update_parameters(**params)
    sbatch = ex._executor._make_submission_file_text("python -m submitit.core._submit x", "uid")
    for line in ("--partition=gpu-a100", "--account=proj42", "--qos=long", "--gpus-per-node=1", "--time=122",
                 "--mem=24GB", "--cpus-per-task=4"):
        assert f"#SBATCH {line}\n" in sbatch
    (deck / "ces.yml").write_text("executor: kubernetes\n")
    with pytest.raises(ConfigError, match="ces.yml: executor: expected one of local, slurm"):
        load_config(deck)


def test_same_key_and_outputs_as_the_local_executor(deck, tmp_path, run_ces):
    """Both figures are submitted together (one array), the key is known before submission, and the
    entries are those of a local build: same key, same sha256 of every output."""
    import shutil

    (deck / "figures" / "nap.py").write_text(NAP)
    local, debug = deck, tmp_path / "debug"
    shutil.copytree(deck, debug)
    use_cluster(debug, "debug")
    run_ces(local, "build", "--profile", "smoke")
    out = run_ces(debug, "build", "--profile", "smoke").stdout
    assert "array of 2" in out and "ran      nap" in out and "ran      line" in out
    for name in ("line", "nap"):
        a, b = entry_of(local, name), entry_of(debug, name)
        assert a.key == b.key and a.path.name == b.path.name
        assert a.manifest["outputs"] == b.manifest["outputs"]
        assert a.manifest["reads"] == b.manifest["reads"]
        assert sorted(p.name for p in b.path.iterdir()) == ["log.txt", "manifest.json", "out"]
        before = digest_json({"static": b.manifest["static_digest"], "packages": b.manifest["packages"]})
        assert f"submitted {name} [smoke] → debug job DEBUG_" in out and f"static key {before[:16]}" in out
    assert not job_dirs(debug, "line") and not job_dirs(debug, "nap")
    assert "cached   line" in run_ces(debug, "build", "--profile", "smoke").stdout


def test_failed_job_shows_job_id_and_log_tail(deck, run_ces):
    use_cluster(deck, "debug")
    (deck / "figures" / "boom.py").write_text(NAP.replace('"nap"', '"boom"').replace(
        'time.sleep', 'raise RuntimeError("la courbe diverge")\ntime.sleep'))
    out = run_ces(deck, "build", "--profile", "smoke", "--keep-going", check=False)
    assert out.returncode == 1
    assert "FAILED   boom: exit 1 (debug job DEBUG_" in out.stdout and "log: cache/.logs/boom.log" in out.stdout
    assert "| RuntimeError: la courbe diverge" in out.stdout
    assert "ran      line" in out.stdout
    assert not (deck / "cache" / "boom").exists() and not job_dirs(deck, "boom")


@pytest.mark.slow
def test_killed_job_leaves_no_entry_and_is_submitted_again(deck, run_ces, tmp_path):
    use_cluster(deck, "local")
    (deck / "figures" / "nap.py").write_text(NAP)
    with open(tmp_path / "build.log", "w") as out:
        proc = start_build(deck, out, nap=60)
        wait_for(started(deck), "the job to start")
        job_id = json.loads((job_dirs(deck, "nap")[0] / "job.json").read_text())["job_id"]
        os.kill(int(job_id), signal.SIGINT)  # what submitit's LocalJob.cancel does (scancel, pre-emption)
        assert proc.wait(timeout=30) == 1
    log = (tmp_path / "build.log").read_text()
    assert f"FAILED   nap: local job {job_id} ended without a result" in log, log
    assert "log: cache/.logs/nap.log" in log
    assert not (deck / "cache" / "nap").exists() and not job_dirs(deck, "nap")
    again = run_ces(deck, "build", "--profile", "smoke").stdout
    assert "submitted nap" in again and f"job {job_id}" not in again and "ran      nap" in again
    entry_of(deck, "nap")


@pytest.mark.slow
def test_build_reattaches_to_the_job_of_a_killed_ces(deck, run_ces, tmp_path):
    use_cluster(deck, "local")
    (deck / "figures" / "nap.py").write_text(NAP)
    with open(tmp_path / "build.log", "w") as out:
        proc = start_build(deck, out, nap=3)
        wait_for(started(deck), "the job to start")
        proc.kill()  # ces, not the job
        proc.wait()
    info = json.loads((job_dirs(deck, "nap")[0] / "job.json").read_text())
    assert info["figure"] == "nap" and job_dirs(deck, "nap")[0].name == f"nap-slurm-{info['static_key'][:16]}"
    status = run_ces(deck, "status", "--profile", "smoke").stdout
    assert "missing  nap" in status and f"local job {info['job_id']} running" in status
    out = run_ces(deck, "build", "--profile", "smoke").stdout
    assert f"attached nap [smoke] → local job {info['job_id']}" in out
    assert "submitted" not in out and "ran      nap" in out
    assert entry_of(deck, "nap").manifest["static_digest"] == info["static_digest"]
    assert not job_dirs(deck, "nap")


@pytest.mark.slow
def test_ctrl_c_asks_whether_to_cancel_the_jobs(deck, run_ces, tmp_path):
    use_cluster(deck, "local")
    (deck / "figures" / "nap.py").write_text(NAP)
    run_ces(deck, "build", "--profile", "smoke", "line")
    for answer, nap in (("n\n", 2), ("y\n", 60)):
        with open(tmp_path / "build.log", "w") as out:
            proc = start_build(deck, out, nap=nap, stdin=subprocess.PIPE)
            wait_for(started(deck), "the job to start")
            job_id = json.loads((job_dirs(deck, "nap")[0] / "job.json").read_text())["job_id"]
            proc.send_signal(signal.SIGINT)
            proc.communicate(answer.encode(), timeout=30)
        log = (tmp_path / "build.log").read_text()
        assert f"Cancel the 1 submitted job(s) ({job_id})? [y/N]" in log
        if answer == "n\n":
            assert "keep running" in log and job_dirs(deck, "nap")
            out = run_ces(deck, "build", "--profile", "smoke").stdout
            assert f"attached nap [smoke] → local job {job_id}" in out and "ran      nap" in out
            (deck / "figures" / "nap.py").write_text(NAP.replace("True", "False"))  # a new key
        else:
            assert f"Cancelled 1 job(s): {job_id}" in log and not job_dirs(deck, "nap")
            wait_for(lambda: not alive(job_id), "the job to end")
            assert len(Cache(deck).entries("nap")) == 1


def test_staging_of_submitted_jobs_survives_the_next_build(tmp_path, deck):
    tmp = deck / "cache" / ".tmp"
    for d in ("line-123-abcd", "nap-slurm-0123456789abcdef", "slurm/4242", "slurm/999"):
        (tmp / d).mkdir(parents=True)
    (tmp / "nap-slurm-0123456789abcdef" / "job.json").write_text('{"job_id": "4242", "figure": "nap"}')
    clean_staging(Cache(deck))
    assert sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*")) == [
        "nap-slurm-0123456789abcdef", "nap-slurm-0123456789abcdef/job.json", "slurm", "slurm/4242"]
    # `ces status` imports submitit only when there are jobs to describe.
    code = ("import sys; from click.testing import CliRunner; from builder.cli import cli; "
            "r = CliRunner().invoke(cli, ['status', '--profile', 'smoke']); print(r.output); "
            "print('submitit' in sys.modules)")
    (tmp / "nap-slurm-0123456789abcdef" / "job.json").unlink()
    out = subprocess.run([sys.executable, "-c", code], cwd=deck, capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False") and "Jobs:" not in out
