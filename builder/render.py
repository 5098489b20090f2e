"""Render the slides into _site/: with Quarto when it is on PATH, else with the embedded
pandoc (pypandoc-binary) and the pinned Reveal.js assets. Both read _quarto.yml.

The pandoc path understands the options below; any other format option is an error naming
its line in _quarto.yml, so that the two paths never silently disagree.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from .assets import REMOTE_FONT_THEMES
from .errors import ConfigError, RenderError

QUARTO_MIN = (1, 4, 0)
PANDOC_MIN = (3, 1)
CONFIG = "_quarto.yml"
SITE = "_site"

# revealjs format option -> Reveal.js/pandoc template variable (pandoc path)
REVEAL_VARIABLES = {
    "theme": "theme", "transition": "transition", "slide-number": "slideNumber", "hash": "hash",
    "controls": "controls", "progress": "progress", "center": "center", "width": "width",
    "height": "height", "margin": "margin", "navigation-mode": "navigationMode", "history": "history",
    "show-notes": "showNotes", "pdf-separate-fragments": "pdfSeparateFragments",
    "background-transition": "backgroundTransition", "fragments": "fragments", "overview": "overview",
}
HANDLED = {"html-math-method", "css", "incremental", "slide-level", "lang", "toc", "bibliography", "csl"}
QUARTO_ONLY_OK = {"embed-resources", "preview-links", "menu", "footer", "logo", "code-line-numbers"}


# -- configuration ------------------------------------------------------------------------
def load_config(root: Path) -> tuple[dict, dict]:
    """(_quarto.yml as data, line number of each `format.revealjs` key)."""
    import yaml

    path = root / CONFIG
    if not path.is_file():
        raise ConfigError(f"{CONFIG} not found in {root}", tip="run ces from the deck's directory")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{CONFIG}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG}:1: expected a mapping at the top level")
    lines = {}
    for key, value in (node.value if node is not None else []):
        if key.value == "format" and hasattr(value, "value"):
            for fkey, fval in value.value:
                if fkey.value == "revealjs" and isinstance(fval.value, list):
                    lines = {k.value: k.start_mark.line + 1 for k, _ in fval.value}
    return data, lines


def deck_sources(root: Path, config: dict) -> list[Path]:
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


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except OSError as exc:
        raise RenderError(f"could not start {what}: {exc}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RenderError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    if proc.stderr.strip():
        for line in proc.stderr.strip().splitlines():
            print(f"  {what}: {line}")


# -- Quarto ---------------------------------------------------------------------------------
def render_quarto(root: Path) -> Path:
    out = subprocess.run(["quarto", "--version"], capture_output=True, text=True).stdout
    if _version(out) < QUARTO_MIN:
        raise RenderError(f"Quarto {out.strip()} is older than {'.'.join(map(str, QUARTO_MIN))}",
                          tip="upgrade Quarto, or use --renderer pandoc")
    _run(["quarto", "render"], root, "quarto render")
    site = root / SITE
    if not (site / "index.html").exists() and (site / "slides" / "index.html").exists():
        (site / "index.html").write_text('<!doctype html><meta http-equiv="refresh" content="0; url=slides/">\n')
    return site / "index.html"


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
            "--lua-filter", str(Path(__file__).parent / "filters" / "ces.lua"),
            "--metadata-file", str(figure_meta), "--slide-level", str(fmt.get("slide-level", 2))]
    lang = config.get("lang") or fmt.get("lang") or "fr"
    args += ["--metadata", f"lang={lang}"]
    for key, value in fmt.items():
        where = f"{CONFIG}:{lines.get(key, '?')}"
        if key == "theme" and value in REMOTE_FONT_THEMES:
            raise ConfigError(f"{where}: theme {value!r} loads its fonts from Google Fonts, so the deck would "
                              "not work offline", tip="use white, black, serif, dracula or a theme of your own")
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
        src = (sources[0].parent / name) if (sources[0].parent / name).exists() else root / name
        if not src.is_file():
            raise ConfigError(f"{CONFIG}:{lines.get('css', '?')}: css file {name} not found",
                              tip="css paths are relative to the project (or to the slides directory)")
        found.append(src)
    return found


def write_figure_metadata(site: Path, figures: dict) -> Path:
    """Declared alt text and captions, for the Lua filter (an image without fig-alt gets its figure's)."""
    meta = site / ".ces-figures.json"
    meta.write_text(json.dumps({"ces-figures": {n: {"alt": s.alt, "caption": s.caption}
                                                for n, s in figures.items()}}, ensure_ascii=False),
                    encoding="utf-8")
    return meta


def render_pandoc(root: Path, config: dict, lines: dict, sources: list[Path], figures: dict) -> Path:
    from .assets import install_reveal

    site = root / SITE
    site.mkdir(exist_ok=True)
    meta = write_figure_metadata(site, figures)
    for source in sources:
        args = pandoc_args(config, lines, source, site, meta)
        if _uses_citations(source):
            args.append("--citeproc")
        _run(args, source.parent, "pandoc")
    for src in _css_files(root, config, lines, sources):
        shutil.copy2(src, site / src.name)
    install_reveal(site)
    meta.unlink()
    return site / "index.html"


def _uses_citations(source: Path) -> bool:
    head = source.read_text(encoding="utf-8")[:4000]
    return "bibliography:" in head


def copy_figures(root: Path) -> None:
    """Figures materialised in slides/_figures go beside the HTML, as Quarto does."""
    src, dst = root / "slides" / "_figures", root / SITE / "_figures"
    if dst.exists():
        shutil.rmtree(dst)
    if src.exists():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".key"))
