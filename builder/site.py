"""The site: _site/ rendered like a cache entry, and the one place a renderer is chosen.

    renderer = site.renderer("auto")                         # a Renderer (builder.deck): Quarto or Pandoc
    render_site(deck, renderer, figures, outcomes)           # "up to date" or "rendered with … in … s"

The site is rendered into a staging directory (.ces/render/), finished there (figures copied,
builder.publish), given a manifest (SITE_MANIFEST: the render stamp, every file it holds with
its size, mtime and hash, and every figure file its pages reference), then swapped in whole.
A site is up to date when its manifest's stamp is the current one, every file it lists is
there unchanged, no file is there that it does not list (a deck overwritten by `quarto render`
by hand), and every figure file the slides reference is there (a reference to a figure file
that did not reach the site renders again). Whatever the renderer, the deck is _site/index.html.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from .deck import FILTER, SITE, TEMPLATES, Deck, Renderer
from .errors import RenderError
from .files import PROJECT_FILE

SITE_MANIFEST = ".ces-site.json"      # in _site/: the render stamp, every file's size and hash, figure references
SITE_EXTRAS = {"deck.pdf"}            # what may be added to _site/ after a render (ces pdf)
STAGING = Path(".ces") / "render"     # where a site is rendered before it is swapped in
# A figure file referenced from a page: [prefix/]_figures/<figure>/<file> (as builder.publish rewrites them).
_FIGURE_REF = re.compile(r"""(?:src|href|data-src)\s*=\s*["']((?:[\w.-]+/)*_figures/[\w.-]+/[^/"'\s<>?#&]+)""")


def renderer(name: str) -> Renderer:
    """The Renderer for --renderer NAME (auto: Quarto when `quarto` is on PATH, else pandoc)."""
    if name == "auto":
        name = "quarto" if shutil.which("quarto") else "pandoc"
    elif name == "quarto" and not shutil.which("quarto"):
        raise RenderError("--renderer quarto: no `quarto` on PATH",
                          tip="install Quarto (quarto.org), or use --renderer pandoc")
    if name == "quarto":
        from .quarto import Quarto
        return Quarto()
    from .pandoc import Pandoc
    return Pandoc()


def copy_figures(root: Path, site: Path | None = None) -> None:
    """Every file materialised in slides/_figures goes to <site>/_figures, whatever the renderer
    copied itself (Quarto copies only what an `src` or an image's `data-src` names: not an
    iframe's page, not a JSON output). A stray file or link there is not a figure: left out."""
    src, dst = root / "slides" / "_figures", (site or root / SITE) / "_figures"
    if dst.exists():
        shutil.rmtree(dst)
    if not src.is_dir():
        return
    dst.mkdir(parents=True)
    for d in sorted(src.iterdir()):
        if d.is_dir() and not d.is_symlink() and not d.name.startswith("."):
            shutil.copytree(d, dst / d.name, ignore=shutil.ignore_patterns(".*"), symlinks=True)


def render_stamp(root: Path, renderer_name: str, outcomes: dict, figures: dict | None = None) -> str:
    """Everything the rendered deck depends on: slides, config, filter, figure keys, each figure's
    declared alt text and caption (the filter writes them into the deck, and they are not in the
    figure's key), ces."""
    from . import __version__, deck, pandoc, publish, quarto
    from .cache import digest_json, sha256_file

    files = {f"slides/{rel}": sha256_file(root / "slides" / rel)
             for rel in sorted(_walk(root / "slides", skip_top={"_figures"}, links=True))}
    files[PROJECT_FILE] = sha256_file(root / PROJECT_FILE)
    files["filter"] = sha256_file(FILTER)
    for module in (deck, pandoc, quarto, publish):
        files[module.__name__] = sha256_file(Path(module.__file__))
    files["site"] = sha256_file(Path(__file__))
    for path in sorted(p for p in TEMPLATES.glob("*") if p.is_file()):  # templates/new/: ces new's, not the deck's
        files[f"templates/{path.name}"] = sha256_file(path)
    declared = {n: [getattr(s, "alt", None), getattr(s, "caption", None)] for n, s in sorted((figures or {}).items())}
    return digest_json({"renderer": renderer_name, "ces": __version__, "files": files, "declared": declared,
                        "figures": {n: o.entry.key for n, o in sorted(outcomes.items()) if o.entry is not None}})


def _walk(top: Path, skip_top=frozenset(), links: bool = False) -> dict[str, os.stat_result]:
    """Every regular file under `top` (and, with `links`, every link to one; a link to a
    directory is never followed): relative POSIX path -> its lstat. One scandir pass (a site
    holds a thousand files of Reveal.js)."""
    found, todo = {}, [("", str(top))]
    while todo:
        prefix, path = todo.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                if not (prefix == "" and e.name in skip_top):
                    todo.append((f"{prefix}{e.name}/", e.path))
            elif e.is_file(follow_symlinks=False) or links and e.is_file():
                found[prefix + e.name] = e.stat(follow_symlinks=False)
    return found


def _site_files(site: Path) -> dict[str, os.stat_result]:
    found = _walk(site)
    found.pop(SITE_MANIFEST, None)
    return found


def figure_references(site: Path) -> list[str]:
    """Every figure file (site-relative) that the site's HTML pages reference."""
    found = set()
    for page in site.rglob("*.html"):
        if page.is_symlink() or "_figures" in page.relative_to(site).parts:
            continue  # a figure's own HTML output references its own files
        text = page.read_text(encoding="utf-8", errors="replace")
        for ref in _FIGURE_REF.findall(text):
            path = os.path.normpath((page.parent / ref).relative_to(site).as_posix()) \
                if not ref.startswith("/") else ref.lstrip("/")
            found.add(Path(path).as_posix())
    return sorted(found)


def write_site_manifest(site: Path, stamp: str) -> None:
    from .cache import sha256_file

    files = {rel: [st.st_size, st.st_mtime_ns, sha256_file(site / rel)] for rel, st in sorted(_site_files(site).items())}
    manifest = {"stamp": stamp, "files": files, "figures": figure_references(site)}
    (site / SITE_MANIFEST).write_text(json.dumps(manifest, indent=0), encoding="utf-8")


def site_problem(site: Path, stamp: str) -> str | None:
    """Why `site` is not the deck `stamp` describes (None: it is). A file whose size and mtime
    are those recorded is trusted; any other is hashed."""
    from .cache import sha256_file

    try:
        manifest = json.loads((site / SITE_MANIFEST).read_text(encoding="utf-8"))
        files, recorded, referenced = manifest["files"], manifest["stamp"], manifest["figures"]
        if not isinstance(files, dict) or not isinstance(referenced, list):
            raise TypeError
    except FileNotFoundError:
        return "no site manifest"
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return "unreadable site manifest"
    if recorded != stamp:
        return "slides, config, figures or ces changed"
    try:
        records = [(rel, int(size), int(mtime), str(digest)) for rel, (size, mtime, digest) in files.items()]
    except (TypeError, ValueError):
        return "unreadable site manifest"
    for rel in referenced:
        if rel not in files:
            return f"{rel}, which the slides show, is not in the site"
    there = _site_files(site)
    for rel, size, mtime, digest in records:
        st = there.get(rel)
        if st is None:
            return f"{rel} is missing" if not os.path.lexists(site / rel) else f"{rel} is not a file"
        if (st.st_size, st.st_mtime_ns) != (size, mtime) and sha256_file(site / rel) != digest:
            return f"{rel} was changed"
    for rel in sorted(there):  # e.g. _site/slides/ of a `quarto render` run by hand
        if rel not in files and rel not in SITE_EXTRAS:
            return f"{rel} is not part of the deck"
    return None


def complete_outcomes(root: Path, figures: dict, outcomes: dict) -> dict:
    """The outcomes of this build plus, for every other figure of the deck, the entry whose
    outputs lie in slides/_figures (its .key): `ces build one-figure` still publishes the
    provenance of all of them."""
    from .cache import MANIFEST, Entry
    from .runner import Outcome

    full = dict(outcomes)
    for name in sorted(set(figures) - set(outcomes)):
        try:
            key = (root / "slides" / "_figures" / name / ".key").read_text().strip()
            path = root / "cache" / name / key[:16]
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(manifest, dict) and manifest.get("key") == key:
            full[name] = Outcome(name, "cached", entry=Entry(path, manifest))
    return full


def _swap_in(staging: Path, site: Path) -> None:
    """Replace `site` by `staging` (two renames: never a half-written site)."""
    old = staging.parent / f"{staging.name}.old"
    if site.is_symlink() or site.is_file():
        site.unlink()
    elif site.exists():
        os.rename(site, old)
    os.rename(staging, site)
    shutil.rmtree(old, ignore_errors=True)


def render_site(deck: Deck, renderer: Renderer, figures: dict, outcomes: dict) -> str:
    """Render the deck unless _site/ already is what it would be; returns what was done."""
    from . import publish

    root = deck.root
    outcomes = complete_outcomes(root, figures, outcomes)
    stamp = render_stamp(root, renderer.name, outcomes, figures)
    site = root / SITE
    if site.is_dir() and not site.is_symlink() and site_problem(site, stamp) is None:
        return "up to date"
    t = time.perf_counter()
    base = root / STAGING
    shutil.rmtree(base, ignore_errors=True)  # what a killed build left (we hold the build lock)
    base.mkdir(parents=True)
    staging = base / f"site-{os.getpid()}"
    staging.mkdir()
    renderer.render(deck, figures, staging)
    copy_figures(root, staging)
    publish.finalize_site(root, staging, figures, outcomes)
    write_site_manifest(staging, stamp)
    _swap_in(staging, site)
    shutil.rmtree(base, ignore_errors=True)
    return f"rendered with {renderer.name} in {time.perf_counter() - t:.1f} s"
