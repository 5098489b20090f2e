"""The write guard of a figure's process: inside the project it may write only its staging
directory (output and scratch), enforced by the kernel with Landlock (Linux ≥ 5.13,
unprivileged) and inherited by everything it starts (`sh -c`, a daemon).

Landlock grants rights beneath directories; reading and executing are not restricted. Writes
(create, write, truncate, remove, rename, link, mkdir, mknod) are allowed beneath: the staging
directory; the project's `__pycache__` directories (Python's bytecode); and every directory
*beside* the path from / to the project (so /home, /root, /var, /dev, … stay writable, and so
does /tmp unless the project lies in it; TMPDIR then points into the staging directory). Where
the kernel has no Landlock the guard is off, and the harness's audit hook still reports what
the figure wrote, removed or renamed in the project (builder.harness). So it is for a figure
that uses builder.sandbox: its namespaces need mounts, which a Landlock domain forbids.

    restrict(root, staging) -> "landlock ABI <n>" | None   (None: not enforced here)
"""

from __future__ import annotations

import ctypes
import os
import platform
import stat

SYS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}  # create_ruleset, add_rule, restrict_self
PR_SET_NO_NEW_PRIVS = 38
RULE_PATH_BENEATH = 1
WRITE_FILE, REMOVE_DIR, REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
MAKE = sum(1 << b for b in range(6, 13))       # char, dir, reg, sock, fifo, block, sym
REFER, TRUNCATE = 1 << 13, 1 << 14             # ABI 2, ABI 3


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _abi(libc, create) -> int:
    return libc.syscall(create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # LANDLOCK_CREATE_RULESET_VERSION


def writable_places(root: str, staging: str) -> list[str]:
    """Where writes stay allowed (see the module docstring)."""
    root = os.path.realpath(root)
    places = [os.path.realpath(staging)]
    parts = root.split(os.sep)[1:]
    here = os.sep
    for part in parts:
        try:
            names = os.listdir(here)
        except OSError:
            names = []
        places += [os.path.join(here, n) for n in names if n != part]
        here = os.path.join(here, part)
    for dirpath, dirnames, _ in os.walk(root):
        if "__pycache__" in dirnames:
            places.append(os.path.join(dirpath, "__pycache__"))
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".git", "cache", "_site", "node_modules")]
    return places


def restrict(root: str, staging: str) -> str | None:
    """Apply the guard to this process (and its future children); what enforces it, or None."""
    if os.environ.get("CES_WRITE_GUARD", "on") == "off" or platform.system() != "Linux":
        return None
    numbers = SYS.get(platform.machine())
    if numbers is None:
        return None
    create, add_rule, restrict_self = numbers
    libc = ctypes.CDLL(None, use_errno=True)
    abi = _abi(libc, create)
    if abi < 1:
        return None
    handled = WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)
    attr = _RulesetAttr(handled)
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        return None
    try:
        for place in writable_places(root, staging):
            try:  # a link beside the path may point back into the project: never follow one
                fd = os.open(place, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
                if stat.S_ISLNK(os.fstat(fd).st_mode):
                    os.close(fd)
                    continue
            except OSError:
                continue
            try:
                is_dir = os.path.isdir(place)
                rule = _PathBeneath(handled if is_dir else handled & (WRITE_FILE | TRUNCATE), fd)
                libc.syscall(add_rule, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0))
            finally:
                os.close(fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return None
        if libc.syscall(restrict_self, ruleset, ctypes.c_uint32(0)) != 0:
            return None
    finally:
        os.close(ruleset)
    return f"landlock ABI {abi}"
