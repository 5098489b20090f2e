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
    args, kwargs = build.call_args
    assert args[0] == in_deck and args[1:6] == ("smoke", 3, False, "pandoc", True)
    assert kwargs["figures_wanted"] == ["line"] and kwargs["executor"].name == "local"


def test_build_frozen_runs_no_executor(in_deck):
    with mock.patch.object(stage, "build") as build:
        invoke("build", "--frozen")
    args, kwargs = build.call_args
    assert args[1] == "quick" and args[3] is True and kwargs["executor"] is None  # quick: profiles.DEFAULT


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
