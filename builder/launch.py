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
        fsize_bytes=None, stdout=None, stderr=None, pass_fds=(), on_start=None, contain=False,
        log_max_bytes=None) -> Result

  cmd        argv list; cwd, env as for subprocess.Popen (env=None: inherit)
  log_path   stdout and stderr both go to this file (truncated); else to `stdout`/`stderr`
             (a file object, subprocess.PIPE or None for DEVNULL); stdin is always /dev/null
  timeout    seconds of wall time, None for none
  on_start   called with the Popen once started (e.g. to drain its pipes, or to record it)
  Result     returncode (None when timed out or never started), timed_out, wall_s, error
             (why it could not start), and .problem: None when it exited 0, else one phrase
             ("exit 3", "killed by SIGKILL (out of memory, …)", "timed out after 5 s").

  contain    run it in a PID namespace of its own (`unshare --pid --fork --kill-child
             --mount-proc`, plus a user namespace when not root) whose first process is a
             shell that starts cmd: when cmd ends, the kernel kills every process still in the
             namespace — a daemon that double-forked, dropped the token (`env -i`) and left
             the session included — before run() returns. Where unshare cannot (`containment()`
             says why), the group and token sweeps below are all there is.
  log_max_bytes  the log (log_path) is kept to its last log_max_bytes (a first line says how
             much was cut); it goes through a pipe that ces drains, never straight to the file.

Also: tail(path, lines) of a log, copy_tail(src, dst, max_bytes), kill_group(proc),
exit_problem(returncode), become_subreaper(), kill_orphans(cwd), containment(),
log_cap(root) (ces.yml `build: {log_max_mb: 10}`).
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass

TOKEN_ENV = "CES_LAUNCH"
LOG_TAIL_LINES = 25
LOG_MAX_MB = 10            # default of ces.yml `build: {log_max_mb: …}`
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


_containment: dict[bool, tuple[list[str], str | None]] = {}


def _unshare_argv() -> list[str]:
    unshare = shutil.which("unshare") or "unshare"
    argv = [unshare, "--pid", "--fork", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        argv[1:1] = ["--user", "--map-current-user"]
    # The shell is the namespace's init (pid 1, which signals from inside cannot kill): cmd is
    # its child, and ends, with its status, as any process does.
    return argv + ["--", "/bin/sh", "-c", '"$@"', "ces-init"]


def containment() -> tuple[list[str], str | None]:
    """(argv prefix, None) that runs a command in a PID namespace of its own, or ([], why not).
    CES_WRITE_GUARD=off (the benchmark's "off") turns it off with the write guard."""
    if os.environ.get("CES_WRITE_GUARD", "on") == "off":
        return [], "CES_WRITE_GUARD=off"
    if True not in _containment:
        argv = _unshare_argv()
        if not shutil.which(argv[0]):
            _containment[True] = ([], "unshare (util-linux) is not installed")
        else:
            try:
                p = subprocess.run(argv + ["true"], stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
                why = None if p.returncode == 0 else (p.stderr.decode(errors="replace").strip().splitlines()[-1:]
                                                      or [f"exit {p.returncode}"])[0]
            except (OSError, subprocess.SubprocessError) as exc:
                why = str(exc)
            _containment[True] = (argv, None) if why is None else ([], f"unshare does not start here: {why}")
    return _containment[True]


def log_cap(root) -> int:
    """The largest log a launch keeps, in bytes: ces.yml `build: {log_max_mb: N}` (default 10)."""
    from . import config
    from .errors import ConfigError

    value = config.section(root, "build").get("log_max_mb", LOG_MAX_MB)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 2**20:
        raise ConfigError(f"{config.FILE}: build.log_max_mb: expected a positive number of MB, got {value!r}")
    return int(value * 2**20)


class _LogSink(threading.Thread):
    """Drains a launch's stdout+stderr pipe into its log file, keeping at most `cap` bytes: the
    first ones until the file reaches twice that, then only the tail, moved to the file's start
    in 1 MiB blocks (ces's memory does not grow with the log)."""

    def __init__(self, fd: int, path, cap: int):
        super().__init__(daemon=True)
        self.fd, self.cap = fd, cap
        # The log is read while it grows (tail, heartbeat): unbuffered writes.
        self.out = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        self.size = self.cut = 0
        self.stop = threading.Event()
        self.start()

    def run(self):
        try:
            while True:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
                if not ready:
                    if self.stop.is_set():
                        return
                    continue
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    return
                os.pwrite(self.out, chunk, self.size)
                self.size += len(chunk)
                if self.size > 2 * self.cap:
                    self._compact()
        except OSError:
            return

    def _compact(self, head: bytes = b"") -> None:
        """Keep the last cap - len(head) bytes, after head, at the start of the file."""
        keep = max(0, self.cap - len(head))
        src, dst = self.size - keep, 0
        self.cut += src
        if head:
            os.pwrite(self.out, head, 0)
            dst = len(head)
        while src < self.size:   # src >= dst: copying forward never overwrites what is still to copy
            block = os.pread(self.out, min(1 << 20, self.size - src), src)
            os.pwrite(self.out, block, dst)
            src, dst = src + len(block), dst + len(block)
        os.ftruncate(self.out, dst)
        self.size = dst

    def close(self):
        self.stop.set()
        self.join(5)
        try:
            if self.size > self.cap or self.cut:
                head = (f"[ces: {self.cut + self.size} bytes were written to this log; only the last ones are "
                        f"kept (build.log_max_mb: {self.cap / 2**20:g})]\n").encode()
                self._compact(head)
        finally:
            os.close(self.out)
            os.close(self.fd)


def run(cmd, cwd, env, log_path=None, timeout=None, memory_bytes=None, cpu_seconds=None, *,
        fsize_bytes=None, stdout=None, stderr=None, pass_fds=(), on_start=None, contain=False,
        log_max_bytes=None) -> Result:
    """Run cmd to its end (or its timeout); see the module docstring."""
    token = f"{os.getpid()}-{_place(cwd)}-{uuid.uuid4().hex}"  # who launched it, where: kill_orphans reads it
    env = dict(os.environ if env is None else env, **{TOKEN_ENV: token})
    prefix = containment()[0] if contain else []
    start = time.perf_counter()
    sink = log = None
    if log_path is not None and log_max_bytes:
        read_end, write_end = os.pipe()
        try:
            sink = _LogSink(read_end, log_path, int(log_max_bytes))
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        log = os.fdopen(write_end, "wb")
    elif log_path is not None:
        log = open(log_path, "wb")
    try:
        out = log if log is not None else (subprocess.DEVNULL if stdout is None else stdout)
        err = subprocess.STDOUT if log is not None else (subprocess.DEVNULL if stderr is None else stderr)
        try:
            proc = subprocess.Popen(prefix + list(map(str, cmd)), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, pass_fds=tuple(pass_fds), start_new_session=True,
                                    preexec_fn=_child_setup(memory_bytes, cpu_seconds, fsize_bytes))
        except (OSError, subprocess.SubprocessError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if memory_bytes and "preexec" in str(exc):
                why = f"could not start with a memory limit of {memory_bytes / 2**20:.3g} MiB"
            return Result(None, error=f"could not start: {why}")
        if sink is not None:
            log.close()   # the child holds the write end now: EOF when the last holder ends
            log = None
        try:
            if on_start is not None:
                on_start(proc)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(proc)
                return Result(None, timed_out=True, wall_s=time.perf_counter() - start, timeout=timeout)
            if prefix and rc > 128 and rc - 128 in _SIGNALS:   # the namespace's shell reports a signal so
                rc = -(rc - 128)
            return Result(rc, wall_s=time.perf_counter() - start)
        finally:
            kill_group(proc)           # what it left in its group
            kill_marked(token)         # and in sessions of their own
    finally:
        if log is not None:
            log.close()
        if sink is not None:
            sink.close()


_SIGNALS = {int(s) for s in signal.Signals}


def tail(path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of a log (from its last 16 KiB); [] when it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 16384))
            return f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []


def copy_tail(src, dst, max_bytes: int, dir_fd: int | None = None) -> None:
    """dst (a new file, relative to dir_fd when given): the last max_bytes of src. dst is
    created exclusively and never through a link (a planted one fails with FileExistsError)."""
    with open(src, "rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - max_bytes))
        data = f.read()
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
