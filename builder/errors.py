"""Exceptions a user sees. Each prints as one line, plus an optional tip.

    CesError (click.ClickException, exit 1)
     ├── ConfigError       _quarto.yml or a CLI option is wrong
     ├── FigureError       a figure script's declaration is wrong (file:line)
     ├── SlideError        a slide uses a construct or a figure that does not exist (file:line)
     ├── BuildError        a figure failed, timed out or produced bad outputs
     ├── StaleError        --frozen found figures that would need computing
     └── RenderError       Quarto or pandoc failed, or is missing/too old

Only cli.main formats them; nothing here prints.
"""

from __future__ import annotations

import click


class CesError(click.ClickException):
    """Base class: a message, an optional next step, an exit code."""

    exit_code = 1

    def __init__(self, message: str, tip: str | None = None):
        super().__init__(message)
        self.tip = tip

    def show(self, file=None) -> None:
        click.secho(f"Error: {self.format_message()}", err=True, fg="red")
        if self.tip:
            click.secho(f"Tip: {self.tip}", err=True, fg="yellow")


class ConfigError(CesError):
    """Raised while reading _quarto.yml or checking command-line options."""


class FigureError(CesError):
    """Raised by figures.discover for a bad FIGURE declaration; names file and line."""


class SlideError(CesError):
    """Raised by slides.check for an unsupported construct or an unknown figure."""


class BuildError(CesError):
    """Raised by the runner when one or more figures failed."""


class StaleError(CesError):
    """Raised by `ces build --frozen` when any figure would need computing."""

    exit_code = 3


class RenderError(CesError):
    """Raised by render when the renderer is missing, too old, or fails."""

    exit_code = 4


class Detached(CesError):
    """A Slurm job runs on while the build that waited for it was interrupted; the next build
    re-attaches to it. Raised in the waiting thread only, never shown."""
