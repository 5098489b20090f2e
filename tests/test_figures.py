"""builder.figures and builder.profiles: a FIGURE's params are its base params plus the profile's
overrides, merged once (profiles.params_of) before keying, and the figure's process gets exactly
those params; a FIGURE's name defaults to its file's stem."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder import figures, profiles
from builder.errors import FigureError
from builder.keys import static_inputs

ROOT = Path(__file__).resolve().parent.parent

BASE = '''FIGURE = {"name": "x", "caption": "c", "alt": "a", "outputs": ["x.json"],
          "params": {"n": 10, "w": 8},
          "profiles": {"smoke": {"n": 1}, "full": {"n": 100}}}
from builder.script import setup
run = setup(FIGURE)
run.save_json("x.json", {"params": dict(run.params), "name": run.name})
'''


def spec_of(root, source, file="x.py"):
    (root / "figures" / file).write_text(source)
    return figures.parse_figure(root / "figures" / file, root)


def test_profiles_are_defined_once():
    assert profiles.PROFILES == ("smoke", "quick", "full") and profiles.DEFAULT in profiles.PROFILES
    assert set(profiles.DEFAULT_TIMEOUT) == set(profiles.PROFILES)


@pytest.mark.parametrize("profile, n", [("smoke", 1), ("quick", 10), ("full", 100)])
def test_a_profile_overrides_the_base_params(deck, profile, n):
    assert spec_of(deck, BASE).params(profile) == {"n": n, "w": 8}


def test_a_different_override_is_a_different_key(deck):
    """Only the profile whose override changed gets another key."""
    base, changed = spec_of(deck, BASE), spec_of(deck, BASE.replace('"smoke": {"n": 1}', '"smoke": {"n": 2}'))
    assert static_inputs(changed, "smoke", {}, deck).static_digest != static_inputs(base, "smoke", {}, deck).static_digest
    assert static_inputs(changed, "quick", {}, deck).static_digest == static_inputs(base, "quick", {}, deck).static_digest


def test_all_profiles_optional(deck):
    spec = spec_of(deck, BASE.replace(',\n          "profiles": {"smoke": {"n": 1}, "full": {"n": 100}}', ""))
    assert all(spec.params(p) == {"n": 10, "w": 8} for p in profiles.PROFILES)


def test_the_old_complete_profiles_form_is_refused(deck):
    old = BASE.replace('"params": {"n": 10, "w": 8},\n          ', "")
    with pytest.raises(FigureError, match="FIGURE has no 'params'"):
        spec_of(deck, old)


@pytest.mark.parametrize("file, declared, name", [
    ("param_counts.py", None, "param-counts"), ("param_counts.py", "counts", "counts"), ("x.py", "x", "x")])
def test_the_name_defaults_to_the_file_stem(deck, file, declared, name):
    source = BASE if declared else BASE.replace('"name": "x", ', "")
    assert spec_of(deck, source.replace('"x"', f'"{declared}"', 1), file).name == name


@pytest.mark.parametrize("file, problem", [("llm.py", "'llm' is reserved"), ("Courbe.py", "'Courbe' must match"),
                                           ("x" * 70 + ".py", "at most 64 characters")])
def test_a_file_name_that_makes_no_figure_name_is_refused(deck, file, problem):
    with pytest.raises(FigureError) as err:
        spec_of(deck, BASE.replace('"name": "x", ', ""), file)
    assert f"(from the file name {file})" in str(err.value) and problem in str(err.value)
    assert err.value.tip == "rename the file, or declare FIGURE['name']"


def test_the_figure_process_gets_the_merged_params_and_its_name(deck):
    from builder.build import BuildRequest, build

    spec_of(deck, BASE.replace('"name": "x", ', "").replace("x.json", "pc.json"), "param_counts.py")
    build(BuildRequest(deck, "smoke", renderer="pandoc", wanted=("param-counts",)), echo=lambda *a: None)
    out = json.loads(next((deck / "cache" / "param-counts").glob("*/out/pc.json")).read_text())
    assert out == {"params": {"n": 1, "w": 8}, "name": "param-counts"}


@pytest.mark.parametrize("args, n", [([], 10), (["--profile", "full"], 100)])
def test_run_alone_merges_the_same_way_with_the_default_profile_of_ces(deck, tmp_path, args, n):
    spec_of(deck, BASE.replace('"name": "x", ', "").replace("x.json", "pc.json"), "param_counts.py")
    subprocess.run([sys.executable, "figures/param_counts.py", *args, "--out", str(tmp_path)], cwd=deck, check=True)
    assert json.loads((tmp_path / "pc.json").read_text()) == {"params": {"n": n, "w": 8}, "name": "param-counts"}
    assert profiles.DEFAULT == "quick"


@pytest.mark.slow
def test_the_contracts_skeleton_runs_as_written(tmp_path):
    """docs/figure-contract.md's example, copied into a figure of this deck and run alone."""
    import re
    import subprocess
    import sys

    doc = (ROOT / "docs" / "figure-contract.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    import shutil

    figs = tmp_path / "figures"
    figs.mkdir()
    shutil.copy(ROOT / "figures" / "_style.py", figs)
    shutil.copytree(ROOT / "figures" / "fonts", figs / "fonts")
    script = figs / "param_counts.py"
    script.write_text(code, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), "--profile", "smoke", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "param-counts.svg").is_file() and (out / "param-counts.json").is_file()
