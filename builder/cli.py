"""The `ces` command line: options and help only; the work is in builder.build and below.

Heavy modules are imported inside the commands, so `ces --help` and `ces status` never
import torch, transformers or matplotlib.
"""

from __future__ import annotations

import sys

import click

PROFILES = ("smoke", "quick", "full")
profile_help = "smoke: seconds (tests); quick: the default deck on a laptop CPU; full: a GPU."
frozen_help = ("Never compute: fail listing every stale figure (for CI and GitHub Pages). Entries built with "
               "other package versions are used, with a warning.")


def profile_option(f):
    return click.option("--profile", type=click.Choice(PROFILES), default="quick", show_default=True,
                        help=profile_help)(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ces")
def cli():
    """Build a Reveal.js deck whose every figure is recomputed from code.

    Figures are scripts in figures/; their outputs are cached in cache/ under a key made of
    everything that determines them (see README). Slides are in slides/.
    """


@cli.command()
@profile_option
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Figures computed at once (independent ones only).")
@click.option("--frozen", is_flag=True, help=frozen_help)
@click.option("--renderer", type=click.Choice(["auto", "quarto", "pandoc"]), default="auto", show_default=True,
              help="auto: Quarto when `quarto` is on PATH, else the embedded pandoc.")
@click.option("-k", "--keep-going", is_flag=True, help="Go on with independent figures after a failure.")
@click.argument("figures", nargs=-1)
def build(profile, jobs, frozen, renderer, keep_going, figures):
    """Compute stale figures, then render the deck into _site/.

    With FIGURES, only those (and what they need) are brought up to date.
    """
    from . import build as stage

    root = stage.find_root()
    if figures:
        _, _ = stage.status(root, profile, names=list(figures))  # validates the names
    stage.build(root, profile, jobs, frozen, renderer, keep_going, figures_wanted=list(figures) or None,
                echo=click.echo)


@cli.command()
@profile_option
@click.option("--frozen", is_flag=True, help="Judge as `ces build --frozen` would (package drift is a warning).")
@click.argument("figures", nargs=-1)
def status(profile, frozen, figures):
    """Say for each figure: fresh, stale (and which input changed) or missing."""
    from . import build as stage

    root = stage.find_root()
    specs, states = stage.status(root, profile, frozen=frozen, names=list(figures) or None)
    counts = {}
    for s in states.values():
        counts[s.state] = counts.get(s.state, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    click.echo(f"Profile {profile}: {len(states)} figures ({summary or 'none'})")
    width = max((len(n) for n in states), default=0)
    colours = {"fresh": "green", "stale": "yellow", "missing": "red", "corrupt": "red"}
    for name, s in states.items():
        label = click.style(f"{s.state:<8}", fg=colours.get(s.state))
        if s.state == "fresh":
            m = s.entry.manifest
            detail = f"{m.get('wall_time_s', 0):.1f} s on {m.get('device', '?')}, {m.get('date', '?')[:10]}, key {s.entry.key[:12]}"
        else:
            detail = "; ".join(s.reasons)
            if s.last_wall_time is not None:
                detail += f" (last run {s.last_wall_time:.1f} s)"
        click.echo(f"  {label} {name:<{width}}  {detail}")
        for w in s.warnings:
            click.echo(f"  {'':8} {'':<{width}}  warning: {w}")


cli.add_command(status, name="why")


@cli.command()
@profile_option
@click.argument("figures", nargs=-1)
def verify(profile, figures):
    """Recompute fresh figures into scratch and compare with the cache (byte-identical, or JSON
    numbers within the figure's declared tolerance)."""
    from . import build as stage
    from .verify import verify as run_verify

    root = stage.find_root()
    specs, _ = stage.status(root, profile, names=list(figures) or None)
    run_verify(root, specs, profile, names=list(figures) or None, echo=click.echo)


@cli.command()
@click.option("--unused", is_flag=True, help="Also delete cache entries that no profile uses any more.")
def clean(unused):
    """Remove _site/, materialised figures, logs and scratch (cache entries stay)."""
    from . import build as stage

    stage.clean(stage.find_root(), unused, echo=click.echo)


def main():
    try:
        cli.main(prog_name="ces", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - click turns it into Abort normally
        click.echo("Aborted!", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
