"""The Quarto renderer: `quarto render` of the project into the staging directory, given the
figures' metadata and the Lua filter, the deck then moved up to staging/index.html."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .deck import FILTER, TEMPLATES, Deck, run_renderer, version, write_figure_metadata
from .errors import RenderError

QUARTO_MIN = (1, 4, 0)
QUARTO_THEMES = {"white": "reveal-white.scss"}  # theme -> Quarto SCSS restating Reveal's own (builder/templates)


def quarto_metadata(deck: Deck, figures: dict, staging: Path) -> Path:
    """The --metadata-file ces gives Quarto: the figures' declared alt text (as for pandoc) and,
    for a Reveal theme Quarto renders differently, the SCSS that restates it (QUARTO_THEMES).
    Quarto merges this file over _quarto.yml (src/command/render/flags.ts, render-contexts.ts)
    and resolves a theme path against the document's directory (format-reveal-theme.ts)."""
    extra = {"filters": [str(FILTER)]}  # concatenated with _quarto.yml's (src/core/config.ts, mergeArrayCustomizer)
    theme = deck.options.get("theme")
    if isinstance(theme, str) and theme in QUARTO_THEMES:
        scss = os.path.relpath(TEMPLATES / QUARTO_THEMES[theme], deck.sources[0].parent)
        extra["format"] = {"revealjs": {"theme": scss}}
    return write_figure_metadata(staging.parent / f"{staging.name}.quarto-meta.json", deck.root, figures, extra)


class Quarto:
    """The Renderer (builder.deck) for Quarto."""

    name = "quarto"

    def check(self, deck: Deck) -> None:
        pass  # Quarto reads every option itself; its version is checked when it renders

    def render(self, deck: Deck, figures: dict, staging: Path) -> None:
        """`quarto render` into `staging`, then the deck moved up to `staging/index.html`."""
        root, first = deck.root, deck.sources[0]
        try:
            out = subprocess.run(["quarto", "--version"], capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RenderError(f"`quarto --version` failed: {exc}",
                              tip="check the Quarto install, or use --renderer pandoc") from None
        if version(out) < QUARTO_MIN:
            raise RenderError(f"Quarto {out.strip()} is older than {'.'.join(map(str, QUARTO_MIN))}",
                              tip="upgrade Quarto, or use --renderer pandoc")
        meta = quarto_metadata(deck, figures, staging)
        try:
            run_renderer(["quarto", "render", "--output-dir", staging.relative_to(root).as_posix(),
                          "--metadata-file", str(meta)], root, "quarto render", show_stderr=False, memory=False)
        finally:
            meta.unlink(missing_ok=True)
        # Quarto mirrors the project's layout: slides/index.qmd -> <output-dir>/slides/index.html
        # (src/command/render/project.ts, "move the renderedFile to the output dir").
        deck_dir = staging / first.parent.relative_to(root)
        if deck_dir != staging and deck_dir.is_dir():
            for item in sorted(deck_dir.iterdir()):
                if (staging / item.name).exists():
                    raise RenderError(f"Quarto wrote both {item.relative_to(staging)} and {item.name} into the site",
                                      tip=f"rename {item.name} in the project")
                os.rename(item, staging / item.name)
            deck_dir.rmdir()
        if not (staging / (first.stem + ".html")).is_file():
            raise RenderError(f"quarto render wrote no {first.stem}.html for {first.relative_to(root)}")
