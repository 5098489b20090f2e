"""The shared test helpers: a missing tool fails under CI=true and skips elsewhere; the markers
select the quick loop (`-m "not slow"`), browser tests being slow too."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def run_pytest(tmp_path, body: str, *args, ci: bool):
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("ces_conftest", {str(HERE / "conftest.py")!r})
        real = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(real)
        require_tool, require_module = real.require_tool, real.require_module
        pytest_collection_modifyitems = real.pytest_collection_modifyitems
    """))
    (tmp_path / "test_it.py").write_text(textwrap.dedent(body))
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: s\n    browser: b\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=120)


TOOL_TEST = """
    from conftest import require_tool, require_module

    def test_tool():
        require_tool("ces-no-such-tool")

    def test_module():
        require_module("ces_no_such_module")

    def test_present():
        assert require_tool("sh")
"""


@pytest.mark.parametrize("ci", [True, False], ids=["CI=true", "local"])
def test_a_missing_tool_fails_under_ci_and_skips_elsewhere(tmp_path, ci):
    out = run_pytest(tmp_path, TOOL_TEST, "-rfs", ci=ci)
    if ci:
        assert out.returncode == 1 and "2 failed, 1 passed" in out.stdout, out.stdout
        assert "CI=true and ces-no-such-tool is not installed" in out.stdout
    else:
        assert out.returncode == 0 and "1 passed, 2 skipped" in out.stdout, out.stdout


def test_not_slow_deselects_slow_and_browser_tests(tmp_path):
    out = run_pytest(tmp_path, """
        import pytest

        @pytest.mark.slow
        def test_slow(): pass

        @pytest.mark.browser
        def test_browser(): pass

        def test_quick(): pass
    """, "-m", "not slow", ci=False)
    assert "1 passed, 2 deselected" in out.stdout, out.stdout
