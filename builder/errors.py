"""Exceptions a user sees, and the exit codes of `ces`. Each prints as one line, plus an
optional tip; only cli.main formats them (Click's ClickException.show), nothing here prints.

    CesError (click.ClickException)                         exit code (ExitCode)
     ├── ConfigError      _quarto.yml, ces.yml, llm.yml or an option is wrong      CONFIG 5
     ├── FigureError      a figure script's declaration is wrong (file:line)      CONFIG 5
     ├── SlideError       a slide uses a construct or figure that does not exist  CONFIG 5
     ├── BuildError       a figure failed, timed out or produced bad outputs      FIGURE_FAILED 1
     ├── StaleError       --frozen found figures that would need computing        STALE 3
     ├── RenderError      Quarto or pandoc failed, or is missing/too old          RENDER 4
     ├── VerifyError      `ces verify`: a figure was not reproduced               VERIFY_MISMATCH 6
     ├── SandboxError     the sandbox could not run untrusted code at all         FIGURE_FAILED 1
     ├── LLMError         a configured model gave no answer                       FIGURE_FAILED 1
     │    ├── LLMUnavailable (── LLMTimeout)   cannot be reached or loaded
     │    ├── LLMHTTPError                     an HTTP error status (.status)
     │    └── LLMMalformedAnswer               not a chat-completions answer
     └── Detached         a Slurm job runs on after Ctrl-C (never shown)          INTERRUPTED 130
Usage errors (an unknown option or choice) are Click's own: USAGE 2. Ctrl-C: INTERRUPTED 130.
"""

from __future__ import annotations

import enum

import click


class ExitCode(enum.IntEnum):
    """What `ces` exits with (README, "Exit codes")."""

    OK = 0
    FIGURE_FAILED = 1     # a figure failed (ran and crashed, timed out, bad outputs)
    USAGE = 2             # click: unknown option, bad choice
    STALE = 3             # --frozen: a figure would need computing
    RENDER = 4            # Quarto or pandoc failed or is missing
    CONFIG = 5            # bad input: _quarto.yml, ces.yml, llm.yml, a FIGURE, a slide
    VERIFY_MISMATCH = 6   # `ces verify`: outputs differ from the cache
    INTERRUPTED = 130     # Ctrl-C (128 + SIGINT)


class CesError(click.ClickException):
    """Base class: a message, an optional next step, an exit code."""

    exit_code = ExitCode.FIGURE_FAILED

    def __init__(self, message: str, tip: str | None = None):
        super().__init__(message)
        self.tip = tip

    def describe(self) -> str:
        """The message and its tip as plain text (what `show` prints, for a preview's page)."""
        return self.format_message() + (f"\nTip: {self.tip}" if self.tip else "")

    def show(self, file=None) -> None:
        click.secho(f"Error: {self.format_message()}", err=True, fg="red")
        if self.tip:
            click.secho(f"Tip: {self.tip}", err=True, fg="yellow")


class ConfigError(CesError):
    """Raised while reading _quarto.yml, ces.yml, llm.yml or checking command-line options."""

    exit_code = ExitCode.CONFIG


class FigureError(CesError):
    """Raised by figures.discover for a bad FIGURE declaration; names file and line."""

    exit_code = ExitCode.CONFIG


class SlideError(CesError):
    """Raised by slides.check for an unsupported construct or an unknown figure."""

    exit_code = ExitCode.CONFIG


class BuildError(CesError):
    """Raised by the runner when one or more figures failed."""

    exit_code = ExitCode.FIGURE_FAILED


class StaleError(CesError):
    """Raised by `ces build --frozen` when any figure would need computing."""

    exit_code = ExitCode.STALE


class RenderError(CesError):
    """Raised by render when the renderer is missing, too old, or fails."""

    exit_code = ExitCode.RENDER


class VerifyError(CesError):
    """Raised by `ces verify` when a figure's recomputed outputs differ from its entry."""

    exit_code = ExitCode.VERIFY_MISMATCH


class SandboxError(CesError):
    """The sandbox itself could not run the code (not: the code failed)."""


class LLMError(CesError):
    """A configured model could not give an answer; one line, plus a tip."""


class LLMUnavailable(LLMError):
    """The model cannot be reached or loaded (no server, not in the local cache, no key)."""


class LLMTimeout(LLMUnavailable):
    """The endpoint did not answer in time, after the configured retries."""


class LLMHTTPError(LLMError):
    """The endpoint answered with an HTTP error status."""

    def __init__(self, message: str, status: int, tip: str | None = None):
        super().__init__(message, tip)
        self.status = status


class LLMMalformedAnswer(LLMError):
    """The endpoint answered something that is not a chat-completions answer."""


class Detached(CesError):
    """A Slurm job runs on while the build that waited for it was interrupted; the next build
    re-attaches to it. Raised in the waiting thread only, never shown."""

    exit_code = ExitCode.INTERRUPTED
