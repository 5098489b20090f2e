"""builder.figures and builder.profiles: a FIGURE's params are its base params plus the profile's
overrides, merged once (profiles.params_of) before keying; the older three-dict form gives the
same params, hence the same key, and the figure's process gets exactly those params."""

import json

import pytest

from builder import figures, profiles
from builder.keys import static_inputs

OLD = '''FIGURE = {"name": "x", "caption": "c", "alt": "a", "outputs": ["x.json"],
          "profiles": {"smoke": {"n": 1, "w": 8}, "quick": {"n": 10, "w": 8}, "full": {"n": 100, "w": 8}}}
from builder.script import setup
run = setup(FIGURE)
run.save_json("x.json", {"params": dict(run.params)})
'''
NEW = OLD.replace('"profiles": {"smoke": {"n": 1, "w": 8}, "quick": {"n": 10, "w": 8}, "full": {"n": 100, "w": 8}}',
                  '"params": {"n": 10, "w": 8},\n          "profiles": {"smoke": {"n": 1}, "full": {"n": 100}}')


def spec_of(root, source):
    (root / "figures" / "x.py").write_text(source)
    return figures.parse_figure(root / "figures" / "x.py", root)


def test_profiles_are_defined_once():
    assert profiles.PROFILES == ("smoke", "quick", "full") and profiles.DEFAULT in profiles.PROFILES
    assert set(profiles.DEFAULT_TIMEOUT) == set(profiles.PROFILES)


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_new_form_has_the_params_and_the_key_of_the_old_form(deck, profile):
    old, new = spec_of(deck, OLD), spec_of(deck, NEW)
    assert new.params(profile) == old.params(profile)
    assert static_inputs(new, profile, {}, deck).static_digest == static_inputs(old, profile, {}, deck).static_digest


def test_a_different_override_is_a_different_key(deck):
    """The broken twin of the test above: the comparison does see a changed param."""
    old, changed = spec_of(deck, OLD), spec_of(deck, NEW.replace('"smoke": {"n": 1}', '"smoke": {"n": 2}'))
    assert static_inputs(changed, "smoke", {}, deck).static_digest != static_inputs(old, "smoke", {}, deck).static_digest
    assert static_inputs(changed, "quick", {}, deck).static_digest == static_inputs(old, "quick", {}, deck).static_digest


def test_all_profiles_optional(deck):
    spec = spec_of(deck, NEW.replace(',\n          "profiles": {"smoke": {"n": 1}, "full": {"n": 100}}', ""))
    assert all(spec.params(p) == {"n": 10, "w": 8} for p in profiles.PROFILES)


def test_the_figure_process_gets_the_merged_params(deck, run_ces):
    spec_of(deck, NEW)
    run_ces(deck, "build", "--profile", "smoke", "x")
    out = json.loads(next((deck / "cache" / "x").glob("*/out/x.json")).read_text())
    assert out["params"] == {"n": 1, "w": 8}


def test_run_alone_merges_the_same_way(deck, tmp_path):
    import subprocess
    import sys
    spec_of(deck, NEW)
    subprocess.run([sys.executable, "figures/x.py", "--profile", "full", "--out", str(tmp_path)], cwd=deck, check=True)
    assert json.loads((tmp_path / "x.json").read_text())["params"] == {"n": 100, "w": 8}
