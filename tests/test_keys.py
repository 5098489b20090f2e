"""builder.keys: the golden key of the fixture figure with each ingredient named, and each
ingredient shown to change the key (a figure-side ces module too; builder/cli.py not)."""

import shutil
from pathlib import Path

import pytest

from builder import keys, memo
from builder.figures import parse_figure

FIXTURE = Path(__file__).parent / "fixtures" / "minideck"


def inputs_of(root, profile="smoke", upstream=None):
    """The inputs as a new command computes them (ces' own code read again)."""
    keys.forget_runtime()
    spec = parse_figure(root / "figures" / "line.py", root)
    return keys.static_inputs(spec, profile, upstream or {}, root)


def test_the_key_formula_is_pinned():
    """A change to how keys are computed stales every committed entry: it must be deliberate
    (bump keys.FORMAT and rebuild the cache), so the formula itself is pinned here."""
    static = {"format": 2, "figure": "f", "code": "c" * 64, "modules": {}, "params": {"a": 1}, "seed": 0,
              "outputs": ["x.json"], "upstream": {}, "runtime": {"builder/script.py": "d" * 64}}
    digest = keys.digest_json(static)
    assert digest == "02399b4648d95924246c702625e22424da8ea928c8389379f2d627b61d58899b"
    assert keys.make_key(digest, {"torch": "2.1"}, {"figures/data/x": "e" * 64}) == \
        "2972f44b12fb474510ed09037a4654b5e834d34b17048cde95be6159f3b683fb"
    assert keys.make_key(digest, {"torch": "2.1"}) == \
        "079dd736bdd8ae3dd48f036c0a8d2f9a82a73a564bdc9e7702e1333c898a466d"  # the Slurm static key


def test_golden_key_of_the_fixture_figure_names_each_ingredient():
    inputs = inputs_of(FIXTURE)
    static = dict(inputs.static)
    runtime = static.pop("runtime")
    assert static == {
        "format": 2,                                     # keys.FORMAT
        "figure": "line",
        "code": "8716054d4547d2afd749982af1077f0eeb486e1919fe1a4529dbb4085aa32809",  # line.py, normalised
        "modules": {"figures/_helper.py": "a1be9fa68f8765ac5c9654a73e2caceddc2c25c971889d9eba94dd9dc8244356"},
        "params": {"a": 1},                              # profile smoke
        "seed": 0,
        "outputs": ["line.json", "line.svg"],
        "upstream": {},
    }
    assert keys.digest_json(static) == "15c7b152df462112c24ef2264b565d41985800ea3f2f9adff973cfb53b1414d8"
    assert sorted(runtime) == ["builder/guard.py", "builder/harness.py", "builder/profiles.py", "builder/script.py"]
    assert inputs.packages == {}                         # it imports no third-party package


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the fixture deck and of builder/ (keys.BUILDER points at the copy)."""
    root = tmp_path / "deck"
    shutil.copytree(FIXTURE, root)
    tool = tmp_path / "builder"
    shutil.copytree(keys.BUILDER, tool, ignore=shutil.ignore_patterns("__pycache__", "assets"))
    monkeypatch.setattr(keys, "BUILDER", tool)
    return root, tool


def append(path: Path, text: str):
    path.write_text(path.read_text() + text)


CHANGES = {
    "code": lambda root, tool: append(root / "figures/line.py", "print('more')\n"),
    "modules": lambda root, tool: append(root / "figures/_helper.py", "X = 1\n"),
    "params": lambda root, tool: (root / "figures/line.py").write_text(
        (root / "figures/line.py").read_text().replace('"smoke": {"a": 1}', '"smoke": {"a": 3}')),
    "seed": lambda root, tool: (root / "figures/line.py").write_text(
        (root / "figures/line.py").read_text().replace('"seed": 0', '"seed": 1')),
    "outputs": lambda root, tool: (root / "figures/line.py").write_text(
        (root / "figures/line.py").read_text().replace('["line.svg", "line.json"]', '["line.svg", "line.json", "b.txt"]')),
    "runtime script.py": lambda root, tool: append(tool / "script.py", "\nEXTRA = 1\n"),
    "runtime harness.py": lambda root, tool: append(tool / "harness.py", "\nEXTRA = 1\n"),
}


@pytest.mark.parametrize("ingredient", sorted(CHANGES))
def test_each_ingredient_changes_the_key(project, ingredient):
    root, tool = project
    before = inputs_of(root).static_digest
    CHANGES[ingredient](root, tool)
    assert inputs_of(root).static_digest != before


def test_upstream_keys_change_the_key(project):
    root, _ = project
    assert inputs_of(root, upstream={"a": "1" * 64}).static_digest != inputs_of(root, upstream={"a": "2" * 64}).static_digest


@pytest.mark.parametrize("module", ["cli.py", "build.py", "site.py", "deck.py", "cache.py"])
def test_a_change_to_ces_outside_the_figure_process_keeps_the_key(project, module):
    root, tool = project
    before = inputs_of(root).static_digest
    append(tool / module, "\nEXTRA = 1\n")
    assert inputs_of(root).static_digest == before


def test_ces_code_is_read_once_per_command(project):
    """Within one command every figure shares the digests of ces' own code (read once); the next
    command reads them again (the twin: without forget_runtime the change is not seen)."""
    root, tool = project
    before = inputs_of(root).static_digest
    append(tool / "script.py", "\nEXTRA = 1\n")
    spec = parse_figure(root / "figures" / "line.py", root)
    assert keys.static_inputs(spec, "smoke", {}, root).static_digest == before
    assert inputs_of(root).static_digest != before


def test_comments_do_not_change_a_runtime_module_key(project):
    root, tool = project
    before = inputs_of(root).static_digest
    append(tool / "script.py", "\n# a comment\n")
    assert inputs_of(root).static_digest == before


def test_a_figure_importing_builder_llm_has_llm_and_sandbox_in_its_key(project):
    root, _ = project
    append(root / "figures/line.py", "from builder.llm import ask\n")
    memo._memo.clear()
    runtime = inputs_of(root).static["runtime"]
    assert {"builder/llm.py", "builder/errors.py"} <= set(runtime)
