"""builder.profiles: the profiles defined once, and a profile's params (base + its overrides)."""

import pytest

from builder import profiles

DECL = {"params": {"steps": 2000, "width": 64}, "profiles": {"smoke": {"steps": 20}, "full": {"steps": 20000}}}


def test_the_profiles_and_their_defaults():
    assert profiles.PROFILES == ("smoke", "quick", "full") and profiles.DEFAULT == "quick"
    assert set(profiles.DEFAULT_TIMEOUT) == set(profiles.PROFILES)
    timeouts = [profiles.DEFAULT_TIMEOUT[p] for p in profiles.PROFILES]
    assert timeouts == sorted(timeouts)  # a bigger profile is given more time


@pytest.mark.parametrize("profile, steps", [("smoke", 20), ("quick", 2000), ("full", 20000)])
def test_a_profile_overrides_only_what_it_names(profile, steps):
    assert profiles.params_of(DECL, profile) == {"steps": steps, "width": 64}


def test_the_declaration_is_not_changed():
    before = repr(DECL)
    profiles.params_of(DECL, "smoke")["width"] = 1
    assert repr(DECL) == before


def test_no_override_at_all():
    assert profiles.params_of({"params": {"n": 1}}, "full") == {"n": 1}


@pytest.mark.parametrize("script, name", [("figures/param_counts.py", "param-counts"), ("line.py", "line"),
                                          ("/a/b/double_descent_2.py", "double-descent-2")])
def test_a_figure_name_is_the_stem_with_dashes(script, name):
    assert profiles.figure_name(script) == name
