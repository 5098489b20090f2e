"""What goes into a figure's key, and the one function that makes a key from its ingredients.

What goes into a figure's key (and nothing else):
  - the cache format version (FORMAT below);
  - the script's code, parsed and dumped with comments, docstrings and formatting dropped,
    and without the FIGURE declaration (its caption and alt are prose, not code);
  - the same normalised code of every project-local module it imports, transitively
    (figures/_style.py, ...);
  - the active profile's params (profiles.params_of: base params and the profile's
    overrides, merged), the seed, the declared outputs;
  - the keys of the upstream figures it needs;
  - every file it read under the project while it ran, with its content hash (recorded by
    the harness, like a compiler's depfile; .py files are hashed normalised too), and the
    listing of every project directory it listed;
  - the versions of the third-party packages it imports (statically, top-level imports of
    the script and its local modules);
  - the normalised code of the ces modules that run inside the figure's process and shape
    its outputs (RUNTIME: builder/harness.py, script.py, profiles.py; plus builder/llm.py,
    sandbox.py, … when the figure imports them, and what they import of ces).
Slide text never enters a key. Device, wall time and date are recorded, not keyed.

`make_key` is the only place a key is computed: the lookup and the commit (an entry's key),
the manifest check (an edited manifest no longer hashes to its key) and the Slurm executor
(the *static key*, known before the figure runs: the same function without the reads).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from . import memo

FORMAT = 2  # 2: the figure-side runtime modules of ces are keyed


# -- hashing ----------------------------------------------------------------------------
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def output_digest(path: Path, max_bytes: int) -> str:
    """sha256 of a figure's output, which must be a regular file of at most max_bytes, opened
    without following a link and without blocking; ValueError says what it is instead."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("is a symbolic link, not a regular file") from None
        raise ValueError(f"cannot be opened ({exc.strerror}): not a regular file") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = {stat.S_IFIFO: "a FIFO", stat.S_IFDIR: "a directory", stat.S_IFCHR: "a device",
                stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}.get(stat.S_IFMT(st.st_mode), "special")
        raise ValueError(f"is {kind}, not a regular file")
    with os.fdopen(fd, "rb") as f:
        if st.st_nlink > 1:
            raise ValueError("is a hard link to another file, not a file of its own")
        if st.st_size > max_bytes:
            raise ValueError(f"is {st.st_size / 2**20:.1f} MiB, over the {max_bytes / 2**20:g} MiB cap")
        h = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
        return h.hexdigest()


def file_digest(path: Path) -> str | None:
    """Digest of a file read by a figure (None if gone): normalised for .py, bytes otherwise.
    A directory's digest is that of its sorted listing."""
    try:
        if path.is_dir():
            return sha256_bytes("\n".join(sorted(os.listdir(path))).encode())
        if path.suffix == ".py":
            try:
                return memo.facts(path)["code"]
            except (SyntaxError, ValueError):
                pass
        return sha256_file(path)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None


def digest_json(obj) -> str:
    return sha256_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())


# -- imports ----------------------------------------------------------------------------
def _find_local(name: str, search: list[Path]) -> Path | None:
    rel = name.replace(".", os.sep)
    for base in search:
        for candidate in (os.path.join(base, rel + ".py"), os.path.join(base, rel, "__init__.py")):
            if os.path.isfile(candidate):
                return Path(candidate)
    return None


def scan_imports(names: list[str], root: Path, tool: set[str] | None = None) -> tuple[dict[str, str], set[str]]:
    """Project-local modules imported (transitively: relative path -> code digest) and
    third-party top-level names. The modules of ces itself that they import (builder.llm, …)
    are added to `tool` when given: they are keyed as the figure's runtime, not as project code."""
    search = [root / "figures", root]
    local: dict[str, str] = {}
    third: set[str] = set()
    todo = [names]
    while todo:
        for name in todo.pop():
            top = name.split(".")[0]
            if top == "builder":
                if tool is not None and name.count(".") >= 1:
                    tool.add(name.split(".")[1])
                continue
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            path = _find_local(name, search)
            if path is None:
                if _find_local(top, search) is None:
                    third.add(top)
                continue
            rel = path.relative_to(root).as_posix()
            if rel not in local:
                found = memo.facts(path)
                local[rel] = found["code"]
                todo.append(found["imports"])
    return local, third


_dist_cache: dict[str, list[str]] | None = None


def _version(name: str) -> str:
    """importlib.metadata.version(name), without parsing the whole METADATA as an e-mail (its long
    description makes that ~1.5 ms a package, paid for every figure by `ces status`)."""
    import importlib.metadata

    dist = importlib.metadata.distribution(name)  # PackageNotFoundError if none
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for line in text.splitlines():
        if not line.strip():
            break  # end of the headers
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return dist.version


_versions_of_module: dict[str, dict[str, str]] = {}  # per process: figures share their imports
# Modules whose distribution has another name: looked up directly, since the general mapping
# (importlib.metadata.packages_distributions) reads every installed package (~0.3 s).
DISTRIBUTION_OF = {"yaml": "PyYAML", "sklearn": "scikit-learn", "PIL": "Pillow", "cv2": "opencv-python",
                   "bs4": "beautifulsoup4", "skimage": "scikit-image", "attr": "attrs"}


def package_versions(modules: set[str]) -> dict[str, str]:
    """Distribution versions of top-level module names (yaml -> PyYAML 6.0.3)."""
    versions = {}
    for mod in sorted(modules):
        if mod not in _versions_of_module:
            _versions_of_module[mod] = _module_versions(mod)
        versions.update(_versions_of_module[mod])
    return versions


def _module_versions(mod: str) -> dict[str, str]:
    import importlib.metadata  # here: the figure harness imports this module and needs none of it

    global _dist_cache
    for dist in filter(None, (mod, DISTRIBUTION_OF.get(mod))):
        try:
            return {dist: _version(dist)}
        except importlib.metadata.PackageNotFoundError:
            pass
    if _dist_cache is None:  # slower; only when a module's name is not its distribution's
        _dist_cache = importlib.metadata.packages_distributions()
    return {dist: _version(dist) for dist in _dist_cache.get(mod, [])} or {mod: "not installed"}


# -- keys -------------------------------------------------------------------------------
@dataclass
class Inputs:
    """Everything known about a figure's inputs before it runs."""

    static: dict          # code, modules, params, seed, outputs, upstream keys
    packages: dict        # distribution -> version

    @property
    def static_digest(self) -> str:
        return digest_json(self.static)


# What runs inside every figure's process and shapes its outputs (the run, savefig's metadata,
# what is recorded); with the ces modules a figure imports (builder.llm, builder.sandbox) and
# theirs, they are keyed by their normalised code: editing builder/script.py recomputes the
# figures, editing builder/cli.py does not. The key's own machinery is versioned by FORMAT.
RUNTIME = ("harness", "script", "profiles")
KEY_SIDE = ("cache", "keys", "memo")
BUILDER = Path(__file__).resolve().parent


_runtime: dict[tuple, dict[str, str]] = {}  # per command: ces' own code does not change under it


def forget_runtime() -> None:
    """Read ces' own code again at the next key (a long-lived process: `ces preview`'s rebuilds)."""
    _runtime.clear()


def runtime_digests(imported: set[str]) -> dict[str, str]:
    """builder/<module>.py -> code digest, for RUNTIME, `imported` and what they import of ces
    (once per process and set of imported modules: every figure shares them)."""
    key = (BUILDER, frozenset(imported))
    if key not in _runtime:
        _runtime[key] = _runtime_digests(imported)
    return dict(_runtime[key])


def _runtime_digests(imported: set[str]) -> dict[str, str]:
    todo, seen = list(RUNTIME) + sorted(imported), {}
    while todo:
        name = todo.pop()
        path = BUILDER / f"{name}.py"
        if name in seen or name in KEY_SIDE or not path.is_file():
            continue
        found = memo.facts(path)
        seen[name] = found["code"]
        todo += found["relative"]
    return {f"builder/{n}.py": d for n, d in sorted(seen.items())}


def static_inputs(spec, profile: str, upstream_keys: dict[str, str], root: Path) -> Inputs:
    script = memo.facts(spec.path)
    tool: set[str] = set()
    local, third = scan_imports(script["imports"], root, tool)
    static = {
        "format": FORMAT,
        "figure": spec.name,
        "code": script["code_nofig"],
        "modules": dict(sorted(local.items())),
        "params": spec.params(profile),
        "seed": spec.seed,
        "outputs": sorted(spec.outputs),
        "upstream": dict(sorted(upstream_keys.items())),
        "runtime": runtime_digests(tool),
    }
    return Inputs(static, package_versions(third))


def make_key(static_digest: str, packages: dict, reads: dict | None = None) -> str:
    """The key: of an entry (with the reads its run recorded), or the static key (reads=None)."""
    parts = {"static": static_digest, "packages": packages}
    if reads is not None:
        parts["reads"] = reads
    return digest_json(parts)


def entry_key(inputs: Inputs, reads: dict[str, str | None]) -> str:
    return make_key(inputs.static_digest, inputs.packages, reads)


def static_key(inputs: Inputs) -> str:
    """The key as far as it is known before the figure runs (the Slurm job directory's name)."""
    return make_key(inputs.static_digest, inputs.packages)
