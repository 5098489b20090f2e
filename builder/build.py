"""`ces build`, `ces status` and `ces clean`: the stages in order, one module each.

    discover figures → check slides → (lock) compute stale figures → materialise outputs
    into slides/_figures/ → render _site/ (skipped when nothing it reads changed)

    request = BuildRequest(root, profile="smoke", renderer="pandoc")
    build(request, figures=discover(root))      # figures: discovered once per command
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache, Entry
from .errors import BuildError, ConfigError, FigureError
from .figures import FigureSpec, did_you_mean, discover
from .profiles import DEFAULT, PROFILES
from .runner import Outcome, Runner, plan


@dataclass(frozen=True)
class BuildRequest:
    """What `ces build` (and preview, verify, the benchmarks) asks for."""

    root: Path
    profile: str = DEFAULT
    jobs: int = 1
    frozen: bool = False            # never compute: stale figures are an error
    renderer: str = "auto"          # auto, quarto or pandoc (builder.site.renderer)
    keep_going: bool = False        # go on with independent figures after a failure
    wanted: tuple[str, ...] = ()    # only these figures (and what they need); () = all


LOW_SPACE = 64 * 2**20  # below this, a failed build says that the disk is full


@contextlib.contextmanager
def build_lock(root: Path, echo):
    """One build (or clean, or verify) at a time per tree; the second one waits and says so.

    The lock is a flock on the cache/ directory itself, not on a file in it: `git clean -X`
    (cache/.lock used to be git-ignored) or any removal of a lock file cannot release it while
    it is held. cache/.lock.pid only says who holds it."""
    import fcntl

    cache = root / "cache"
    cache.mkdir(exist_ok=True)
    fd = os.open(cache, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    pid_file = cache / ".lock.pid"
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = pid_file.read_text().strip() or "?"
            except OSError:
                holder = "?"
            echo(f"Waiting for another ces build (pid {holder}) to finish with this cache…")
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            pid_file.write_text(str(os.getpid()))
        except OSError:
            pass  # it only informs a waiting build; a full disk is reported by what needs the space
        yield
    finally:
        os.close(fd)  # releases the flock


def _space_tip(root: Path) -> str | None:
    try:
        free = shutil.disk_usage(root / "cache").free
    except OSError:
        return None
    if free < LOW_SPACE:
        return f"the disk holding cache/ is full ({free // 1024} KiB free): free some space, then rerun"
    return None


@contextlib.contextmanager
def disk_errors(root: Path):
    """A write that fails outside a figure (disk full, permissions) is one clear error, not a
    traceback; a build that failed on a (nearly) full disk says so."""
    try:
        yield
    except BuildError as exc:
        tip = _space_tip(root)
        if tip:
            exc.tip = f"{exc.tip}; {tip}" if exc.tip else tip
        raise
    except OSError as exc:
        why = exc.strerror or str(exc)[:300]
        if exc.filename:
            where = Path(exc.filename)
            where = where.relative_to(root) if where.is_relative_to(root) else where
            message = f"could not write {where}: {why}"
        else:
            message = f"a write failed while building the deck: {why}"
        raise BuildError(message, tip=_space_tip(root) or "check the free space and permissions of the deck's "
                                                          "directory") from None


def check_names(names, figures: dict) -> None:
    """A FigureError for the first of `names` that is not a figure of the deck."""
    for name in names:
        if name not in figures:
            raise FigureError(f"no figure named {name!r}.{did_you_mean(name, figures)}")


def build(request: BuildRequest, figures: dict[str, FigureSpec] | None = None, echo=print, executor=None) -> dict:
    """Bring the figures of `request` up to date and render the deck. `figures`: the deck's,
    discovered by the caller (None: discovered here); `executor`: where figures run (None: local)."""
    from . import deck as deck_config
    from . import launch, site, slides
    from .slurm_jobs import clean_staging

    start = time.perf_counter()
    root = request.root
    deck = deck_config.load(root)
    figures = discover(root) if figures is None else figures
    check_names(request.wanted, figures)
    slides.check(list(deck.sources), root, figures)
    renderer = site.renderer(request.renderer)
    renderer.check(deck)
    cache = Cache(root)
    with disk_errors(root), build_lock(root, echo):
        launch.kill_orphans(root)  # processes a killed ces' figures left running here
        clean_staging(cache)  # staging left by killed runs; that of submitted Slurm jobs stays
        runner = Runner(root, figures, cache, request.profile, jobs=request.jobs, keep_going=request.keep_going,
                        echo=echo, executor=executor)
        outcomes = runner.build(list(request.wanted) or None, frozen=request.frozen)
        for o in outcomes.values():
            for w in o.warnings:
                echo(f"  warning  {o.name}: {w}")
        materialise(root, figures, outcomes)
        fig_time = time.perf_counter() - start
        rendered = site.render_site(deck, renderer, figures, outcomes)
    counts = {s: sum(o.state == s for o in outcomes.values()) for s in ("ran", "cached")}
    total = time.perf_counter() - start
    echo(f"Deck built in {total:.1f} s: {len(outcomes)} figures ({counts['ran']} ran, {counts['cached']} cached, "
         f"{fig_time:.1f} s), deck {rendered} → {deck_config.SITE}/index.html")
    return outcomes


def materialise(root: Path, figures: dict[str, FigureSpec], outcomes: dict[str, Outcome]) -> None:
    """Copy each figure's cached outputs to slides/_figures/<figure>/, where the slides point."""
    base = root / "slides" / "_figures"
    if base.is_symlink() or (base.exists() and not base.is_dir()):
        raise ConfigError("slides/_figures is not a directory of its own (a link or a file): ces writes and "
                          "deletes in it", tip="remove it; ces recreates it")
    base.mkdir(parents=True, exist_ok=True)
    for name, outcome in outcomes.items():
        target = base / name
        key_file = target / ".key"
        if key_file.is_file() and key_file.read_text() == outcome.entry.key:
            continue
        if target.exists():  # out of the way in one step: never outputs gone and the key file kept
            old = base / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(target, old)
            shutil.rmtree(old)
        tmp = base / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.mkdir(tmp)
        _copy_verified(outcome.entry, tmp)
        (tmp / ".key").write_text(outcome.entry.key)
        os.rename(tmp, target)
    for stale_dir in base.iterdir():
        if stale_dir.name not in figures and not stale_dir.name.startswith(".") \
                or stale_dir.name.endswith((".tmp", ".old")) and stale_dir.is_dir():  # left by a killed build
            if stale_dir.is_dir() and not stale_dir.is_symlink():
                shutil.rmtree(stale_dir)
            else:  # a stray file or link: not ours, but in the directory ces owns
                stale_dir.unlink()


def _copy_verified(entry: Entry, dest: Path) -> None:
    """Copy each output the entry's manifest lists into dest, opened without following a link,
    hashed as it is copied and checked against the sha256 recorded at commit: a missing,
    replaced or altered output is a BuildError (the deck never ships a file ces did not make)."""
    import hashlib

    for name, digest in sorted(entry.manifest["outputs"].items()):
        where = f"{entry.path.relative_to(entry.path.parent.parent.parent)}/out/{name}"
        try:
            src = os.open(entry.output(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise BuildError(f"cannot copy {where} to the slides: {exc.strerror} (a link, or removed)",
                             tip="run `ces build` again: the entry is checked and recomputed") from None
        h = hashlib.sha256()
        with os.fdopen(src, "rb") as f, open(os.open(dest / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                                     | os.O_CLOEXEC, 0o644), "wb") as out:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise BuildError(f"cannot copy {where} to the slides: not a regular file",
                                 tip="run `ces build` again: the entry is checked and recomputed")
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != digest:
            raise BuildError(f"{where} changed after it was committed (its sha256 is not the manifest's)",
                             tip="run `ces build` again: the entry is checked and recomputed")


def status(root: Path, figures: dict, profile: str, frozen: bool = False, names=()) -> dict:
    """Each figure's state (fresh, stale, missing, corrupt), of `names` only when given."""
    check_names(names, figures)
    states = plan(root, figures, Cache(root), profile, frozen=frozen)
    return {n: states[n] for n in names} if names else states


def clean(root: Path, unused: bool, echo=print) -> None:
    """Under the build lock (a running build's staging and logs stay until it is done)."""
    with build_lock(root, echo):
        _clean(root, unused, echo)


def _clean(root: Path, unused: bool, echo) -> None:
    from .deck import SITE

    for rel in (SITE, "slides/_figures", "_scratch", "cache/.tmp", "cache/.logs"):
        path = root / rel
        if path.is_symlink():  # remove the link, never what it points to
            path.unlink()
            echo(f"removed the link {rel}")
        elif path.exists():
            shutil.rmtree(path)
            echo(f"removed {rel}/")
    if unused:
        cache = Cache(root)
        figures = discover(root)
        keep = set()
        for profile in PROFILES:
            for state in plan(root, figures, cache, profile).values():
                if state.entry is not None and state.state == "fresh":
                    keep.add(state.entry.path)
        removed = 0
        for d in sorted(cache.dir.iterdir()) if cache.dir.is_dir() else []:
            if not d.is_dir() or d.name.startswith(".") or d.name == "llm":
                continue
            entries, unusable = cache.scan(d.name) if d.name in figures else ([], [])
            for entry in entries + [Entry(path, {}) for path, _ in unusable]:
                if entry.path not in keep:
                    cache.discard(entry)
                    removed += 1
            if d.name not in figures:
                shutil.rmtree(d)
                removed += 1
        echo(f"removed {removed} unused cache entr{'y' if removed == 1 else 'ies'}")
