"""Render the slides into _site/: with Quarto when it is on PATH, else with the embedded
pandoc (pypandoc-binary) and the pinned Reveal.js assets. Both read _quarto.yml.

Every field of _quarto.yml that ces reads is checked first, for both renderers (check_config:
`_quarto.yml:LINE: field: expected …`). The pandoc path understands the options below; any
other format option is an error naming its line, so that the two paths never silently disagree.

    render_site(root, which, config, lines, sources, figures, outcomes)   # "up to date" or "rendered …"

The site is built like a cache entry: rendered into a staging directory (.ces/render/), finished
there (figures copied, builder.publish), given a manifest of every file it holds with the render
stamp, then swapped in whole. A site is up to date when its manifest's stamp is the current one
and every file it lists is there, unchanged (a figure deleted or a deck overwritten by
`quarto render` by hand is re-rendered). Whatever the renderer, the deck is _site/index.html:
Quarto writes a deck at slides/index.qmd to <output-dir>/slides/index.html, and ces moves that
directory's contents up. The renderer runs through builder.launch, with a time limit
(and, for pandoc, a memory limit), and dies with ces.
"""

from __future__ import annotations

import json
import math
import os
import re
import reprlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .assets import REMOTE_FONT_THEMES, REVEAL_VERSION, reveal_themes
from .errors import ConfigError, RenderError
from .files import PROJECT_FILE

QUARTO_MIN = (1, 4, 0)
PANDOC_MIN = (3, 1)
CONFIG = PROJECT_FILE
SITE = "_site"
SITE_MANIFEST = ".ces-site.json"      # in _site/: the render stamp and every file's size and hash
SITE_EXTRAS = {"deck.pdf"}            # what may be added to _site/ after a render (ces pdf)
STAGING = Path(".ces") / "render"     # where a site is rendered before it is swapped in
RENDER_TIMEOUT_S = 600                # a renderer running longer is killed
RENDER_MEMORY_BYTES = 4 * 2**30       # address space of pandoc (RLIMIT_AS)
QUARTO_THEMES = {"white": "reveal-white.scss"}  # theme -> Quarto SCSS restating Reveal's own (builder/templates)
TEMPLATES = Path(__file__).parent / "templates"
FILTER = Path(__file__).parent / "filters" / "ces.lua"   # applied by both renderers (ces passes it)

# revealjs format option -> Reveal.js/pandoc template variable (pandoc path)
REVEAL_VARIABLES = {
    "theme": "theme", "transition": "transition", "slide-number": "slideNumber", "hash": "hash",
    "controls": "controls", "progress": "progress", "center": "center", "width": "width",
    "height": "height", "margin": "margin", "navigation-mode": "navigationMode", "history": "history",
    "show-notes": "showNotes", "pdf-separate-fragments": "pdfSeparateFragments",
    "background-transition": "backgroundTransition", "fragments": "fragments", "overview": "overview",
}
HANDLED = {"html-math-method", "css", "incremental", "slide-level", "lang", "toc", "bibliography", "csl"}
QUARTO_ONLY_OK = {"embed-resources", "preview-links", "menu", "footer", "logo"}
# Quarto options whose one accepted value is what the pandoc path does anyway.
PANDOC_BEHAVIOUR = {"auto-stretch": False, "code-line-numbers": False}


# -- configuration ------------------------------------------------------------------------
# Every field of _quarto.yml ces reads, checked before any figure runs (both renderers): a value
# of the wrong type or out of range is one line naming its place and what was expected.
TRANSITIONS = ("none", "fade", "slide", "convex", "concave", "zoom")
_PERCENT = re.compile(r"^\d+(\.\d+)?%$")
_MISSING = object()


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _text(v) -> bool:
    return isinstance(v, str) and bool(v.strip()) and "\0" not in v


def _texts(v) -> bool:
    return _text(v) or isinstance(v, list) and bool(v) and all(_text(x) for x in v)


def _flag(*words):
    shown = ["true", "false", *map(repr, words)]
    return (lambda v: isinstance(v, bool) or isinstance(v, str) and v in words,
            ", ".join(shown[:-1]) + " or " + shown[-1])


def _choice(*words):
    return (lambda v: isinstance(v, str) and v in words, "one of " + ", ".join(words))


_TEXT = (_text, "a text")
_SIZE = (lambda v: _number(v) and v > 0 or isinstance(v, str) and bool(_PERCENT.match(v)),
         'a number of pixels (e.g. 1280) or a percentage (e.g. "100%")')
# format.revealjs option -> (accepts the value, what is expected): Reveal.js' and Quarto's types
OPTION_TYPES = {
    "theme": (_texts, "a theme name (e.g. white) or a list of theme files"),
    "transition": _choice(*TRANSITIONS), "background-transition": _choice(*TRANSITIONS),
    "slide-number": _flag("h.v", "h/v", "c", "c/t"), "hash": _flag(), "controls": _flag("auto"),
    "progress": _flag(), "center": _flag(), "width": _SIZE, "height": _SIZE,
    "margin": (lambda v: _number(v) and v >= 0, "a number ≥ 0 (a fraction of the slide's size, e.g. 0.04)"),
    "navigation-mode": _choice("linear", "vertical", "grid"), "history": _flag(),
    "show-notes": _flag("separate-page"), "pdf-separate-fragments": _flag(), "fragments": _flag(),
    "overview": _flag(), "incremental": _flag(), "toc": _flag(),
    "slide-level": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 6,
                    "an integer from 0 to 6"),
    "lang": _TEXT, "css": (_texts, "a CSS file or a list of CSS files"),
    "bibliography": (_texts, "a file or a list of files"), "csl": _TEXT,
    "html-math-method": (lambda v: isinstance(v, str) or isinstance(v, dict) and isinstance(v.get("method"), str),
                         "a method (mathml) or a mapping with `method:`"),
    "auto-stretch": _flag(), "code-line-numbers": (lambda v: isinstance(v, (bool, str)), "true, false or lines"),
    "embed-resources": _flag(), "preview-links": _flag("auto"), "footer": _TEXT, "logo": _TEXT,
    "menu": (lambda v: isinstance(v, (bool, dict)), "true, false or a mapping of menu options"),
}


def _shown(value) -> str:
    """A value as an error shows it: short, whatever its size (an aliased YAML bomb included)."""
    r = reprlib.Repr()
    r.maxstring, r.maxother, r.maxlevel = 60, 60, 3
    return r.repr(value)


def _line(node, keys) -> int:
    """The line of the deepest of `keys` (mapping keys, or list indexes) found in a composed
    YAML document; 1 when not even the first is there."""
    import yaml

    line = 1
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(key)]
            if not found:
                break
            k, node = found[-1]  # a repeated key: the last one wins, as in the data
            line = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _parse(path: Path):
    """(data, composed node) of a YAML file, or a ConfigError naming the file and line."""
    import yaml

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{CONFIG}: cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{CONFIG}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}): expected UTF-8 text",
                          tip="save the file as UTF-8") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{CONFIG}{line}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise ConfigError(f"{CONFIG}:1: invalid YAML: nested too deeply to be a configuration") from None
    finally:
        loader.dispose()
    return data, node


def load_config(root: Path) -> tuple[dict, dict]:
    """(_quarto.yml as data, line number of each `format.revealjs` key), every field ces reads
    checked (check_config)."""
    path = root / CONFIG
    if not path.is_file():
        raise ConfigError(f"{CONFIG} not found in {root}", tip="run ces from the deck's directory")
    data, node = _parse(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG}:1: expected a mapping at the top level, not {type(data).__name__}")
    check_config(root, data, node)
    revealjs = data["format"]["revealjs"]
    return data, {str(k): _line(node, ["format", "revealjs", k]) for k in revealjs}


def check_config(root: Path, data: dict, node) -> None:
    """Raise a ConfigError `_quarto.yml:LINE: field: expected …` for the first field ces reads
    that has the wrong type or value."""

    def fail(keys, expected, value=_MISSING, field=None, tip=None):
        field = field or ".".join(str(k) for k in keys if not isinstance(k, int))
        got = ", found none" if value is _MISSING else f", not {_shown(value)}"
        raise ConfigError(f"{CONFIG}:{_line(node, keys)}: {field}: expected {expected}{got}", tip=tip)

    project = data.get("project", {})
    if not isinstance(project, dict):
        fail(["project"], "a mapping (type:, output-dir:, render:)", project)
    out = project.get("output-dir", SITE)
    if not isinstance(out, str) or Path(out) != Path(SITE):
        fail(["project", "output-dir"], f"{SITE} (ces always writes the deck there)", out,
             tip=f"remove output-dir, or set it to {SITE}")
    render = project.get("render")
    if render is not None:
        if not isinstance(render, list):
            fail(["project", "render"], "a list of slide files, e.g. [slides/index.qmd]", render,
                 tip="write each file on a line of its own: `render:`, then `  - slides/index.qmd`")
        slides_dir = (root / "slides").resolve()
        for i, entry in enumerate(render):
            keys = ["project", "render", i]
            if not _text(entry):
                fail(keys, "the path of a .qmd file", entry)
            if Path(entry).is_absolute() or not (root / entry).resolve().is_relative_to(slides_dir):
                fail(keys, "a path inside slides/ (what ces watches and hashes)", entry)
            if Path(entry).suffix not in (".qmd", ".md"):
                fail(keys, "a .qmd or .md file", entry)
            if not (root / entry).is_file():
                raise ConfigError(f"{CONFIG}:{_line(node, keys)}: project.render lists {entry}, which does not exist")
    lang = data.get("lang", "fr")
    if not OPTION_TYPES["lang"][0](lang):
        fail(["lang"], "a language tag, e.g. fr", lang)
    fmt = data.get("format", _MISSING)
    example = "`format:`, then `  revealjs:` and its options (theme:, width:, …) indented below"
    if not isinstance(fmt, dict) or "revealjs" not in fmt:
        fail(["format"], "a mapping with the deck's `revealjs:` options (ces renders a Reveal.js deck)", fmt,
             tip=f"write {example}")
    for key in fmt:
        if key != "revealjs":
            fail(["format", key], "revealjs only (ces renders one Reveal.js deck)", key, field="format")
    options = fmt["revealjs"]
    if not isinstance(options, dict):
        fail(["format", "revealjs"], "a mapping of Reveal.js options (theme:, width:, …)", options,
             tip=f"write {example}")
    for key, value in options.items():
        accepts, expected = OPTION_TYPES.get(key, (None, None))
        if accepts is not None and not accepts(value):
            fail(["format", "revealjs", key], expected, value)
    css = options.get("css", [])
    sources = deck_sources(root, data)
    for name in [css] if isinstance(css, str) else css:
        src = _css_source(root, sources, name)
        if Path(name).is_absolute() or not src.resolve().is_relative_to(root.resolve()):
            fail(["format", "revealjs", "css"], "CSS files inside the project", name)


def deck_sources(root: Path, config: dict) -> list[Path]:
    """The slide files to render (project.render, checked by check_config; default slides/index.qmd)."""
    render = (config.get("project") or {}).get("render") or ["slides/index.qmd"]
    paths = [root / p for p in render]
    for p in paths:
        if not p.is_file():
            raise ConfigError(f"{CONFIG}: project.render lists {p.relative_to(root)}, which does not exist")
    return paths


def choose(renderer: str) -> str:
    if renderer == "auto":
        return "quarto" if shutil.which("quarto") else "pandoc"
    if renderer == "quarto" and not shutil.which("quarto"):
        raise RenderError("--renderer quarto: no `quarto` on PATH",
                          tip="install Quarto (quarto.org), or use --renderer pandoc")
    return renderer


def _version(text: str) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in m.groups() if g is not None) if m else (0,)


def _run(cmd: list[str], cwd: Path, what: str, show_stderr: bool = True, memory: bool = True) -> None:
    """Run a renderer through builder.launch: its own process group killed as a whole when it
    ends, at its time limit or when ces fails (Ctrl-C); PR_SET_PDEATHSIG kills it with ces, and
    what it left in sessions of its own is killed then, or by the next build (kill_orphans).
    `memory`: an address-space limit (pandoc; not Quarto, whose V8 reserves far more address
    space than it uses). Its output is shown when it fails; on success only when `show_stderr`
    (pandoc's warnings; Quarto's progress lines are not shown)."""
    from . import launch

    fd, log = tempfile.mkstemp(prefix="ces-render-", suffix=".log")
    os.close(fd)
    try:
        result = launch.run(cmd, cwd, None, log_path=log, timeout=RENDER_TIMEOUT_S,
                            memory_bytes=RENDER_MEMORY_BYTES if memory else None,
                            cpu_seconds=RENDER_TIMEOUT_S)
        output = Path(log).read_text(encoding="utf-8", errors="replace").strip()
    finally:
        os.unlink(log)
    if result.error:
        raise RenderError(f"could not start {what}: {result.error}")
    if result.problem:
        tail = "\n".join(output.splitlines()[-15:])
        raise RenderError(f"{what} failed ({result.problem}):\n{tail}" if tail else f"{what} failed ({result.problem})")
    if show_stderr and output:
        for line in output.splitlines():
            print(f"  {what}: {line}")


# -- Quarto ---------------------------------------------------------------------------------
def quarto_metadata(root: Path, config: dict, figures: dict, staging: Path, sources: list[Path]) -> Path:
    """The --metadata-file ces gives Quarto: the figures' declared alt text (as for pandoc) and,
    for a Reveal theme Quarto renders differently, the SCSS that restates it (QUARTO_THEMES).
    Quarto merges this file over _quarto.yml (src/command/render/flags.ts, render-contexts.ts)
    and resolves a theme path against the document's directory (format-reveal-theme.ts)."""
    meta = json.loads(figure_metadata_text(root, figures))
    meta["filters"] = [str(FILTER)]  # concatenated with _quarto.yml's (src/core/config.ts, mergeArrayCustomizer)
    theme = (((config.get("format") or {}).get("revealjs")) or {}).get("theme")
    if isinstance(theme, str) and theme in QUARTO_THEMES:
        scss = os.path.relpath(TEMPLATES / QUARTO_THEMES[theme], sources[0].parent)
        meta["format"] = {"revealjs": {"theme": scss}}
    path = staging.parent / f"{staging.name}.quarto-meta.json"
    path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return path


def render_quarto(root: Path, config: dict, sources: list[Path], figures: dict, staging: Path) -> None:
    """`quarto render` into `staging`, then the deck moved up to `staging/index.html`."""
    try:
        out = subprocess.run(["quarto", "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"`quarto --version` failed: {exc}", tip="check the Quarto install, or use --renderer pandoc") from None
    if _version(out) < QUARTO_MIN:
        raise RenderError(f"Quarto {out.strip()} is older than {'.'.join(map(str, QUARTO_MIN))}",
                          tip="upgrade Quarto, or use --renderer pandoc")
    meta = quarto_metadata(root, config, figures, staging, sources)
    try:
        _run(["quarto", "render", "--output-dir", staging.relative_to(root).as_posix(),
              "--metadata-file", str(meta)], root, "quarto render", show_stderr=False, memory=False)
    finally:
        meta.unlink(missing_ok=True)
    # Quarto mirrors the project's layout: slides/index.qmd -> <output-dir>/slides/index.html
    # (src/command/render/project.ts, "move the renderedFile to the output dir").
    deck_dir = staging / sources[0].parent.relative_to(root)
    if deck_dir != staging and deck_dir.is_dir():
        for item in sorted(deck_dir.iterdir()):
            if (staging / item.name).exists():
                raise RenderError(f"Quarto wrote both {item.relative_to(staging)} and {item.name} into the site",
                                  tip=f"rename {item.name} in the project")
            os.rename(item, staging / item.name)
        deck_dir.rmdir()
    if not (staging / (sources[0].stem + ".html")).is_file():
        raise RenderError(f"quarto render wrote no {sources[0].stem}.html for {sources[0].relative_to(root)}")


# -- pandoc ---------------------------------------------------------------------------------
def pandoc_path() -> str:
    """The pandoc that the pypandoc-binary wheel ships (found without importing pypandoc,
    which is slow to import), else one on PATH."""
    import importlib.util

    spec = importlib.util.find_spec("pypandoc")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "files" / "pandoc"
        if candidate.is_file():
            return str(candidate)
    path = shutil.which("pandoc")
    if not path:
        raise RenderError("pandoc not found", tip="pip install pypandoc-binary (it ships pandoc)")
    found = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    if _version(found) < PANDOC_MIN:
        raise RenderError(f"{path} is pandoc {found.split(chr(10))[0].split()[-1] if found else '?'}, older than "
                          f"{'.'.join(map(str, PANDOC_MIN))}", tip="pip install pypandoc-binary (it ships pandoc 3.9)")
    return path


def pandoc_args(config: dict, lines: dict, source: Path, site: Path, figure_meta: Path) -> list[str]:
    fmt = ((config.get("format") or {}).get("revealjs")) or {}
    if not isinstance(fmt, dict):
        raise ConfigError(f"{CONFIG}: format.revealjs must be a mapping of options")
    args = [pandoc_path(), source.name, "--from", "markdown", "--to", "revealjs", "--standalone",
            "--output", str(site / (source.stem + ".html")), "--variable", "revealjs-url=reveal.js",
            "--lua-filter", str(FILTER),
            "--metadata-file", str(figure_meta), "--slide-level", str(fmt.get("slide-level", 2))]
    lang = config.get("lang") or fmt.get("lang") or "fr"
    args += ["--metadata", f"lang={lang}"]
    for key, value in fmt.items():
        where = f"{CONFIG}:{lines.get(str(key), '?')}"
        if key == "theme" and isinstance(value, str) and value in REMOTE_FONT_THEMES:
            raise ConfigError(f"{where}: theme {value!r} loads its fonts from Google Fonts, so the deck would "
                              "not work offline", tip="use white, black, serif, dracula or a theme of your own")
        if key == "theme" and (not isinstance(value, str) or value not in reveal_themes()):
            offline = ", ".join(sorted(reveal_themes() - REMOTE_FONT_THEMES))
            raise ConfigError(f"{where}: format.revealjs.theme: expected a theme of Reveal.js {REVEAL_VERSION} "
                              f"({offline}), not {_shown(value)}",
                              tip="a theme file (.scss) needs Quarto (--renderer quarto); css: restyles a theme")
        if key in REVEAL_VARIABLES:
            value = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["--variable", f"{REVEAL_VARIABLES[key]}={value}"]
        elif key == "html-math-method":
            method = value if isinstance(value, str) else (value or {}).get("method")
            if method != "mathml":
                raise ConfigError(f"{where}: html-math-method {method!r} needs network assets with the pandoc renderer",
                                  tip="use `html-math-method: mathml` (offline, rendered by the browser)")
            args.append("--mathml")
        elif key == "css":
            for css in [value] if isinstance(value, str) else value:
                args += ["--css", Path(css).name]
        elif key == "incremental" and value:
            args.append("--incremental")
        elif key == "toc" and value:
            args.append("--toc")
        elif key in PANDOC_BEHAVIOUR:
            if value != PANDOC_BEHAVIOUR[key]:
                raise ConfigError(f"{where}: {key}: {value!r} is not supported by the pandoc renderer, which "
                                  f"behaves as {key}: {str(PANDOC_BEHAVIOUR[key]).lower()}",
                                  tip=f"set {key}: {str(PANDOC_BEHAVIOUR[key]).lower()}, or render with Quarto")
        elif key in HANDLED or key in QUARTO_ONLY_OK:
            continue
        else:
            raise ConfigError(f"{where}: format option {key!r} is not supported by the pandoc renderer",
                              tip="remove it, or render with Quarto (--renderer quarto)")
    return args


def check_pandoc(root: Path, config: dict, lines: dict, sources: list[Path]) -> None:
    """Fail on what the pandoc path cannot render before any figure is computed."""
    for source in sources:
        pandoc_args(config, lines, source, root / SITE, root / SITE / "meta.json")
    _css_files(root, config, lines, sources)


def _css_files(root: Path, config: dict, lines: dict, sources: list[Path]) -> list[Path]:
    css = (((config.get("format") or {}).get("revealjs")) or {}).get("css") or []
    found = []
    for name in [css] if isinstance(css, str) else css:
        src = _css_source(root, sources, name)
        if not src.is_file():
            raise ConfigError(f"{CONFIG}:{lines.get('css', '?')}: css file {name} not found",
                              tip="css paths are relative to the project (or to the slides directory)")
        found.append(src)
    return found


def _css_source(root: Path, sources: list[Path], name: str) -> Path:
    """Where a `css:` file is: beside the slides, else relative to the project."""
    beside = sources[0].parent / name
    return beside if beside.exists() else root / name


_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(px|pt|pc|in|cm|mm)?\s*$")
_PX_PER = {None: 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4}


def _css_px(value: str | None) -> float | None:
    m = _LENGTH.match(value or "")
    return float(m[1]) * _PX_PER[m[2]] if m else None


def intrinsic_size(path: Path) -> tuple[int, int] | None:
    """(width, height) in CSS px of an SVG (its root width/height: matplotlib writes pt, and a
    pt is 96/72 px; else its viewBox) or a PNG (its IHDR); None for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        return (w, h) if w and h else None
    if path.suffix.lower() != ".svg":
        return None
    m = re.search(rb"<svg\b[^>]*>", head, re.S)
    if not m:
        return None
    attrs = {k.decode(): v.decode("utf-8", "replace")
             for k, v in re.findall(rb"([\w:-]+)\s*=\s*[\"']([^\"']*)[\"']", m.group(0))}
    w, h = _css_px(attrs.get("width")), _css_px(attrs.get("height"))
    if not (w and h):
        box = (attrs.get("viewBox") or "").replace(",", " ").split()
        try:
            w, h = float(box[2]), float(box[3])
        except (IndexError, ValueError):
            return None
    return (round(w), round(h)) if w > 0 and h > 0 else None


def figure_metadata_text(root: Path, figures: dict) -> str:
    """Declared alt text and captions for the Lua filter (an image without fig-alt gets its
    figure's), and each materialised output's intrinsic size in px (`sizes`), so that an image
    carries its box before it loads."""
    data = {}
    for n, s in figures.items():
        sizes = {}
        for out in getattr(s, "outputs", ()):
            size = intrinsic_size(root / "slides" / "_figures" / n / out)
            if size:
                sizes[out] = {"width": size[0], "height": size[1]}
        data[n] = {"alt": s.alt, "caption": s.caption, "sizes": sizes}
    return json.dumps({"ces-figures": data}, ensure_ascii=False)


def write_figure_metadata(site: Path, figures: dict, root: Path | None = None) -> Path:
    meta = site / ".ces-figures.json"
    meta.write_text(figure_metadata_text(root or site.parent, figures), encoding="utf-8")
    return meta


def render_pandoc(root: Path, config: dict, lines: dict, sources: list[Path], figures: dict,
                  site: Path | None = None) -> Path:
    from .assets import install_reveal

    site = site or root / SITE
    site.mkdir(exist_ok=True)
    meta = site.parent / f"{site.name}.pandoc-meta.json"
    meta.write_text(figure_metadata_text(root, figures), encoding="utf-8")
    try:
        for source in sources:
            args = pandoc_args(config, lines, source, site, meta)
            if _uses_citations(source):
                args.append("--citeproc")
            _run(args, source.parent, "pandoc")
    finally:
        meta.unlink(missing_ok=True)
    for src in _css_files(root, config, lines, sources):
        shutil.copy2(src, site / src.name)
    install_reveal(site)
    return site / "index.html"


def _uses_citations(source: Path) -> bool:
    head = source.read_text(encoding="utf-8")[:4000]
    return "bibliography:" in head


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


# -- the site: stamp, manifest, staging, swap ---------------------------------------------
def render_stamp(root: Path, renderer: str, outcomes: dict) -> str:
    """Everything the rendered deck depends on: slides, config, filter, figure keys, ces."""
    from . import __version__, publish
    from .cache import digest_json, sha256_file

    files = {}
    for path in sorted((root / "slides").rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith("slides/_figures/"):
            files[rel] = sha256_file(path)
    files[CONFIG] = sha256_file(root / CONFIG)
    for name, path in (("filter", FILTER),
                       ("publish", Path(publish.__file__)), ("render", Path(__file__))):
        files[name] = sha256_file(path)
    for path in sorted(p for p in TEMPLATES.glob("*") if p.is_file()):  # templates/new/: ces new's, not the deck's
        files[f"templates/{path.name}"] = sha256_file(path)
    return digest_json({"renderer": renderer, "ces": __version__, "files": files,
                        "figures": {n: o.entry.key for n, o in sorted(outcomes.items()) if o.entry is not None}})


def _site_files(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*") if p.is_file() and not p.is_symlink() and p.name != SITE_MANIFEST)


def write_site_manifest(site: Path, stamp: str) -> None:
    from .cache import sha256_file

    files = {}
    for p in _site_files(site):
        st = p.stat()
        files[p.relative_to(site).as_posix()] = [st.st_size, st.st_mtime_ns, sha256_file(p)]
    (site / SITE_MANIFEST).write_text(json.dumps({"stamp": stamp, "files": files}, indent=0), encoding="utf-8")


def site_problem(site: Path, stamp: str) -> str | None:
    """Why `site` is not the deck `stamp` describes (None: it is). A file whose size and mtime
    are those recorded is trusted; any other is hashed."""
    from .cache import sha256_file

    try:
        manifest = json.loads((site / SITE_MANIFEST).read_text(encoding="utf-8"))
        files, recorded = manifest["files"], manifest["stamp"]
        if not isinstance(files, dict):
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
    for rel, size, mtime, digest in records:
        p = site / rel
        try:
            st = os.lstat(p)
        except OSError:
            return f"{rel} is missing"
        if not p.is_file() or p.is_symlink():
            return f"{rel} is not a file"
        if (st.st_size, st.st_mtime_ns) != (size, mtime) and sha256_file(p) != digest:
            return f"{rel} was changed"
    for p in _site_files(site):  # e.g. _site/slides/ of a `quarto render` run by hand
        rel = p.relative_to(site).as_posix()
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


def render_site(root: Path, which: str, config: dict, lines: dict, sources: list[Path], figures: dict,
                outcomes: dict) -> str:
    """Render the deck unless _site/ already is what it would be; returns what was done."""
    from . import publish

    outcomes = complete_outcomes(root, figures, outcomes)
    stamp = render_stamp(root, which, outcomes)
    site = root / SITE
    if site.is_dir() and not site.is_symlink() and site_problem(site, stamp) is None:
        return "up to date"
    t = time.perf_counter()
    base = root / STAGING
    shutil.rmtree(base, ignore_errors=True)  # what a killed build left (we hold the build lock)
    base.mkdir(parents=True)
    staging = base / f"site-{os.getpid()}"
    staging.mkdir()
    if which == "quarto":
        render_quarto(root, config, sources, figures, staging)
    else:
        render_pandoc(root, config, lines, sources, figures, staging)
    copy_figures(root, staging)
    publish.finalize_site(root, staging, figures, outcomes)
    write_site_manifest(staging, stamp)
    _swap_in(staging, site)
    shutil.rmtree(base, ignore_errors=True)
    return f"rendered with {which} in {time.perf_counter() - t:.1f} s"
