"""The Reveal.js tree a pandoc-rendered deck loads, installed from a pinned tarball.

builder/assets/reveal.js-<version>.tgz is the tarball npm publishes, committed
as is. Before anything is taken out of it its sha512 is checked against the
integrity npm records for that version (see builder/assets/README.md). Only
what pandoc's revealjs template loads is installed, under `<dest>/reveal.js/`;
a stamp file there makes a second install of the same version a no-op.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from builder.errors import RenderError

REVEAL_VERSION = "5.2.1"
# `npm view reveal.js@5.2.1 dist.integrity`
REVEAL_INTEGRITY = (
    "sha512-r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ=="
)
TARBALL = Path(__file__).with_name("assets") / f"reveal.js-{REVEAL_VERSION}.tgz"

# What `pandoc -D revealjs` references (plus the licence). Directories end in "/".
_WANTED = (
    "LICENSE",
    "dist/reset.css",
    "dist/reveal.css",
    "dist/reveal.js",
    "dist/theme/",  # every theme's css, and the fonts white/black/league/... import
    "plugin/notes/",
    "plugin/search/",
    "plugin/zoom/",
)
# These themes @import Google Fonts: a deck using them fetches from outside its origin.
REMOTE_FONT_THEMES = frozenset(
    {"beige", "blood", "league", "moon", "night", "simple", "sky", "solarized"}
)
_STAMP = ".ces-reveal"


def _wanted(name: str) -> bool:
    return any(name == w or (w.endswith("/") and name.startswith(w)) for w in _WANTED)


@functools.lru_cache(maxsize=1)
def reveal_themes() -> frozenset[str]:
    """The themes the pinned Reveal.js ships (dist/theme/<name>.css in its tarball)."""
    import tarfile

    try:
        with tarfile.open(TARBALL, "r:gz") as tar:
            names = tar.getnames()
    except (OSError, tarfile.TarError) as exc:
        raise RenderError(f"cannot read {TARBALL}: {exc}", tip="reinstall ces") from None
    return frozenset(n[len("package/dist/theme/"):-4] for n in names
                     if n.startswith("package/dist/theme/") and n.endswith(".css") and n.count("/") == 3)


def verify_tarball(path: Path = TARBALL) -> None:
    """Raise RenderError unless `path` hashes to REVEAL_INTEGRITY."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RenderError(f"cannot read {path}: {exc.strerror}") from None
    algo, _, expected = REVEAL_INTEGRITY.partition("-")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise RenderError(
            f"{path} does not match the pinned reveal.js {REVEAL_VERSION} integrity "
            f"({algo}-{actual[:16]}... != {expected[:16]}...)",
            tip="reinstall ces, or see builder/assets/README.md",
        )


def install_reveal(dest: Path) -> Path:
    """Install Reveal.js into `dest/reveal.js/` (verified, idempotent) and return that path."""
    target = Path(dest) / "reveal.js"
    stamp = f"{REVEAL_VERSION} {REVEAL_INTEGRITY}\n"
    try:
        if (target / _STAMP).read_text() == stamp:
            return target
    except OSError:
        pass

    verify_tarball(TARBALL)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".reveal.js-", dir=target.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it 0700; the site may be served by another user
        with tarfile.open(TARBALL, "r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or parts[:1] != ("package",) or ".." in parts:
                    continue
                rel = "/".join(parts[1:])
                if not _wanted(rel):
                    continue
                out = tmp.joinpath(*parts[1:])
                out.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        (tmp / _STAMP).write_text(stamp)  # last: a stamped tree is a complete tree
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
