"""The embedded renderer: pandoc (the pypandoc-binary wheel's, else one on PATH) with the pinned
Reveal.js assets (builder.assets), for when Quarto is not installed.

It understands the format.revealjs options below; any other is an error naming its line
(`check`, before any figure runs), so that the two renderers never silently disagree.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .assets import REMOTE_FONT_THEMES, REVEAL_VERSION, reveal_themes
from .config import shown
from .deck import FILTER, Deck, run_renderer, version, write_figure_metadata
from .errors import ConfigError, RenderError

PANDOC_MIN = (3, 1)
# revealjs format option -> Reveal.js/pandoc template variable
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
    if version(found) < PANDOC_MIN:
        raise RenderError(f"{path} is pandoc {found.split(chr(10))[0].split()[-1] if found else '?'}, older than "
                          f"{'.'.join(map(str, PANDOC_MIN))}", tip="pip install pypandoc-binary (it ships pandoc 3.9)")
    return path


def pandoc_args(deck: Deck, source: Path, site: Path, figure_meta: Path) -> list[str]:
    """pandoc's command line for one slide file; a ConfigError for an option it cannot render."""
    fmt = deck.options
    args = [pandoc_path(), source.name, "--from", "markdown", "--to", "revealjs", "--standalone",
            "--output", str(site / (source.stem + ".html")), "--variable", "revealjs-url=reveal.js",
            "--lua-filter", str(FILTER),
            "--metadata-file", str(figure_meta), "--slide-level", str(fmt.get("slide-level", 2)),
            "--metadata", f"lang={deck.lang}"]
    for key, value in fmt.items():
        where = deck.where(key)
        if key == "theme" and isinstance(value, str) and value in REMOTE_FONT_THEMES:
            raise ConfigError(f"{where}: theme {value!r} loads its fonts from Google Fonts, so the deck would "
                              "not work offline", tip="use white, black, serif, dracula or a theme of your own")
        if key == "theme" and (not isinstance(value, str) or value not in reveal_themes()):
            offline = ", ".join(sorted(reveal_themes() - REMOTE_FONT_THEMES))
            raise ConfigError(f"{where}: format.revealjs.theme: expected a theme of Reveal.js {REVEAL_VERSION} "
                              f"({offline}), not {shown(value)}",
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
            args += [a for css in deck.css_names() for a in ("--css", Path(css).name)]
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


def _uses_citations(source: Path) -> bool:
    return "bibliography:" in source.read_text(encoding="utf-8")[:4000]


class Pandoc:
    """The Renderer (builder.deck) for the embedded pandoc."""

    name = "pandoc"

    def check(self, deck: Deck) -> None:
        for source in deck.sources:
            pandoc_args(deck, source, deck.root / "_site", deck.root / "_site" / "meta.json")
        deck.css_files()

    def render(self, deck: Deck, figures: dict, staging: Path) -> None:
        from .assets import install_reveal

        staging.mkdir(exist_ok=True)
        meta = write_figure_metadata(staging.parent / f"{staging.name}.pandoc-meta.json", deck.root, figures)
        try:
            for source in deck.sources:
                args = pandoc_args(deck, source, staging, meta)
                if _uses_citations(source):
                    args.append("--citeproc")
                run_renderer(args, source.parent, "pandoc")
        finally:
            meta.unlink(missing_ok=True)
        for src in deck.css_files():
            shutil.copy2(src, staging / src.name)
        install_reveal(staging)
