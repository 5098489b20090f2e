"""The `ces` command line: options and help only; the work is in builder.build and below.

Heavy modules are imported inside the commands, so `ces --help` and `ces status` never
import torch, transformers or matplotlib.
"""

from __future__ import annotations

import sys

import click

from .errors import ExitCode
from .profiles import DEFAULT, HELP, PROFILES

frozen_help = ("Never compute: fail listing every stale figure (for CI and GitHub Pages). Entries built with "
               "other package versions are used, with a warning.")


def profile_option(f):
    return click.option("--profile", type=click.Choice(PROFILES), default=DEFAULT, show_default=True,
                        help=HELP)(f)


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
@click.option("--executor", type=click.Choice(["local", "slurm"]), default=None,
              help="Where figures run: local subprocesses, or Slurm jobs through submitit (settings in "
                   "ces.yml, see README).  [default: ces.yml's `executor:`, else local]")
@click.option("--no-check", is_flag=True, envvar="CES_NO_CHECK",
              help="Do not run `ces check` on the rendered deck (it runs when Chromium is present).")
@click.argument("figures", nargs=-1)
def build(profile, jobs, frozen, renderer, keep_going, executor, no_check, figures):
    """Compute stale figures, then render the deck into _site/.

    With FIGURES, only those (and what they need) are brought up to date.
    """
    from . import build as stage
    from .executors import make_executor

    root = stage.find_root()
    if figures:
        _, _ = stage.status(root, profile, names=list(figures))  # validates the names
    runs_on = None if frozen else make_executor(root, executor, profile, echo=click.echo, confirm=click.confirm)
    import time

    started = time.time()
    stage.build(root, profile, jobs, frozen, renderer, keep_going, figures_wanted=list(figures) or None,
                echo=click.echo, executor=runs_on)
    if not no_check:
        from .check import check_after_build

        check_after_build(root, since=started, echo=click.echo)


@cli.command()
@click.option("--site", type=click.Path(file_okay=False, exists=True), default=None,
              help="The built deck to check  [default: _site/]")
@click.option("--screenshots", type=click.Path(file_okay=False), default=None,
              help="Also write a screenshot of every slide (its last fragment) into this directory.")
@click.option("--chromium", type=click.Path(dir_okay=False), default=None,
              help="Chromium to drive  [default: /usr/bin/chromium, or $CES_CHROMIUM, or on PATH]")
def check(site, screenshots, chromium):
    """Walk the built deck in Chromium (1280×720, every slide at every fragment) and report, per
    slide: content outside the slide, scrolling boxes, text under the size floors (HTML and SVG
    figures), images that did not load, figures misplaced after a direct jump."""
    from pathlib import Path

    from . import build as stage
    from .check import run
    from .errors import ConfigError
    from .render import SITE

    try:
        root = stage.find_root()
    except ConfigError:
        if site is None:
            raise
        root = None  # a deck outside any repository: default settings
    run(Path(site) if site else root / SITE, root, chromium=chromium,
        screenshot_dir=Path(screenshots) if screenshots else None, echo=click.echo)


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
    if not figures and (root / "llm.yml").is_file():
        from .llm import answer_status

        click.echo("LLM answers (llm.yml):")
        for query, state in answer_status(root).items():
            click.echo(f"  {query:<10} {state}")
    from .slurm import describe_jobs, job_files

    if job_files(root):  # submitted figures (ces build --executor slurm); only then is submitit imported
        jobs = describe_jobs(root, names=list(figures) or None)
        if jobs:
            click.echo(f"Jobs: {len(jobs)}")
        job_colours = {"queued": "yellow", "running": "cyan", "finished": "green", "failed": "red"}
        for name, phase, detail in jobs:
            click.echo(f"  {click.style(f'{phase:<8}', fg=job_colours.get(phase))} {name:<{width}}  {detail}")


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
    with stage.build_lock(root, click.echo):  # a build starting meanwhile would wipe the scratch
        run_verify(root, specs, profile, names=list(figures) or None, echo=click.echo)


@cli.command()
@click.option("--unused", is_flag=True, help="Also delete cache entries that no profile uses any more.")
def clean(unused):
    """Remove _site/, materialised figures, logs and scratch (cache entries stay)."""
    from . import build as stage

    stage.clean(stage.find_root(), unused, echo=click.echo)


@cli.group()
def llm():
    """LLM answers shown on slides: pinned in cache/llm/, re-asked only on request."""


@llm.command("refresh")
@click.argument("queries", nargs=-1)
def llm_refresh(queries):
    """Ask the configured model again (llm.yml) and pin its answer; all queries without QUERIES."""
    from . import build as stage
    from .llm import refresh_answers

    refresh_answers(list(queries) or None, root=stage.find_root(), echo=click.echo)


@llm.command("status")
def llm_status():
    """For each query: pinned (model, date), transcript of the original talk, or missing."""
    from . import build as stage
    from .llm import answer_status

    for query, state in answer_status(stage.find_root()).items():
        click.echo(f"  {query:<10} {state}")


@cli.command()
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True,
              help="The language of the slides (and of the figures' labels).")
@click.option("--title", default=None, help="The talk's title  [default: Mon exposé / My talk]")
@click.option("--author", default=None, help="The speaker's name, on the title slide.")
@click.argument("target", metavar="DIR | figure")
@click.argument("name", required=False)
def new(lang, title, author, target, name):
    """`ces new DIR`: a new talk repository in DIR (new or empty). `ces new figure NAME`: a
    figure script, figures/NAME.py, in the talk here. See docs/authoring.md."""
    from pathlib import Path

    from . import new as scaffold

    if target == "figure" and name:
        from . import build as stage

        root = stage.find_root()
        path = scaffold.create_figure(root, name)
        shown = name.replace("_", "-")
        click.echo(f"Wrote {path.relative_to(root)}: figure {shown}. Run it alone: python {path.relative_to(root)}; "
                   f"show it on a slide: ![](_figures/{shown}/{shown}.svg), then ces build")
        return
    if name:
        raise click.UsageError(f"unexpected argument {name!r}: ces new DIR, or ces new figure NAME")
    written = scaffold.create_talk(Path(target), lang=lang, title=title, author=author)
    click.echo(f"Wrote a new talk in {target} ({len(written)} files). Next: cd {target} && pip install -e . && ces build")


def main():
    """Run a command; a CesError (or Click's usage error) prints once and exits with its ExitCode,
    Ctrl-C exits INTERRUPTED (130) where Click's standalone mode would exit 1."""
    try:
        code = cli.main(prog_name="ces", standalone_mode=False)
    except click.ClickException as exc:   # CesError and UsageError: one line (and a tip)
        exc.show()
        code = exc.exit_code
    except (click.Abort, KeyboardInterrupt, EOFError):
        click.echo("Aborted!", err=True)
        code = ExitCode.INTERRUPTED
    finally:
        memo = sys.modules.get("builder.memo")  # facts about sources parsed by this command
        if memo is not None:
            memo.save()
    sys.exit(int(code) if isinstance(code, int) else ExitCode.OK)


@cli.command()
@profile_option
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Figures computed at once (independent ones only).")
@click.option("--renderer", type=click.Choice(["auto", "quarto", "pandoc"]), default="auto", show_default=True,
              help="auto: Quarto when `quarto` is on PATH, else the embedded pandoc.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--open", "open_browser", is_flag=True, help="Open the deck in the default browser.")
def preview(profile, jobs, renderer, port, open_browser):
    """Serve the deck, rebuild it when slides/, figures/ or _quarto.yml change, and reload the
    browser on the same slide. Ctrl+C stops."""
    from . import build as stage
    from .preview import Preview

    try:
        p = Preview(stage.find_root(), profile, jobs, renderer, port=port, echo=click.echo)
    except OSError as exc:
        from .errors import ConfigError
        raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}",
                          tip="pass another --port (0 picks a free one)") from None
    if open_browser:  # during the first build: the page reloads when it is done
        import threading
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(p.url,), daemon=True).start()
    try:
        p.start()
        p.wait()
    except KeyboardInterrupt:
        click.echo("Stopping the preview")
    finally:
        p.stop()


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the PDF  [default: _site/deck.pdf]")
@click.option("--fragments", is_flag=True, help="One page per fragment step (Reveal's pdfSeparateFragments).")
@click.option("--notes", is_flag=True, help="Each slide's speaker notes on a page after it.")
@click.option("--chromium", type=click.Path(dir_okay=False), default=None,
              help="Chromium to print with  [default: /usr/bin/chromium, or $CES_CHROMIUM, or on PATH]")
def pdf(output, fragments, notes, chromium):
    """Print the built deck (_site/) to PDF with headless Chromium, one page per slide."""
    import time
    from pathlib import Path

    from . import build as stage
    from .pdf import make_pdf
    from .render import SITE

    root = stage.find_root()
    start = time.perf_counter()
    report = make_pdf(root / SITE, Path(output) if output else None, fragments=fragments, notes=notes,
                      chromium=chromium)
    for url in report["external_requests"]:
        click.echo(f"  warning  blocked a request outside the deck: {url}")
    path = report["path"].resolve()
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    for page in report["cut"]:
        if page["scale"] < 1:
            click.echo(f"  warning  page {page['page']} « {page['title']} »: the slide is taller than the page, "
                       f"printed at {page['scale']:.0%} (see `ces check`)")
        for img in page["broken"]:
            click.echo(f"  warning  page {page['page']} « {page['title']} »: image {img} did not load")
    click.echo(f"Wrote {shown}: {report['pages']} pages in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
