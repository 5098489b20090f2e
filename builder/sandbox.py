"""Run untrusted code (an LLM's program) in a separate, fenced-off process.

    result = run_python("print(6 * 7)", timeout=5)
    result.ok, result.stdout, result.reason      # True, "42\n", "ok"
    run_python("ans = 35 / 17", value="ans").value   # {"type": "float", "float": 2.05…, …}

Nothing here ever `eval`s or `exec`s the code in the calling process. Isolation (what
`isolation()` returns on this machine):

- "bubblewrap" (the default; Debian package `bubblewrap`): the code runs in new network,
  PID, IPC, UTS (and, for a non-root caller, user) namespaces, with a filesystem view of its
  own: /usr and the interpreter's prefix read-only, a fresh /dev, a private /tmp and a private
  working directory (both tmpfs with a size cap), nothing else — no /etc/shadow, no /root,
  no home, no /run, no host /tmp, so no host Unix socket can be reached either (and abstract
  sockets belong to the network namespace, which has only its own loopback). Run by root,
  the code also runs as the unprivileged user `nobody` (65534), so even a file that is in the
  view but private (0600) cannot be read. Every capability is dropped, no_new_privs is set.
- "audit-hook" (opt-in only: CES_SANDBOX=hook): Python code only, on the host's filesystem,
  behind a PEP 578 audit hook that refuses sockets, subprocesses, ctypes, sqlite3, fifos,
  extended attributes, introspection of frames and of the garbage collector, reads outside
  the interpreter's own files and the working directory, and writes outside the working
  directory. It is a guard, not a wall; without bubblewrap ces refuses untrusted code unless
  the user opts into it (SandboxError, one line that says so).

In both modes: an empty environment (PATH, HOME, LANG: no secrets), resource limits set in
the code's process before exec (address space, CPU time, size of a file, processes and threads — 64 —,
file descriptors, no core files), and a trusted launcher that is the subreaper of everything
the code starts: the run lasts until the code *and every process it started* (even in a
session of its own) have ended, and at the timeout all of them are killed (builder.launch:
process group, processes carrying its token, and in bubblewrap the whole PID namespace).

A verdict about the code is never computed inside the code's process. `value="ans"` asks for
the program's variable `ans`: the boot code sends it, once the program has returned, on a pipe
that is not stdout, prefixed with a nonce the boot read from another pipe and closed before the
program started (so a printed or forged line is not a result); only a type name, a float and an
exact fraction travel, never a repr (that could carry a file's content). The exit status
comes from the launcher, which the code cannot signal. stdout and stderr are returned for logs
only; a figure publishes `value`, not them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import launch
from .errors import SandboxError

#: Reasons a run can end with (SandboxResult.reason).
REASONS = ("ok", "error", "timeout", "cpu", "memory", "output", "killed")

_ENV_MODE = "CES_SANDBOX"       # "auto" (default): bubblewrap or refuse; "hook": the audit-hook guard
MAX_PROCESSES = 64              # RLIMIT_NPROC (threads count: node alone has ~10) as `nobody`, or per user namespace
WORK_MB, TMP_MB = 64, 16        # tmpfs caps of the working directory and of /tmp (bubblewrap)
NOBODY = 65534
WORK = "/work"                  # the code's working directory inside bubblewrap

REFUSED = ("no sandbox for untrusted code on this machine: install bubblewrap "
           "(apt-get install bubblewrap), or set CES_SANDBOX=hook to accept the weaker audit-hook guard")


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """What came out of one sandboxed run."""

    stdout: str
    stderr: str
    returncode: int | None   # exit status; None when killed by a signal or timed out
    signal: int | None       # the signal that ended it, if any
    reason: str              # one of REASONS: why it ended
    duration: float          # wall-clock seconds
    isolation: str           # "bubblewrap" or "audit-hook"
    truncated: bool = False  # stdout or stderr was cut at max_output bytes
    value: dict | None = None  # run_python(value=NAME): {"type", "float", "fraction"} or {"error"}

    @property
    def ok(self) -> bool:
        return self.reason == "ok"

    def summary(self) -> str:
        """One line for logs: 'ok', 'timeout after 2.0 s', 'error: NameError: …'."""
        if self.reason == "ok":
            return "ok"
        if self.reason == "timeout":
            return f"timeout after {self.duration:.1f} s"
        last = next((l for l in reversed(self.stderr.strip().splitlines()) if l.strip()), "")
        return f"{self.reason}: {last}" if last else self.reason


# -- choosing the isolation ----------------------------------------------------------------

_probe: dict[str, str | None] = {}


def _bwrap_works() -> str | None:
    """Why bubblewrap cannot run here, or None when it can (probed once per process)."""
    if "bwrap" not in _probe:
        why = None
        if sys.platform != "linux" or not shutil.which("bwrap"):
            why = "bubblewrap is not installed"
        else:
            try:
                with tempfile.TemporaryDirectory(prefix="ces-sandbox-probe-") as d:
                    log = Path(d) / "probe.log"
                    r = launch.run([*_bwrap_argv(Path(d), proc=False), sys.executable, "-I", "-S", "-c", "pass"],
                                   cwd=d, env={}, timeout=20, log_path=log)
                    said = " ".join(launch.tail(log, 2)).strip()
                why = None if r.returncode == 0 else f"bubblewrap does not start here ({r.problem}{': ' + said if said else ''})"
            except OSError as exc:
                why = f"bubblewrap does not start here ({exc})"
        _probe["bwrap"] = why
    return _probe["bwrap"]


def isolation() -> str | None:
    """'bubblewrap', 'audit-hook' (only when CES_SANDBOX=hook) or None: nothing to run untrusted
    code in here, and run_python/run_command raise SandboxError(REFUSED)."""
    if _broker_fd() is not None:
        return _ask_broker("isolation")
    mode = os.environ.get(_ENV_MODE, "auto")
    if mode == "hook":
        return "audit-hook"
    if mode not in ("auto", ""):
        raise SandboxError(f"{_ENV_MODE}={mode!r}: expected 'auto' or 'hook'")
    return "bubblewrap" if _bwrap_works() is None else None


def _require(python: bool) -> str:
    mode = isolation()
    if mode is None:
        raise SandboxError(f"{REFUSED} ({_bwrap_works()})")
    if mode == "audit-hook" and not python:
        raise SandboxError("only Python code can run under the audit-hook guard; other programs need bubblewrap")
    return mode


# -- the bubblewrap command line -----------------------------------------------------------

def _python_roots(preload: tuple[str, ...] = ()) -> list[str]:
    """Directories the interpreter (and the preloaded modules) need, outside /usr."""
    roots = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    for name in preload:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            top = Path(spec.origin).resolve().parent
            if spec.submodule_search_locations:   # a package: bind its parent (site-packages)
                top = top.parent
            roots.add(str(top))
    kept = sorted(r for r in roots if not r.startswith("/usr/") and r != "/usr")
    return [r for r in kept if not any(r.startswith(o + os.sep) for o in kept if o != r)]


def _bwrap_argv(inputs: Path, *, proc: bool, preload: tuple[str, ...] = ()) -> list[str]:
    root = os.geteuid() == 0
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv",
            "--ro-bind", "/usr", "/usr"]
    if not root:
        argv.insert(1, "--unshare-user")
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives"):
        argv += ["--ro-bind-try", etc, etc]
    # The private /tmp (writable by the code's user, sticky) and working directory come first:
    # an interpreter, a venv or a project that lives under /tmp (or /work) is bound over them,
    # not hidden by them.
    argv += ["--size", str(TMP_MB * 2**20), "--perms", "1777", "--tmpfs", "/tmp",
             "--size", str(WORK_MB * 2**20), "--tmpfs", WORK]
    made: set[str] = set()
    for prefix in _python_roots(preload):
        for parent in reversed(Path(prefix).parents[:-1]):  # readable by nobody (bwrap makes them 0700)
            if str(parent) not in made:
                made.add(str(parent))
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--ro-bind", prefix, prefix]
    argv += ["--dev", "/dev", *(["--proc", "/proc"] if proc else []),
             "--ro-bind", str(inputs), "/in", "--chdir", WORK]
    if root:  # the launcher keeps only what it needs to become nobody
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return argv


# -- code run inside the sandbox ----------------------------------------------------------

# Trusted launcher, `python -I -S -c _LAUNCHER CONFIG`. It copies the inputs into the working
# directory (bubblewrap), becomes the subreaper of the code's processes, forks; the child sets
# the limits, becomes nobody (root in bubblewrap) and execs the code; the launcher waits until
# every process has ended and writes the code's exit status on the status pipe.
_LAUNCHER = r"""
import ctypes, json, os, resource, shutil, sys
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(4, 0, 0, 0, 0)           # PR_SET_DUMPABLE 0: the code cannot ptrace us or open /proc/<us>/fd
libc.prctl(36, 1, 0, 0, 0)          # PR_SET_CHILD_SUBREAPER: orphans (own sessions too) come to us
if cfg["inputs"]:
    for name in os.listdir(cfg["inputs"]):
        src = os.path.join(cfg["inputs"], name)
        (shutil.copytree if os.path.isdir(src) else shutil.copyfile)(src, os.path.join(cfg["work"], name))
    os.chmod(cfg["work"], 0o1777)   # the code writes here; the inputs stay root's (sticky bit)
os.chdir(cfg["work"])
pid = os.fork()
if pid == 0:
    os.close(cfg["status_fd"])
    for what, value in (("AS", cfg["memory"]), ("CPU", cfg["cpu"]), ("FSIZE", cfg["fsize"]), ("CORE", 0),
                        ("NOFILE", 256), ("NPROC", cfg["nproc"])):
        if value is not None:
            hard = value + 1 if what == "CPU" else value
            resource.setrlimit(getattr(resource, "RLIMIT_" + what), (value, hard))
    if cfg["drop_to"] is not None:
        os.setgroups([])
        os.setgid(cfg["drop_to"])
        os.setuid(cfg["drop_to"])
    os.execv(cfg["argv"][0], cfg["argv"])
status = None
while True:
    try:
        done, st = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    if done == pid:
        status = st
if status is None:
    report = {"lost": True}
elif os.WIFSIGNALED(status):
    report = {"signal": os.WTERMSIG(status)}
else:
    report = {"exit": os.WEXITSTATUS(status)}
os.write(cfg["status_fd"], json.dumps(report).encode())
"""

# The Python guard, run before the untrusted program (both modes; with bubblewrap a second
# layer, in audit-hook mode the only one). It reads the nonce, installs the hook, runs main.py,
# and sends the requested variable on the value pipe. _PRELOAD, _ALLOWED_READ _VALUE and _WRITABLE are
# prepended: modules imported before the hook (sympy loads ctypes), directories that may be read,
# the private /tmp (bubblewrap) that may be written besides the working directory.
_PY_BOOT = r"""
import os, sys


def _ces_boot(argv):
    import builtins, fractions
    nonce_fd, value_fd = int(argv[1]), int(argv[2])
    nonce = os.read(nonce_fd, 64)
    os.close(nonce_fd)
    import _thread, gc, signal
    value_id = (os.fstat(value_fd).st_dev, os.fstat(value_fd).st_ino)
    # The program ends when main.py ends: its threads do not keep it alive (nor delay its status).
    exit_now, stdout, stderr = os._exit, sys.stdout, sys.stderr

    def end(status):
        try:
            stdout.flush()
            stderr.flush()
        finally:
            exit_now(status)
    fstat, threads, gc_off, sigmask, blocked = (os.fstat, _thread._count, gc.disable, signal.pthread_sigmask,
                                                 signal.valid_signals())
    for name in _PRELOAD:
        __import__(name)
    work = (os.path.realpath(os.getcwd()),) + tuple(_WRITABLE)
    readable = tuple(os.path.realpath(p) for p in _ALLOWED_READ) + work
    net = ("socket.", "_socket.")
    spawn = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
             "pty.spawn", "ctypes.", "os.kill", "os.killpg", "signal.pthread_kill", "sqlite3.", "resource.setrlimit",
             "sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile", "gc.get_", "os.setxattr",
             "os.removexattr", "mmap.__new__", "os.chroot", "os.chflags", "os.lockf", "os.putenv", "os.unsetenv")
    refused_modules = {"posix", "_posixsubprocess", "_sqlite3", "sqlite3", "_ctypes", "ctypes", "_xxsubinterpreters",
                       "_testcapi", "_testinternalcapi"}
    frames = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "f_globals", "f_locals", "f_builtins"}
    path1 = ("os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
             "shutil.rmtree", "os.chdir")
    path2 = ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.move", "shutil.copytree")
    listing = ("os.listdir", "os.scandir", "glob.glob", "os.walk", "os.fwalk")
    writing_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    realpath, fsdecode, sep = os.path.realpath, os.fsdecode, os.sep

    def under(path, roots):
        if isinstance(path, int):
            return True
        p = realpath(fsdecode(path))
        return p == os.devnull or any(p == r or p.startswith(r + sep) for r in roots)

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            if path is None:
                return
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & writing_flags)
            if not under(path, work if writing else readable):
                raise PermissionError("sandbox: %s %s is not allowed" % ("writing" if writing else "reading", path))
        elif event == "import":
            if args[0] in refused_modules:
                raise PermissionError("sandbox: importing %s is not allowed" % args[0])
        elif event == "object.__getattr__":
            if args[1] in frames:
                raise PermissionError("sandbox: reading %s is not allowed" % args[1])
        elif event.startswith(net) or event.startswith(spawn):
            raise PermissionError("sandbox: %s is not allowed" % event)
        elif event in path1:
            if args and not under(args[0], work):
                raise PermissionError("sandbox: %s outside the working directory is not allowed" % event)
        elif event in path2:
            if len(args) > 1 and not (under(args[0], work) and under(args[1], work)):
                raise PermissionError("sandbox: %s outside the working directory is not allowed" % event)
        elif event in listing:
            if args and args[0] is not None and not under(args[0], readable):
                raise PermissionError("sandbox: %s %s is not allowed" % (event, args[0]))

    def refuse(*args, **kwargs):
        raise PermissionError("sandbox: this call is not allowed")

    # Calls that raise no audit event (or that a module bound under another name): every
    # reference to them in a loaded module is replaced, and their modules made unimportable.
    posix = sys.modules.get("posix")
    names = ("mkfifo", "mknod", "setxattr", "removexattr", "fork", "forkpty", "execv", "execve", "posix_spawn",
             "posix_spawnp", "system", "kill", "killpg", "setsid")
    dangerous = {id(getattr(posix, n)) for n in names if hasattr(posix, n)}
    fork_exec = getattr(sys.modules.get("_posixsubprocess"), "fork_exec", None)
    if fork_exec is not None:
        dangerous.add(id(fork_exec))
    for mod in list(sys.modules.values()):
        space = getattr(mod, "__dict__", None)
        if isinstance(space, dict):
            for key, val in list(space.items()):
                if id(val) in dangerous:
                    space[key] = refuse
    for name in ("_posixsubprocess", "_sqlite3", "_ctypes", "posix"):
        sys.modules.pop(name, None)
    del fork_exec, posix
    sys.addaudithook(hook)
    del hook

    with open("main.py", encoding="utf-8") as f:
        source = f.read()
    sys.argv = ["main.py"]
    ns = {"__name__": "__main__", "__file__": "main.py", "__builtins__": builtins}
    # What the value is sent with is bound now: the program may patch os, json or builtins.
    write, Fraction, isinstance_, float_, int_, repr_, hasattr_, type_ = (
        os.write, fractions.Fraction, isinstance, float, int, repr, hasattr, type)

    def send(error=None, kind=None, number=None, fraction=None):
        if not _VALUE:
            return
        def word(s):
            return s if s.isidentifier() and len(s) <= 40 else "object"
        if error is not None:
            body = '{"error": "%s"}' % word(error)
        else:
            finite = number is not None and number == number and number not in (float_("inf"), float_("-inf"))
            body = '{"type": "%s", "float": %s, "fraction": %s}' % (
                word(kind), repr_(number) if finite else "null", '"%s"' % fraction if fraction else "null")
        # From here to the write no code of the program can run (no other thread, no signal
        # handler, no collection), and the value goes down the pipe it was given or nowhere.
        gc_off()
        sigmask(signal.SIG_BLOCK, blocked)
        if threads():
            body = '{"error": "threads"}'
        st = fstat(value_fd)
        if (st.st_dev, st.st_ino) != value_id:
            return
        write(value_fd, nonce + body.encode() + b"\n")

    try:
        exec(compile(source, "main.py", "exec"), ns)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            end(exc.code if isinstance_(exc.code, int_) else 1)
    except BaseException as exc:
        send(error=type_(exc).__name__)
        try:   # the last line says what ended it (a traceback would walk the program's frames)
            stderr.write("Traceback: main.py raised\n%s: %s\n" % (type_(exc).__name__, exc))
        except BaseException:
            stderr.write("%s\n" % type_(exc).__name__)
        end(1)
    if not _VALUE:
        end(0)
    if _VALUE not in ns:
        send(error="missing")
        end(0)
    v = ns[_VALUE]
    number = fraction = None
    try:
        if isinstance_(v, (int_, float_, Fraction)) and not isinstance_(v, bool):
            exact = v
        elif all(hasattr_(v, a) for a in ("is_Rational", "p", "q")) and v.is_Rational is True:
            exact = Fraction(int_(v.p), int_(v.q))
        elif hasattr_(v, "is_number") and v.is_number is True:
            exact = v
        else:
            exact = None
        if exact is not None:
            number = float_(exact)
            if not isinstance_(exact, float_) and isinstance_(exact, (int_, Fraction)):
                f = Fraction(exact)
                fraction = "%d/%d" % (f.numerator, f.denominator)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, AttributeError):
        number = fraction = None
    send(kind=type_(v).__name__, number=float_(number) if number is not None else None, fraction=fraction)
    end(0)


_ces_boot(sys.argv)
"""


# -- running ------------------------------------------------------------------------------

def run_python(code: str, *, timeout: float = 10.0, memory_mb: int = 1024, cpu_seconds: int | None = None,
               files: dict[str, str | bytes] | None = None, max_output: int = 1_000_000,
               preload: tuple[str, ...] = (), value: str | None = None) -> SandboxResult:
    """Run Python source `code` (as main.py) with this interpreter in the sandbox.

    files: extra files written into the working directory first (name -> content).
    preload: modules imported before the guard is installed (e.g. ("sympy",), which loads
    ctypes, refused to the program itself).
    value: the name of a variable whose final value is sent back (SandboxResult.value):
    {"type": "float", "float": 2.0588…, "fraction": "35/17" or None}, or {"error": "NameError"}
    / {"error": "missing"}; None when the program sent nothing trustworthy (killed, timeout).
    """
    if _broker_fd() is not None:
        return _ask_broker("python", code=code, timeout=timeout, memory_mb=memory_mb, cpu_seconds=cpu_seconds,
                           files=files, max_output=max_output, preload=tuple(preload), value=value)
    mode = _require(python=True)
    if not all(isinstance(m, str) and m.replace(".", "").replace("_", "").isalnum() for m in preload):
        raise SandboxError(f"bad module names to preload: {preload!r}")
    if value is not None and not value.isidentifier():
        raise SandboxError(f"bad variable name for the value: {value!r}")
    allowed = sorted({sys.base_prefix, sys.prefix, sys.exec_prefix, *_python_roots(preload), "/dev/urandom"})
    files = dict(files or {})
    files["main.py"] = code
    files["_ces_boot.py"] = (f"_PRELOAD = {list(preload)!r}\n_ALLOWED_READ = {allowed!r}\n"
                             f"_VALUE = {value!r}\n_WRITABLE = {['/tmp'] if mode == 'bubblewrap' else []!r}\n" + _PY_BOOT)
    return _run([sys.executable, "-I", "-B", "_ces_boot.py"], mode=mode, files=files, timeout=timeout,
                memory_mb=memory_mb, cpu_seconds=cpu_seconds, max_output=max_output, preload=preload,
                channels=True)


def run_command(argv: list[str], *, timeout: float = 10.0, memory_mb: int = 1024,
                cpu_seconds: int | None = None, files: dict[str, str | bytes] | None = None,
                max_output: int = 1_000_000) -> SandboxResult:
    """Run any program (e.g. node) in the sandbox; needs bubblewrap.

    argv[0] is looked up on PATH; relative file arguments refer to the working directory.
    """
    if _broker_fd() is not None:
        return _ask_broker("command", argv=list(argv), timeout=timeout, memory_mb=memory_mb,
                           cpu_seconds=cpu_seconds, files=files, max_output=max_output)
    mode = _require(python=False)
    exe = shutil.which(argv[0])
    if exe is None:
        raise SandboxError(f"{argv[0]!r} is not installed (not found on PATH)")
    return _run([os.path.realpath(exe), *argv[1:]], mode=mode, files=files or {}, timeout=timeout,
                memory_mb=memory_mb, cpu_seconds=cpu_seconds, max_output=max_output, proc=True)


def _write_inputs(directory: Path, files: dict) -> None:
    for name, content in files.items():
        target = (directory / name).resolve()
        if directory.resolve() not in target.parents:
            raise SandboxError(f"sandbox file name {name!r} leaves the working directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        target.chmod(0o644)


def _run(argv, *, mode, files, timeout, memory_mb, cpu_seconds, max_output, preload=(), channels=False,
         proc=False) -> SandboxResult:
    cpu = int(cpu_seconds if cpu_seconds is not None else max(1, int(timeout) + 1))
    base = Path(tempfile.mkdtemp(prefix="ces-sandbox-"))
    fds: list[int] = []
    try:
        inputs = base / "in"
        inputs.mkdir()
        _write_inputs(inputs, files)
        base.chmod(0o755)
        bwrap = mode == "bubblewrap"
        status_r, status_w = os.pipe()
        fds += [status_r, status_w]
        pass_fds = [status_w]
        nonce = secrets.token_hex(16).encode()
        if channels:
            nonce_r, nonce_w = os.pipe()
            value_r, value_w = os.pipe()
            fds += [nonce_r, nonce_w, value_r, value_w]
            os.write(nonce_w, nonce)
            os.close(nonce_w)
            fds.remove(nonce_w)
            pass_fds += [nonce_r, value_w]
            argv = [*argv, str(nonce_r), str(value_w)]
        cfg = {"work": WORK if bwrap else str(inputs.resolve()), "inputs": "/in" if bwrap else None,
               "argv": argv, "memory": int(memory_mb) * 2**20, "cpu": cpu, "fsize": 64 * 2**20,
               "nproc": MAX_PROCESSES if bwrap else None, "status_fd": status_w,
               "drop_to": NOBODY if bwrap and os.geteuid() == 0 else None}
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(cfg)]
        if bwrap:
            launcher = [*_bwrap_argv(inputs, proc=proc, preload=preload),
                        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", WORK,
                        "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8", "--setenv", "LC_ALL", "C.UTF-8",
                        "--setenv", "PYTHONHASHSEED", "0", *launcher]
            env = {}
        else:
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(inputs), "TMPDIR": str(inputs),
                   "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}
        drains: list[_Drain] = []
        value_drain: list[_Drain] = []

        def started(p):
            for fd in pass_fds:   # the child holds them now; EOF comes when the last holder ends
                os.close(fd)
                fds.remove(fd)
            drains.extend([_Drain(p.stdout, max_output), _Drain(p.stderr, max_output)])
            if channels:
                value_drain.append(_Drain(os.fdopen(value_r, "rb", closefd=False), 4096))

        start = time.monotonic()
        res = launch.run(launcher, cwd=str(inputs), env=env, timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         pass_fds=pass_fds, on_start=started)
        duration = time.monotonic() - start
        if res.error:
            raise SandboxError(f"the sandbox could not start: {res.error}")
        for d in drains + value_drain:
            d.join(5)
        raw = _read_all(status_r)
        fds.remove(status_r)
        try:
            status = json.loads(raw) if raw else {}
        except ValueError:
            status = {}
        out, err = drains
        stderr = err.text()
        if bwrap and not raw and not res.timed_out and res.returncode not in (0, None):
            raise SandboxError(f"sandbox setup failed: {stderr.strip().splitlines()[-1:] or res.problem}")
        sig, code = status.get("signal"), status.get("exit")
        reason = _reason(res.timed_out, code, sig, stderr)
        sent = _value(value_drain[0].data, nonce) if channels and not res.timed_out and sig is None else None
        return SandboxResult(stdout=out.text(), stderr=stderr, returncode=None if res.timed_out else code,
                             signal=sig, reason=reason, duration=duration, isolation=mode,
                             truncated=out.truncated or err.truncated, value=sent)
    finally:
        for fd in fds:
            os.close(fd)
        shutil.rmtree(base, ignore_errors=True)


def _value(data: bytes, nonce: bytes) -> dict | None:
    """The last line on the value pipe that carries the nonce, validated; None otherwise."""
    lines = [l[len(nonce):] for l in bytes(data).split(b"\n") if l.startswith(nonce)]
    if not lines:
        return None
    try:
        sent = json.loads(lines[-1])
    except ValueError:
        return None
    if not isinstance(sent, dict):
        return None
    if set(sent) == {"error"} and isinstance(sent["error"], str) and len(sent["error"]) <= 40:
        return sent
    if set(sent) != {"type", "float", "fraction"} or not isinstance(sent["type"], str) or len(sent["type"]) > 40:
        return None
    if sent["float"] is not None and not isinstance(sent["float"], (int, float)):
        return None
    if sent["fraction"] is not None and not (isinstance(sent["fraction"], str) and len(sent["fraction"]) <= 64):
        return None
    return sent


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


# -- the broker: sandboxed runs for a confined figure -----------------------------------------
#
# A figure runs under builder.guard's Landlock domain, which forbids mounts, so it cannot start
# bubblewrap. Before the guard, the harness forks a broker (`start_broker`): a process outside the
# domain (the figure can neither ptrace nor signal it) that owns one end of a socket pair and runs
# each request with run_python/run_command, as this module would; the figure's run_python,
# run_command and isolation() send their arguments on the other end (CES_SANDBOX_BROKER=<fd>)
# and get the SandboxResult back. Only those three calls exist; the broker's scratch directories
# are in ces's TMPDIR, out of the figure's reach; it ends when the figure's end of the pair closes.

BROKER_ENV = "CES_SANDBOX_BROKER"
_broker_lock = threading.Lock()
_MAX_MESSAGE = 256 * 2**20


def _broker_fd() -> int | None:
    value = os.environ.get(BROKER_ENV, "")
    return int(value) if value.isdigit() else None


def _send(sock, doc) -> None:
    data = json.dumps(doc).encode()
    sock.sendall(len(data).to_bytes(8, "big") + data)


def _receive(sock):
    def exactly(n):
        chunks = bytearray()
        while len(chunks) < n:
            chunk = sock.recv(min(n - len(chunks), 1 << 20))
            if not chunk:
                return None
            chunks += chunk
        return bytes(chunks)
    head = exactly(8)
    if head is None:
        return None
    size = int.from_bytes(head, "big")
    if size > _MAX_MESSAGE:
        raise ValueError("message too large")
    body = exactly(size)
    return None if body is None else json.loads(body)


def _encode_files(files):
    import base64
    return {str(k): ({"b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else str(v))
            for k, v in (files or {}).items()}


def _decode_files(files):
    import base64
    return {k: (base64.b64decode(v["b64"]) if isinstance(v, dict) else v) for k, v in (files or {}).items()}


def _ask_broker(kind: str, **kwargs):
    import socket

    with _broker_lock:
        sock = socket.socket(fileno=os.dup(_broker_fd()))
        try:
            if "files" in kwargs:
                kwargs["files"] = _encode_files(kwargs["files"])
            _send(sock, {"kind": kind, "args": kwargs})
            answer = _receive(sock)
        except (OSError, ValueError) as exc:
            raise SandboxError(f"the sandbox broker is gone ({exc})") from None
        finally:
            sock.close()   # the duplicate; the broker's end stays open in this process
    if answer is None:
        raise SandboxError("the sandbox broker is gone")
    if "error" in answer:
        raise SandboxError(answer["error"])
    if kind == "isolation":
        return answer["isolation"]
    return SandboxResult(**answer["result"])


def _serve(sock) -> None:
    """The broker's loop (in the forked process); it never returns into the harness."""
    while True:
        try:
            request = _receive(sock)
        except (OSError, ValueError):
            return
        if request is None:
            return
        try:
            kind, args = request["kind"], dict(request.get("args") or {})
            if kind == "isolation":
                answer = {"isolation": isolation()}
            elif kind == "python":
                args["files"] = _decode_files(args.get("files"))
                args["preload"] = tuple(args.get("preload") or ())
                answer = {"result": dataclasses.asdict(run_python(**args))}
            elif kind == "command":
                args["files"] = _decode_files(args.get("files"))
                answer = {"result": dataclasses.asdict(run_command(**args))}
            else:
                answer = {"error": f"unknown sandbox request {kind!r}"}
        except SandboxError as exc:
            answer = {"error": str(exc)}
        except Exception as exc:  # a malformed request: the figure's problem, said in one line
            answer = {"error": f"bad sandbox request: {type(exc).__name__}: {exc}"[:300]}
        try:
            _send(sock, answer)
        except OSError:
            return


def start_broker() -> None:
    """Fork the broker (before builder.guard confines this process) and point this process's
    builder.sandbox at it. The broker dies with this process (PR_SET_PDEATHSIG)."""
    import socket

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            ours.close()
            launch.die_with_parent()
            launch._prctl(4, 0)   # PR_SET_DUMPABLE 0: no /proc/<broker>/mem, fd or environ for the figure
            os.environ.pop(BROKER_ENV, None)
            # Unconfined, the broker imports only the interpreter's modules (a preload named
            # by the figure is looked up there, never in the project the figure can shape).
            os.chdir("/")
            prefixes = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})
            sys.path[:] = [p for p in sys.path if p and (os.path.realpath(p) + os.sep).startswith(prefixes)]
            importlib.invalidate_caches()
            for fd in range(3, 1024):   # nothing of the harness but the socket
                if fd != theirs.fileno():
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            _serve(theirs)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    theirs.close()
    os.set_inheritable(ours.fileno(), True)   # the figure's children (sh -c python …) may use it too
    os.environ[BROKER_ENV] = str(ours.detach())
