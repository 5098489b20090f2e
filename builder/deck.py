"""The deck: _quarto.yml read and checked, and the slide files it renders; the Renderer
interface both renderers implement (builder.pandoc, builder.quarto) and what they share (the
Lua filter and the figures' metadata it reads, running a renderer under limits).

    deck = load(root)          # a Deck: every field of _quarto.yml that ces reads is checked
    deck.options               # format.revealjs
    deck.where("width")        # "_quarto.yml:12", for a renderer's own errors

Every field ces reads is checked before any figure runs, for both renderers, with
builder.config's helper: `_quarto.yml:LINE: field: expected …, not …`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .config import MAPPING, MISSING, TEXT, TEXTS, Kind, any_of, choice, expect, flag, number, refuse
from .errors import ConfigError
from .files import PROJECT_FILE

SITE = "_site"                        # where the deck is rendered (project.output-dir)
FILTER = Path(__file__).parent / "filters" / "ces.lua"   # applied by both renderers (ces passes it)
TEMPLATES = Path(__file__).parent / "templates"
RENDER_TIMEOUT_S = 600                # a renderer running longer is killed
RENDER_MEMORY_BYTES = 4 * 2**30       # address space of pandoc (RLIMIT_AS)
DEFAULT_SOURCE = "slides/index.qmd"
TRANSITIONS = ("none", "fade", "slide", "convex", "concave", "zoom")
_PERCENT = re.compile(r"^\d+(\.\d+)?%$")
_SIZE = Kind(lambda v: number(min=0, above=True)(v) or isinstance(v, str) and bool(_PERCENT.match(v)),
             'a number of pixels (e.g. 1280) or a percentage (e.g. "100%")')
#: format.revealjs option -> what it accepts: Reveal.js' and Quarto's types.
OPTIONS = {
    "theme": Kind(TEXTS, "a theme name (e.g. white) or a list of theme files"),
    "transition": choice(*TRANSITIONS), "background-transition": choice(*TRANSITIONS),
    "slide-number": flag("h.v", "h/v", "c", "c/t"), "hash": flag(), "controls": flag("auto"),
    "progress": flag(), "center": flag(), "width": _SIZE, "height": _SIZE,
    "margin": Kind(number(min=0), "a number ≥ 0 (a fraction of the slide's size, e.g. 0.04)"),
    "navigation-mode": choice("linear", "vertical", "grid"), "history": flag(),
    "show-notes": flag("separate-page"), "pdf-separate-fragments": flag(), "fragments": flag(),
    "overview": flag(), "incremental": flag(), "toc": flag(),
    "slide-level": number(min=0, max=6, integer=True),
    "lang": TEXT, "css": Kind(TEXTS, "a CSS file or a list of CSS files"),
    "bibliography": Kind(TEXTS, "a file or a list of files"), "csl": TEXT,
    "html-math-method": Kind(lambda v: isinstance(v, str) or isinstance(v, dict) and isinstance(v.get("method"), str),
                             "a method (mathml) or a mapping with `method:`"),
    "auto-stretch": flag(), "code-line-numbers": Kind(lambda v: isinstance(v, (bool, str)), "true, false or lines"),
    "embed-resources": flag(), "preview-links": flag("auto"), "footer": TEXT, "logo": TEXT,
    "menu": any_of(flag(), MAPPING, what="true, false or a mapping of menu options"),
}
_EXAMPLE = "`format:`, then `  revealjs:` and its options (theme:, width:, …) indented below"


@dataclass(frozen=True)
class Deck:
    """_quarto.yml, checked, and what comes with it: passed whole to the renderers."""

    root: Path
    config: dict                 # _quarto.yml's data
    lines: dict                  # format.revealjs key -> its line in _quarto.yml
    sources: tuple[Path, ...]    # the slide files to render (project.render; default slides/index.qmd)

    @property
    def options(self) -> dict:
        """format.revealjs."""
        return self.config["format"]["revealjs"]

    @property
    def lang(self) -> str:
        return self.config.get("lang") or self.options.get("lang") or "fr"

    def where(self, key: str) -> str:
        """`_quarto.yml:LINE` of a format.revealjs option, for an error."""
        return f"{PROJECT_FILE}:{self.lines.get(str(key), '?')}"

    def css_names(self) -> list[str]:
        css = self.options.get("css") or []
        return [css] if isinstance(css, str) else list(css)

    def css_source(self, name: str) -> Path:
        """Where a `css:` file is: beside the slides, else relative to the project."""
        beside = self.sources[0].parent / name
        return beside if beside.exists() else self.root / name

    def css_files(self) -> list[Path]:
        found = []
        for name in self.css_names():
            src = self.css_source(name)
            if not src.is_file():
                raise ConfigError(f"{self.where('css')}: css file {name} not found",
                                  tip="css paths are relative to the project (or to the slides directory)")
            found.append(src)
        return found


class Renderer(Protocol):
    """Quarto or the embedded pandoc; builder.site.renderer(name) picks one."""

    name: str

    def check(self, deck: Deck) -> None:
        """Fail (ConfigError, RenderError) on what this renderer cannot render, before any figure runs."""

    def render(self, deck: Deck, figures: dict, staging: Path) -> None:
        """Render the deck into `staging`, the deck itself at staging/index.html."""


# -- reading _quarto.yml ------------------------------------------------------------------------------
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
        raise ConfigError(f"{PROJECT_FILE}: cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{PROJECT_FILE}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}): expected UTF-8 text",
                          tip="save the file as UTF-8") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{PROJECT_FILE}{line}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise ConfigError(f"{PROJECT_FILE}:1: invalid YAML: nested too deeply to be a configuration") from None
    finally:
        loader.dispose()
    return data, node


def load(root: Path) -> Deck:
    """The deck of `root`: _quarto.yml read and every field ces reads checked."""
    path = root / PROJECT_FILE
    if not path.is_file():
        raise ConfigError(f"{PROJECT_FILE} not found in {root}", tip="run ces from the deck's directory")
    data, node = _parse(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{PROJECT_FILE}:1: expected a mapping at the top level, not {type(data).__name__}")
    _check(root, data, node)
    options = data["format"]["revealjs"]
    deck = Deck(root, data, {str(k): _line(node, ["format", "revealjs", k]) for k in options}, _sources(root, data))
    for name in deck.css_names():
        src = deck.css_source(name)
        if Path(name).is_absolute() or not src.resolve().is_relative_to(root.resolve()):
            refuse(name, "CSS files inside the project", _where(node, ["format", "revealjs", "css"]))
    return deck


def _where(node, keys, field=None) -> str:
    field = field or ".".join(str(k) for k in keys if not isinstance(k, int))
    return f"{PROJECT_FILE}:{_line(node, keys)}: {field}"


def _check(root: Path, data: dict, node) -> None:
    """A ConfigError `_quarto.yml:LINE: field: expected …` for the first field ces reads that has
    the wrong type or value."""
    project = expect(data.get("project", {}), Kind(MAPPING, "a mapping (type:, output-dir:, render:)"),
                     _where(node, ["project"]))
    expect(project.get("output-dir", SITE), Kind(lambda v: isinstance(v, str) and Path(v) == Path(SITE),
                                                 f"{SITE} (ces always writes the deck there)"),
           _where(node, ["project", "output-dir"]), tip=f"remove output-dir, or set it to {SITE}")
    render = project.get("render")
    if render is not None:
        expect(render, Kind(lambda v: isinstance(v, list), "a list of slide files, e.g. [slides/index.qmd]"),
               _where(node, ["project", "render"]),
               tip="write each file on a line of its own: `render:`, then `  - slides/index.qmd`")
        slides_dir = (root / "slides").resolve()
        for i, entry in enumerate(render):
            where = _where(node, ["project", "render", i])
            expect(entry, Kind(TEXT, "the path of a .qmd file"), where)
            expect(entry, Kind(lambda v: not Path(v).is_absolute() and (root / v).resolve().is_relative_to(slides_dir),
                               "a path inside slides/ (what ces watches and hashes)"), where)
            expect(entry, Kind(lambda v: Path(v).suffix in (".qmd", ".md"), "a .qmd or .md file"), where)
            if not (root / entry).is_file():
                raise ConfigError(f"{PROJECT_FILE}:{_line(node, ['project', 'render', i])}: project.render lists "
                                  f"{entry}, which does not exist")
    expect(data.get("lang", "fr"), Kind(TEXT, "a language tag, e.g. fr"), _where(node, ["lang"]))
    fmt = data.get("format", MISSING)
    expect(fmt, Kind(lambda v: isinstance(v, dict) and "revealjs" in v,
                     "a mapping with the deck's `revealjs:` options (ces renders a Reveal.js deck)"),
           _where(node, ["format"]), tip=f"write {_EXAMPLE}")
    for key in fmt:
        if key != "revealjs":
            refuse(key, "revealjs only (ces renders one Reveal.js deck)", _where(node, ["format", key], field="format"))
    options = expect(fmt["revealjs"], Kind(MAPPING, "a mapping of Reveal.js options (theme:, width:, …)"),
                     _where(node, ["format", "revealjs"]), tip=f"write {_EXAMPLE}")
    for key, value in options.items():
        if key in OPTIONS:
            expect(value, OPTIONS[key], _where(node, ["format", "revealjs", key]))


def _sources(root: Path, config: dict) -> tuple[Path, ...]:
    render = (config.get("project") or {}).get("render") or [DEFAULT_SOURCE]
    paths = tuple(root / p for p in render)
    for p in paths:
        if not p.is_file():
            raise ConfigError(f"{PROJECT_FILE}: project.render lists {p.relative_to(root)}, which does not exist")
    return paths


# -- what both renderers give the Lua filter ----------------------------------------------------------
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


def figure_metadata(root: Path, figures: dict) -> dict:
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
    return {"ces-figures": data}


def write_figure_metadata(path: Path, root: Path, figures: dict, extra: dict | None = None) -> Path:
    """figure_metadata (and `extra` keys) as the JSON --metadata-file both renderers are given."""
    path.write_text(json.dumps({**figure_metadata(root, figures), **(extra or {})}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def version(text: str) -> tuple[int, ...]:
    """The first `X.Y[.Z]` of a `--version` output, as a tuple."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in m.groups() if g is not None) if m else (0,)


def run_renderer(cmd: list[str], cwd: Path, what: str, show_stderr: bool = True, memory: bool = True) -> None:
    """Run a renderer through builder.launch: its own process group killed as a whole when it
    ends, at its time limit or when ces fails (Ctrl-C); PR_SET_PDEATHSIG kills it with ces, and
    what it left in sessions of its own is killed then, or by the next build (kill_orphans).
    `memory`: an address-space limit (pandoc; not Quarto, whose V8 reserves far more address
    space than it uses). Its output is shown when it fails; on success only when `show_stderr`
    (pandoc's warnings; Quarto's progress lines are not shown)."""
    from . import launch
    from .errors import RenderError

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
