"""Incremental builds run exactly the figures whose inputs changed, and those downstream of them."""

import importlib.util
import re
from pathlib import Path

import pytest
from conftest import edit

_spec = importlib.util.spec_from_file_location("gendeck", Path(__file__).parents[1] / "benchmarks" / "gendeck.py")
gendeck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gendeck)

RAN = re.compile(r"^  ran      (\S+)", re.M)
CACHED = re.compile(r"^  cached   (\S+)", re.M)


@pytest.fixture
def gen_deck(tmp_path, run_ces):
    root = tmp_path / "gen"
    names = gendeck.generate(root, 8)  # f000 → f001 → f002, f003 … f007 independent
    out = run_ces(root, "build", "--profile", "smoke", "--jobs", "2")
    assert sorted(RAN.findall(out.stdout)) == names
    return root, names


def ran(run_ces, root, *args):
    out = run_ces(root, "build", "--profile", "smoke", *args)
    return sorted(RAN.findall(out.stdout)), out.stdout



@pytest.mark.slow
def test_each_edit_reruns_exactly_what_depends_on_it(gen_deck, run_ces):
    root, names = gen_deck
    runs, out = ran(run_ces, root)
    assert runs == [] and sorted(CACHED.findall(out)) == names and "deck up to date" in out

    edit(root / "slides" / "index.qmd", "## Figure f004", "## La figure f004")
    runs, out = ran(run_ces, root)
    assert runs == [] and "deck rendered" in out  # a slide edit re-renders, runs no figure

    edit(root / "figures" / "f001.py", 'run.save_json("f001.json"', 'up = up * 2\nrun.save_json("f001.json"')
    status = run_ces(root, "status", "--profile", "smoke").stdout
    assert re.search(r"stale +f001 +figures/f001.py changed", status)
    assert re.search(r"stale +f002 +upstream f001 is stale", status)
    assert ran(run_ces, root)[0] == ["f001", "f002"]  # it and what is downstream of it

    edit(root / "figures" / "f001.py", "up = up * 2", "up = up * 2  # twice, for the test")
    assert ran(run_ces, root)[0] == []  # a comment is not code

    edit(root / "figures" / "f000.py", '"params": {"k": 0}', '"params": {"k": 100}')
    assert ran(run_ces, root)[0] == ["f000", "f001", "f002"]

    edit(root / "figures" / "f005.py", '"params": {"k": 5}', '"params": {"k": 500}')
    assert ran(run_ces, root)[0] == ["f005"]  # an independent figure alone
