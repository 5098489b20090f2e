"""Run untrusted code (an LLM's program) in a separate, fenced-off process.

    result = run_python("print(6 * 7)", timeout=5)
    result.ok, result.stdout, result.reason      # True, "42\n", "ok"

Nothing here ever `eval`s or `exec`s the code in the calling process. The code runs in a
throw-away working directory, with an empty environment (PATH, HOME, LANG only: no secrets),
resource limits (RLIMIT_AS for memory, RLIMIT_CPU, RLIMIT_FSIZE, no core files, a file
descriptor cap) and a wall-clock timeout that kills the whole process tree.

Isolation, strongest available first (`isolation()` says which one this machine gets):

- "namespaces": util-linux `unshare` puts the process in new network, mount, PID, IPC and
  UTS namespaces (as root; otherwise with a user namespace, `unshare -r`). The network
  namespace has no interface up, so every connection fails (ENETUNREACH), loopback included.
  Every mount is remounted read-only except the working directory, so writing anywhere else
  fails with EROFS. `setpriv` then empties the capability bounding set and sets
  no_new_privs, so the code cannot remount anything or regain privileges, and the PID
  namespace keeps it from signalling processes outside.
- "audit-hook" (no usable namespaces, or CES_SANDBOX=hook): Python code only. A PEP 578 audit
  hook installed before the code runs refuses sockets, subprocesses, ctypes, and writes,
  renames or deletions outside the working directory. This is a guard, not a wall: code
  that finds a way around the hook is not contained. Non-Python commands are refused.

Limits of the "namespaces" mode: the code can still read files the calling user can read
(the filesystem is read-only, not hidden), and the process count is not capped (the
timeout ends a fork bomb along with the whole PID namespace).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .errors import CesError

#: Reasons a run can end with (SandboxResult.reason).
REASONS = ("ok", "error", "timeout", "cpu", "memory", "output", "killed", "setup")

_ENV_MODE = "CES_SANDBOX"  # "auto" (default) or "hook": force the audit-hook mode
_NS_FLAGS = ["--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--mount-proc", "--kill-child"]
_SETPRIV = ["--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]


class SandboxError(CesError):
    """The sandbox itself could not run the code (not: the code failed)."""


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """What came out of one sandboxed run."""

    stdout: str
    stderr: str
    returncode: int | None   # exit status; None when killed by a signal
    signal: int | None       # the signal that ended it, if any
    reason: str              # one of REASONS: why it ended
    duration: float          # wall-clock seconds
    isolation: str           # "namespaces" or "audit-hook"
    truncated: bool = False  # stdout or stderr was cut at max_output bytes

    @property
    def ok(self) -> bool:
        return self.reason == "ok"

    def summary(self) -> str:
        """One line for logs and figure JSON: 'ok', 'timeout after 2.0 s', 'error: NameError: …'."""
        if self.reason == "ok":
            return "ok"
        if self.reason == "timeout":
            return f"timeout after {self.duration:.1f} s"
        last = next((l for l in reversed(self.stderr.strip().splitlines()) if l.strip()), "")
        return f"{self.reason}: {last}" if last else self.reason


# -- choosing the isolation ----------------------------------------------------------------

_probe_cache: dict[str, str] = {}


def _unshare_prefix() -> list[str] | None:
    """The unshare command line this machine accepts, or None."""
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if not unshare or not setpriv or not shutil.which("mount") or sys.platform != "linux":
        return None
    for extra in ([] if os.geteuid() == 0 else None, ["--map-root-user"]):
        if extra is None:
            continue
        cmd = [unshare, *extra, *_NS_FLAGS]
        try:
            probe = subprocess.run([*cmd, "true"], capture_output=True, timeout=10,
                                   env={"PATH": os.defpath})
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return cmd
    return None


def isolation() -> str:
    """'namespaces' or 'audit-hook': what run_python/run_command use on this machine."""
    mode = os.environ.get(_ENV_MODE, "auto")
    if mode == "hook":
        return "audit-hook"
    if "ns" not in _probe_cache:
        prefix = _unshare_prefix()
        _probe_cache["ns"] = json.dumps(prefix)
    return "namespaces" if json.loads(_probe_cache["ns"]) else "audit-hook"


# -- code run inside the sandbox ----------------------------------------------------------

# Trusted launcher, run as `python -I -S -c _LAUNCHER CONFIG`. In namespace mode it is PID 1
# of the new PID namespace: it makes the mounts read-only, forks, and the child sets the
# limits, drops capabilities (setpriv) and execs the untrusted command; PID 1 waits and
# writes the child's exit status to the status pipe (a PID-1 process cannot re-raise the
# signal that killed its child, and unshare's own re-raise is unreliable).
_LAUNCHER = r"""
import json, os, re, resource, subprocess, sys
cfg = json.loads(sys.argv[1])
work = cfg["work"]
status_fd = cfg["status_fd"]

def report(obj):
    if status_fd is not None:
        os.write(status_fd, json.dumps(obj).encode())

def limits():
    mem, cpu, fsize = cfg["memory"], cfg["cpu"], cfg["fsize"]
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

if cfg["namespaces"]:
    def unescape(s):
        return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)
    def mount(*args):
        r = subprocess.run(["mount", *args], capture_output=True, text=True)
        return r.returncode == 0, r.stderr.strip()
    try:
        ok, err = mount("--make-rprivate", "/")
        ok = ok and mount("--bind", work, work)[0]
        if not ok:
            raise OSError("cannot bind the working directory: " + err)
        for line in open("/proc/self/mountinfo", encoding="utf-8"):
            fields = line.split()
            point, options = unescape(fields[4]), fields[5].split(",")
            if point == work or "ro" in options:
                continue
            ok, err = mount("-o", "remount,bind,ro", point)
            if not ok and os.path.exists(point):
                raise OSError("cannot make " + point + " read-only: " + err)
        os.chdir(work)  # the old working directory is on the read-only mount underneath
    except OSError as exc:
        report({"setup": str(exc)})
        sys.exit(125)
    pid = os.fork()
    if pid == 0:
        os.close(status_fd)
        limits()
        os.execv(cfg["setpriv"][0], cfg["setpriv"] + ["--"] + cfg["argv"])
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            status = None
            break
        except InterruptedError:
            continue
    if status is not None and os.WIFSIGNALED(status):
        report({"signal": os.WTERMSIG(status)})
    elif status is not None:
        report({"exit": os.WEXITSTATUS(status)})
    sys.exit(0)
else:
    limits()
    os.execv(cfg["argv"][0], cfg["argv"])
"""

# Python-side guard, run before the untrusted program (both modes; in namespace mode it is a
# second layer, in audit-hook mode the only one). Then the program runs as __main__.
# _PRELOAD (prepended) lists trusted modules imported before the hook is installed: sympy, for
# one, loads ctypes when imported.
_PY_BOOT = r"""
import os, sys
for _name in _PRELOAD:
    __import__(_name)
_WORK = os.path.realpath(os.getcwd())
_NET = ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
        "socket.gethostbyname", "socket.gethostbyaddr", "socket.__new__")
_SPAWN = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
          "os.forkpty", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.addressof",
          "os.kill", "os.killpg", "signal.pthread_kill")
_PATH1 = ("os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
          "shutil.rmtree", "os.chdir", "os.chroot")
_PATH2 = ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.move")
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def _inside(path):
    if isinstance(path, int):
        return True
    p = os.path.realpath(os.fsdecode(path))
    return p == _WORK or p.startswith(_WORK + os.sep) or p == os.devnull

def _hook(event, args):
    if event == "open":
        path, mode, flags = args
        if path is None:
            return
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE)
        if writing and not _inside(path):
            raise PermissionError("sandbox: writing outside the working directory is not allowed: %s" % (path,))
    elif event in _NET:
        raise PermissionError("sandbox: network access is not allowed (%s)" % event)
    elif event in _SPAWN:
        raise PermissionError("sandbox: %s is not allowed" % event)
    elif event in _PATH1:
        if args and not _inside(args[0]):
            raise PermissionError("sandbox: %s outside the working directory is not allowed" % event)
    elif event in _PATH2:
        if len(args) > 1 and not (_inside(args[0]) and _inside(args[1])):
            raise PermissionError("sandbox: %s outside the working directory is not allowed" % event)

sys.addaudithook(_hook)
del _hook
import runpy
sys.argv = ["main.py"]
runpy.run_path("main.py", run_name="__main__")
"""


# -- running ------------------------------------------------------------------------------

def run_python(code: str, *, timeout: float = 10.0, memory_mb: int = 1024, cpu_seconds: int | None = None,
               files: dict[str, str | bytes] | None = None, max_output: int = 1_000_000,
               preload: tuple[str, ...] = ()) -> SandboxResult:
    """Run Python source `code` (as main.py) with this interpreter in the sandbox.

    files: extra files written into the working directory first (name -> content).
    preload: modules imported before the guard is installed (e.g. ("sympy",), which loads
    ctypes, refused to the program itself).
    The interpreter runs in isolated mode (-I: no user site, no PYTHON* variables, the
    working directory not on sys.path) and writes no bytecode (-B).
    """
    files = dict(files or {})
    files["main.py"] = code
    if not all(isinstance(m, str) and m.replace(".", "").replace("_", "").isalnum() for m in preload):
        raise SandboxError(f"bad module names to preload: {preload!r}")
    files["_ces_boot.py"] = f"_PRELOAD = {list(preload)!r}\n" + _PY_BOOT
    return _run([sys.executable, "-I", "-B", "_ces_boot.py"], files=files, timeout=timeout,
                memory_mb=memory_mb, cpu_seconds=cpu_seconds, max_output=max_output, python=True)


def run_command(argv: list[str], *, timeout: float = 10.0, memory_mb: int = 1024,
                cpu_seconds: int | None = None, files: dict[str, str | bytes] | None = None,
                max_output: int = 1_000_000) -> SandboxResult:
    """Run any program (e.g. node) in the sandbox; needs the "namespaces" isolation.

    argv[0] is looked up on PATH; relative file arguments refer to the working directory.
    """
    if isolation() != "namespaces":
        raise SandboxError(f"cannot sandbox {argv[0]!r} here: no usable Linux namespaces "
                           "(unshare/setpriv), and only Python code can run under the audit-hook guard")
    exe = shutil.which(argv[0])
    if exe is None:
        raise SandboxError(f"{argv[0]!r} is not installed (not found on PATH)")
    return _run([exe, *argv[1:]], files=files or {}, timeout=timeout, memory_mb=memory_mb,
                cpu_seconds=cpu_seconds, max_output=max_output, python=False)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to kill it when the caller dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run(argv, *, files, timeout, memory_mb, cpu_seconds, max_output, python) -> SandboxResult:
    mode = isolation()
    if mode != "namespaces" and not python:
        raise SandboxError("only Python code can run under the audit-hook guard")
    cpu = int(cpu_seconds if cpu_seconds is not None else max(1, int(timeout) + 1))
    base = Path(tempfile.mkdtemp(prefix="ces-sandbox-"))
    work = base / "work"
    work.mkdir()
    status_r = status_w = None
    try:
        for name, content in files.items():
            target = (work / name).resolve()
            if work.resolve() not in target.parents:
                raise SandboxError(f"sandbox file name {name!r} leaves the working directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        cfg = {"work": str(work.resolve()), "argv": argv, "memory": int(memory_mb) * 1024 * 1024,
               "cpu": cpu, "fsize": 64 * 1024 * 1024, "namespaces": mode == "namespaces",
               "status_fd": None, "setpriv": [shutil.which("setpriv") or "setpriv", *_SETPRIV]}
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER]
        pass_fds: tuple[int, ...] = ()
        if mode == "namespaces":
            status_r, status_w = os.pipe()
            cfg["status_fd"] = status_w
            pass_fds = (status_w,)
            launcher = json.loads(_probe_cache["ns"]) + launcher
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work),
               "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}
        start = time.monotonic()
        proc = subprocess.Popen([*launcher, json.dumps(cfg)], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds,
                                start_new_session=True, preexec_fn=_die_with_parent)
        if status_w is not None:
            os.close(status_w)
            status_w = None
        out, err = _Drain(proc.stdout, max_output), _Drain(proc.stderr, max_output)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        try:  # the whole tree: in namespace mode, killing PID 1 ends every process in it
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        duration = time.monotonic() - start
        out.join(), err.join()
        status = {}
        if status_r is not None:
            raw = _read_all(status_r)
            status_r = None
            try:
                status = json.loads(raw) if raw else {}
            except ValueError:
                status = {}
        elif proc.returncode is not None:
            status = ({"signal": -proc.returncode} if proc.returncode < 0 else {"exit": proc.returncode})
        stdout, stderr = out.text(), err.text()
        if "setup" in status:
            raise SandboxError(f"sandbox setup failed: {status['setup']}")
        sig = status.get("signal")
        code = status.get("exit")
        reason = _reason(timed_out, code, sig, stderr)
        return SandboxResult(stdout=stdout, stderr=stderr, returncode=None if timed_out else code,
                             signal=sig, reason=reason, duration=duration, isolation=mode,
                             truncated=out.truncated or err.truncated)
    finally:
        for fd in (status_r, status_w):
            if fd is not None:
                os.close(fd)
        shutil.rmtree(base, ignore_errors=True)


_MEMORY_MARKERS = ("MemoryError", "JavaScript heap out of memory", "Fatal process out of memory",
                   "std::bad_alloc", "Cannot allocate memory")


def _reason(timed_out: bool, code: int | None, sig: int | None, stderr: str) -> str:
    if timed_out:
        return "timeout"
    if sig == signal.SIGXCPU:
        return "cpu"
    if sig == signal.SIGXFSZ:
        return "output"
    if any(m in stderr[-2000:] for m in _MEMORY_MARKERS):
        return "memory"
    if sig is not None or code is None:
        return "killed"
    return "ok" if code == 0 else "error"


def _read_all(fd: int) -> bytes:
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


class _Drain(threading.Thread):
    """Read a pipe to its end, keeping the first `limit` bytes (the rest is discarded)."""

    def __init__(self, pipe, limit: int):
        super().__init__(daemon=True)
        self.pipe, self.limit = pipe, limit
        self.data = bytearray()
        self.truncated = False
        self.start()

    def run(self):
        with self.pipe:
            while True:
                chunk = self.pipe.read1(65536) if hasattr(self.pipe, "read1") else self.pipe.read(65536)
                if not chunk:
                    return
                room = self.limit - len(self.data)
                if room > 0:
                    self.data += chunk[:room]
                if len(chunk) > room:
                    self.truncated = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")
