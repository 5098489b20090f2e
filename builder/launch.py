"""Start a subprocess the way ces starts every one: the one place for it.

Used by the local executor (a figure's harness), the Slurm job (the same harness, on a node)
and builder.sandbox (untrusted code). What every launch gets:

  - its own process group (session), killed as a whole (SIGKILL) at the timeout, on an
    exception in the caller (Ctrl-C) and when it ends, so that nothing it started lingers;
  - PR_SET_PDEATHSIG: Linux kills it when the thread that started it dies (ces killed);
  - resource limits set in the child before exec: address space (`memory_bytes`), CPU time
    (`cpu_seconds`), size of any file written (`fsize_bytes`), no core dumps;
  - a token in its environment (CES_LAUNCH=<ces pid>-<uuid>) that its descendants inherit: when
    it ends, any process still carrying the token (a daemon started in its own session) is
    killed too; `become_subreaper()` makes ces the parent of such orphans so that they are
    reaped, and `kill_orphans(root)` (at the start of a build) kills what a killed ces left.

The API (stable: builder.sandbox uses it too):

    run(cmd, cwd, env, log_path=None, timeout=None, memory_bytes=None, cpu_seconds=None, *,
        fsize_bytes=None, stdout=None, stderr=None, pass_fds=(), on_start=None) -> Result

  cmd        argv list; cwd, env as for subprocess.Popen (env=None: inherit)
  log_path   stdout and stderr both go to this file (truncated); else to `stdout`/`stderr`
             (a file object, subprocess.PIPE or None for DEVNULL); stdin is always /dev/null
  timeout    seconds of wall time, None for none
  on_start   called with the Popen once started (e.g. to drain its pipes, or to record it)
  Result     returncode (None when timed out or never started), timed_out, wall_s, error
             (why it could not start), and .problem: None when it exited 0, else one phrase
             ("exit 3", "killed by SIGKILL (out of memory, …)", "timed out after 5 s").

Also: tail(path, lines) of a log, copy_tail(src, dst, max_bytes), kill_group(proc),
exit_problem(returncode), become_subreaper(), kill_orphans(cwd).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass

TOKEN_ENV = "CES_LAUNCH"
LOG_TAIL_LINES = 25
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc = None


def _prctl(option: int, value: int) -> bool:
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        return _libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False  # not Linux: a killed ces leaves the child running; its staging is removed later


def die_with_parent() -> None:
    """In a child before exec: ask Linux to SIGKILL it when its parent (thread) dies."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def become_subreaper() -> bool:
    """Make this process the parent of every orphan its descendants leave (Linux ≥ 3.4)."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


@dataclass
class Result:
    returncode: int | None
    timed_out: bool = False
    wall_s: float = 0.0
    timeout: float | None = None
    error: str | None = None          # it could not be started (bad limit, missing program)

    @property
    def problem(self) -> str | None:
        if self.error:
            return self.error
        if self.timed_out:
            return f"timed out after {self.timeout:g} s"
        return None if self.returncode == 0 else exit_problem(self.returncode)


def exit_problem(rc: int) -> str:
    if rc in (-signal.SIGKILL, 137):
        return "killed by SIGKILL (out of memory, or killed from outside)"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


def _child_setup(memory_bytes, cpu_seconds, fsize_bytes):
    def setup() -> None:
        import resource

        if memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        if cpu_seconds:
            resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_seconds), int(cpu_seconds) + 1))
        if fsize_bytes:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_bytes, fsize_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        die_with_parent()
    return setup


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child's process group (it and everything it started there), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _launched():
    """(pid, CES_LAUNCH token) of every process of ours that carries one (not this one)."""
    prefix = f"{TOKEN_ENV}=".encode()
    me = os.getpid()
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                token = next((v[len(prefix):] for v in f.read().split(b"\0") if v.startswith(prefix)), None)
        except OSError:
            continue
        if token is not None:
            yield pid, token.decode(errors="replace")


def _kill(pids: list[int]) -> int:
    killed = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except OSError:
            pass
    _reap(killed)
    return len(killed)


def kill_marked(token: str) -> int:
    """SIGKILL every process of ours whose environment carries CES_LAUNCH=token; how many."""
    return _kill([pid for pid, t in _launched() if t == token])


def _reap(pids: list[int]) -> None:
    """Collect those of the killed processes that were re-parented to this process (subreaper);
    never waitpid(-1), which would steal the exit status of another running launch."""
    deadline = time.monotonic() + 1.0
    todo = set(pids)
    while todo and time.monotonic() < deadline:
        for pid in list(todo):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            except ChildProcessError:  # not our child: its own parent (or init) reaps it
                pass
            todo.discard(pid)
        if todo:
            time.sleep(0.01)


def _place(cwd) -> str:
    import hashlib

    return hashlib.sha256(os.fsencode(os.path.realpath(cwd or "."))).hexdigest()[:12]


def kill_orphans(cwd) -> int:
    """SIGKILL what launches in `cwd` (a project) of a ces that is gone left behind (a daemon in
    its own session that survived a kill -9 of ces): processes whose CES_LAUNCH names this place
    and a pid that no longer runs. Other projects' processes are not touched."""
    place, me = _place(cwd), os.getpid()

    def orphaned(token: str) -> bool:
        owner, where = (token.split("-", 2) + ["", ""])[:2]
        return where == place and owner.isdigit() and int(owner) != me and not _alive(int(owner))
    return _kill([pid for pid, token in _launched() if orphaned(token)])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def run(cmd, cwd, env, log_path=None, timeout=None, memory_bytes=None, cpu_seconds=None, *,
        fsize_bytes=None, stdout=None, stderr=None, pass_fds=(), on_start=None) -> Result:
    """Run cmd to its end (or its timeout); see the module docstring."""
    token = f"{os.getpid()}-{_place(cwd)}-{uuid.uuid4().hex}"  # who launched it, where: kill_orphans reads it
    env = dict(os.environ if env is None else env, **{TOKEN_ENV: token})
    start = time.perf_counter()
    log = open(log_path, "wb") if log_path is not None else None
    try:
        out = log if log is not None else (subprocess.DEVNULL if stdout is None else stdout)
        err = subprocess.STDOUT if log is not None else (subprocess.DEVNULL if stderr is None else stderr)
        try:
            proc = subprocess.Popen(list(map(str, cmd)), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, pass_fds=tuple(pass_fds), start_new_session=True,
                                    preexec_fn=_child_setup(memory_bytes, cpu_seconds, fsize_bytes))
        except (OSError, subprocess.SubprocessError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if memory_bytes and "preexec" in str(exc):
                why = f"could not start with a memory limit of {memory_bytes / 2**20:.3g} MiB"
            return Result(None, error=f"could not start: {why}")
        try:
            if on_start is not None:
                on_start(proc)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(proc)
                return Result(None, timed_out=True, wall_s=time.perf_counter() - start, timeout=timeout)
            return Result(rc, wall_s=time.perf_counter() - start)
        finally:
            kill_group(proc)           # what it left in its group
            kill_marked(token)         # and in sessions of their own
    finally:
        if log is not None:
            log.close()


def tail(path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of a log (from its last 16 KiB); [] when it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 16384))
            return f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []


def copy_tail(src, dst, max_bytes: int) -> None:
    """dst: the last max_bytes of src."""
    with open(src, "rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - max_bytes))
        data = f.read()
    with open(dst, "wb") as out:
        out.write(data)
