"""The confinement of a figure's process, enforced by the kernel with Landlock (Linux ≥ 5.13,
unprivileged) and inherited by everything it starts (`sh -c`, a double-forked daemon, a
static binary, bubblewrap's children):

  - writes — create, write, truncate, remove, rename, link, mkdir, mknod — are refused
    *everywhere on the filesystem* except beneath the figure's staging directory (its `out/`
    and its private `tmp/`, which is TMPDIR, HOME and every cache directory: see `private_env`)
    and on the harmless character devices (/dev/null, /dev/zero, /dev/full, /dev/tty) and the
    GPUs' (/dev/nvidia*, /dev/kfd, /dev/dri/*: using a GPU is opening them read-write). The venv
    (a `.pth` file would run in every later `ces`), ~/.cache, ~/.config, /dev/shm, /tmp, other
    projects and the project's own `__pycache__` (a forged .pyc would change other figures
    without entering their keys) are all read-only to it. Reading and executing are not
    restricted.
  - with Landlock ABI ≥ 6 (Linux 6.12), LANDLOCK_SCOPE_SIGNAL: the figure cannot signal any
    process outside its own domain — not ces (no SIGSTOP to stall its timeout, no kill), not the
    pid-namespace holder, not the sandbox broker.
  - a Landlocked process may not mount, so it cannot start bubblewrap itself: builder.sandbox
    sends its runs to a broker forked before the guard (`sandbox.start_broker`), which the
    figure can neither ptrace nor signal (Landlock refuses both across domains).

    restrict(staging) -> "landlock ABI <n>[, signals scoped]" | None   (None: not enforced)

`CES_WRITE_GUARD=off` turns it off (benchmarks); where the kernel has no Landlock the harness's
audit hook still reports what the figure's own Python wrote in the project.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import platform
import stat

SYS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}  # create_ruleset, add_rule, restrict_self
PR_SET_NO_NEW_PRIVS = 38
RULE_PATH_BENEATH = 1
WRITE_FILE, REMOVE_DIR, REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
MAKE = sum(1 << b for b in range(6, 13))       # char, dir, reg, sock, fifo, block, sym
REFER, TRUNCATE = 1 << 13, 1 << 14             # ABI 2, ABI 3
SCOPE_SIGNAL = 1 << 1                          # ABI 6
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")
# Accelerators are opened read-write to be used at all (CUDA's /dev/nvidia*, ROCm's /dev/kfd,
# /dev/dri/*): writing to them is using the GPU, not changing a file.
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset", "/dev/kfd")
GPU_DIRS = ("/dev/dri", "/dev/nvidia-caps")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi() -> int:
    """The kernel's Landlock ABI version (0: none, or not Linux x86_64/aarch64)."""
    numbers = SYS.get(platform.machine())
    if platform.system() != "Linux" or numbers is None:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    return max(0, libc.syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1)))  # _VERSION flag


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def private_env(tmp: str) -> dict:
    """The environment that points every per-user place a program writes to (home, XDG,
    matplotlib, model and package caches) under the figure's private TMPDIR."""
    home = os.path.join(tmp, "home")
    return {"TMPDIR": tmp, "TMP": tmp, "TEMP": tmp, "HOME": home,
            "XDG_CACHE_HOME": os.path.join(home, ".cache"), "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_DATA_HOME": os.path.join(home, ".local", "share"), "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
            "XDG_RUNTIME_DIR": os.path.join(tmp, "run"), "MPLCONFIGDIR": os.path.join(home, ".config", "matplotlib"),
            "HF_HOME": os.path.join(home, ".cache", "huggingface"), "TORCH_HOME": os.path.join(home, ".cache", "torch"),
            "TRITON_CACHE_DIR": os.path.join(home, ".cache", "triton"), "PIP_CACHE_DIR": os.path.join(home, ".cache", "pip"),
            "NUMBA_CACHE_DIR": os.path.join(home, ".cache", "numba"), "PYTHONUSERBASE": os.path.join(home, ".local")}


def restrict(staging: str) -> str | None:
    """Confine this process (and its future children) to writing beneath `staging`; what
    enforces it, or None where nothing can."""
    if os.environ.get("CES_WRITE_GUARD", "on") == "off":
        return None
    version = abi()
    if version < 1:
        return None
    create, add_rule, restrict_self = SYS[platform.machine()]
    libc = ctypes.CDLL(None, use_errno=True)
    handled = WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE | (REFER if version >= 2 else 0) \
        | (TRUNCATE if version >= 3 else 0)
    scoped = SCOPE_SIGNAL if version >= 6 else 0
    attr = _RulesetAttr(handled, 0, scoped)
    size = ctypes.sizeof(attr) if version >= 6 else 8   # older kernels refuse fields they do not know
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return None
    try:
        gpus = [f"/dev/{n}" for n in _listdir("/dev") if n.startswith("nvidia") and n[6:].isdigit()]
        places = [(staging, handled)] + [(d, handled & (WRITE_FILE | TRUNCATE))
                                         for d in (*DEVICES, *GPU_DEVICES, *gpus, *GPU_DIRS)]
        for place, rights in places:
            try:  # never follow a link: the staging directory was made by ces, the devices are the system's
                fd = os.open(place, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                mode = os.fstat(fd).st_mode
                if place == staging or place in GPU_DIRS:
                    if not stat.S_ISDIR(mode):
                        continue
                elif not stat.S_ISCHR(mode):
                    continue
                rule = _PathBeneath(rights, fd)
                if libc.syscall(add_rule, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)) != 0 \
                        and place == staging:
                    return None
            finally:
                os.close(fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return None
        if libc.syscall(restrict_self, ruleset, ctypes.c_uint32(0)) != 0:
            return None
    finally:
        os.close(ruleset)
    return f"landlock ABI {version}" + (", signals scoped" if scoped else "")


def confine(staging: str, broker: bool = False) -> str | None:
    """What the harness does before the figure runs: a private TMPDIR (staging/tmp) that is
    also HOME and every cache directory (`private_env`), the sandbox broker when the figure
    uses builder.sandbox (forked now, outside the domain), then `restrict`."""
    import tempfile

    tmp = os.path.join(staging, "tmp")
    env = private_env(tmp)
    for d in (tmp, env["HOME"], env["XDG_RUNTIME_DIR"]):
        os.makedirs(d, mode=0o700, exist_ok=True)
    if broker:
        # Imported by name: only a figure that imports builder.sandbox (and so has it keyed)
        # gets here; a static import would make sandbox.py an input of every figure.
        importlib.import_module(".sandbox", __package__).start_broker()
    os.environ.update(env)
    tempfile.tempdir = None
    return restrict(staging)
