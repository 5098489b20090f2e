"""builder.cli, mkdocs style: each command patched at its stage, asserting what the stage was
called with; and main(): the exit code of each kind of error (builder.errors.ExitCode)."""

import os
import subprocess
import sys
from unittest import mock

import pytest
from click.testing import CliRunner

from builder import build as stage
from builder import cli
from builder.errors import BuildError, ConfigError, ExitCode, RenderError, StaleError, VerifyError


@pytest.fixture
def in_deck(deck, monkeypatch):
    monkeypatch.chdir(deck)
    return deck


def invoke(*args):
    return CliRunner().invoke(cli.cli, list(args), catch_exceptions=False)


def test_build_passes_its_options_to_the_stage(in_deck):
    with mock.patch.object(stage, "build") as build:
        result = invoke("build", "--profile", "smoke", "-j", "3", "--renderer", "pandoc", "-k", "line")
    assert result.exit_code == 0, result.output
    (request, figures), kwargs = build.call_args
    assert request == stage.BuildRequest(in_deck, "smoke", jobs=3, frozen=False, renderer="pandoc",
                                         keep_going=True, wanted=("line",))
    assert set(figures) == {"line"} and kwargs["executor"].name == "local"  # discovered once, passed on


def test_build_frozen_runs_no_executor(in_deck):
    with mock.patch.object(stage, "build") as build:
        invoke("build", "--frozen")
    (request, _), kwargs = build.call_args
    assert request.profile == "quick" and request.frozen and kwargs["executor"] is None  # quick: profiles.DEFAULT


def test_an_unknown_figure_is_refused_before_the_stage(in_deck):
    with mock.patch.object(stage, "build") as build:
        result = CliRunner().invoke(cli.cli, ["build", "lines"])
    assert result.exit_code == ExitCode.CONFIG and "no figure named 'lines'. Did you mean 'line'?" in result.output
    assert not build.called


def test_figures_are_discovered_once_per_command(in_deck):
    from builder import figures

    with mock.patch.object(figures, "discover", wraps=figures.discover) as discover:
        result = invoke("build", "--profile", "smoke", "--renderer", "pandoc", "line")
    assert result.exit_code == 0, result.output
    assert discover.call_count == 1


@pytest.mark.parametrize("command", [["build"], ["status"], ["check"], ["pdf"], ["preview", "--port", "0"],
                                     ["verify"], ["clean"], ["llm", "status"]])
@pytest.mark.parametrize("text, said", [("executor: kubernetes\n", "ces.yml: executor: expected one of local, slurm"),
                                        ("slurm: {cluster: pbs}\n", "ces.yml: slurm.cluster: expected one of slurm"),
                                        ("exectuor: local\n", "ces.yml: exectuor: unknown key 'exectuor'. Did you mean"),
                                        ("[1, 2]\n", "ces.yml: expected a mapping (executor:")])
def test_a_bad_ces_yml_is_one_line_and_exit_5_from_every_command(in_deck, capsys, command, text, said):
    (in_deck / "ces.yml").write_text(text)
    with mock.patch.object(sys, "argv", ["ces", *command]), pytest.raises(SystemExit) as exit_:
        cli.main()
    err = capsys.readouterr().err
    assert exit_.value.code == ExitCode.CONFIG and err.startswith(f"Error: {said}"), err
    assert "Traceback" not in err and err.count("Error:") == 1


def test_a_good_ces_yml_is_read(in_deck):
    """The twin of the test above: the same command with a valid ces.yml goes on."""
    (in_deck / "ces.yml").write_text("executor: local\nslurm: {cluster: debug, partition: cpu}\n")
    result = invoke("status", "--profile", "smoke")
    assert result.exit_code == 0 and " line " in result.output


def test_clean_passes_unused(in_deck):
    with mock.patch.object(stage, "clean") as clean:
        invoke("clean", "--unused")
    assert clean.call_args[0][:2] == (in_deck, True)


def test_status_lists_each_figure(in_deck):
    result = invoke("status", "--profile", "smoke")
    assert result.exit_code == 0 and "Profile smoke: 1 figures" in result.output and " line " in result.output


def test_an_unknown_profile_is_a_usage_error(in_deck):
    result = CliRunner().invoke(cli.cli, ["build", "--profile", "huge"])
    assert result.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("error, code", [
    (BuildError("a figure failed"), ExitCode.FIGURE_FAILED), (ConfigError("bad"), ExitCode.CONFIG),
    (StaleError("stale"), ExitCode.STALE), (RenderError("pandoc"), ExitCode.RENDER),
    (VerifyError("differs"), ExitCode.VERIFY_MISMATCH), (KeyboardInterrupt(), ExitCode.INTERRUPTED),
])
def test_main_exits_with_the_code_of_the_error(in_deck, capsys, error, code):
    with mock.patch.object(stage, "clean", side_effect=error), mock.patch.object(sys, "argv", ["ces", "clean"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main()
    assert exit_.value.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and (err.startswith("Error: ") or "Aborted!" in err)


def test_codes_are_distinct():
    assert len({int(c) for c in ExitCode}) == len(ExitCode)


def test_status_imports_no_heavy_module(in_deck):
    code = ("import sys; sys.argv = ['ces', 'status', '--profile', 'smoke']; from builder.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'matplotlib', 'transformers', 'submitit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=in_deck, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(cli.__file__).rsplit('/builder/', 1)[0],
                                                                           os.environ.get("PYTHONPATH", "")])})
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
