"""Keys change when, and only when, an input changes."""

import json
import textwrap

import pytest
from conftest import edit

from builder.cache import Cache
from builder.memo import code_digest
from builder.figures import discover
from builder.runner import plan


def state(root, profile="smoke", frozen=False):
    return plan(root, discover(root), Cache(root), profile, frozen=frozen)


def the_entry(root, name="line"):
    entries = Cache(root).entries(name)
    assert len(entries) >= 1
    return entries[0]


@pytest.fixture
def built(deck, run_ces):
    run_ces(deck, "build", "--profile", "smoke")
    assert state(deck)["line"].state == "fresh"
    return deck



@pytest.mark.parametrize("change, reason", [
    (lambda r: edit(r / "figures/line.py", "k * x + offset", "k * x + offset + 1"), "figures/line.py changed"),
    (lambda r: edit(r / "figures/_helper.py", 'params["a"] * 2', 'params["a"] * 3'), "module figures/_helper.py changed"),
    (lambda r: (r / "figures/data/offset.txt").write_text("4.5\n"), "data file figures/data/offset.txt changed"),
    (lambda r: edit(r / "figures/line.py", '"smoke": {"a": 1}', '"smoke": {"a": 5}'), "param a: 1 → 5"),
    (lambda r: edit(r / "figures/line.py", '"seed": 0', '"seed": 1'), "seed: 0 → 1"),
], ids=["script", "helper", "data-file", "param", "seed"])
def test_an_input_change_makes_the_figure_stale_and_says_which(built, change, reason):
    change(built)
    found = state(built)["line"]
    assert found.state == "stale"
    assert reason in found.reasons


@pytest.mark.parametrize("change", [
    lambda r: edit(r / "slides/index.qmd", "Ceci est une note.", "Une note réécrite."),
    lambda r: edit(r / "figures/line.py", "run = setup(FIGURE)", "run = setup(FIGURE)  # a comment\n\n"),
    lambda r: edit(r / "figures/line.py", '"""A tiny figure', '"""A tiny, documented figure'),
    lambda r: edit(r / "figures/line.py", '"caption": "Une droite"', '"caption": "Une autre légende"'),
    lambda r: edit(r / "figures/_helper.py", "def slope(params):", "# why: doubling\ndef slope( params ):"),
], ids=["slide-prose", "comment", "docstring", "caption", "helper-formatting"])
def test_prose_comments_and_formatting_do_not_change_the_key(built, change):
    change(built)
    assert state(built)["line"].state == "fresh"


def test_profile_params_are_part_of_the_key(built):
    assert state(built, "quick")["line"].state == "stale"  # a: 2 in quick, 1 in smoke
    assert "param a: 1 → 2" in state(built, "quick")["line"].reasons


def test_comment_only_edit_keeps_digest_but_code_edit_does_not():
    import ast
    a = code_digest(ast.parse("x = 1  # one\n"))
    assert a == code_digest(ast.parse("# header\nx = (1)\n"))
    assert a != code_digest(ast.parse("x = 2\n"))


def test_upstream_key_change_propagates(built, run_ces):
    (built / "figures/shift.py").write_text(textwrap.dedent('''
        FIGURE = {"name": "shift", "caption": "c", "alt": "a", "outputs": ["shift.json"], "needs": ["line"],
                  "params": {}}
        import json
        from builder.script import setup
        run = setup(FIGURE)
        data = json.loads(run.upstream("line", "line.json").read_text())
        run.save_json("shift.json", {"first": data["ys"][0] + 1})
    '''))
    run_ces(built, "build", "--profile", "smoke")
    shift_key = state(built)["shift"].entry.key
    assert json.loads((state(built)["shift"].entry.output("shift.json")).read_text()) == {"first": 4.5}
    (built / "figures/data/offset.txt").write_text("10\n")
    found = state(built)["shift"]
    assert found.state == "stale" and "upstream line is stale" in found.reasons
    run_ces(built, "build", "--profile", "smoke")
    after = state(built)["shift"]
    assert after.state == "fresh" and after.entry.key != shift_key
    assert json.loads(after.entry.output("shift.json").read_text()) == {"first": 11.0}


def test_new_data_file_read_enters_the_key(built):
    """A file the script starts reading is only known after a run: the code change covers it."""
    manifest = the_entry(built).manifest
    assert "figures/data/offset.txt" in manifest["reads"]
    assert "slides/index.qmd" not in manifest["reads"]
    assert "figures/line.py" not in manifest["reads"]  # keyed by normalised code instead


def test_package_version_enters_the_key_and_frozen_only_warns(deck, run_ces, tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "fakepkg").mkdir(parents=True)
    (site / "fakepkg" / "__init__.py").write_text("VALUE = 1\n")
    dist = site / "fakepkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.0\n")
    edit(deck / "figures/line.py", "from _helper import slope", "from _helper import slope\nimport fakepkg")
    env = {"PYTHONPATH": str(site)}
    run_ces(deck, "build", "--profile", "smoke", env=env)
    monkeypatch.syspath_prepend(str(site))
    assert the_entry(deck).manifest["packages"] == {"fakepkg": "1.0"}
    assert state(deck)["line"].state == "fresh"

    dist.rename(site / "fakepkg-2.0.dist-info")
    (site / "fakepkg-2.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 2.0\n")
    import importlib
    import builder.keys
    importlib.invalidate_caches()
    builder.keys._versions_of_module.clear()  # versions are read once per process (one command)
    found = state(deck)["line"]
    assert found.state == "stale" and found.reasons == ["package fakepkg: 1.0 → 2.0"]
    frozen = state(deck, frozen=True)["line"]
    assert frozen.state == "fresh"
    assert frozen.warnings == ["built with other package versions: package fakepkg: 1.0 → 2.0"]
    out = run_ces(deck, "build", "--profile", "smoke", "--frozen", env=env)
    assert "warning  line: built with other package versions: package fakepkg: 1.0 → 2.0" in out.stdout


def test_corrupt_entry_is_reported_and_recomputed(built, run_ces):
    entry = the_entry(built)
    svg = entry.output("line.svg")
    svg.write_bytes(svg.read_bytes()[: len(svg.read_bytes()) // 2])  # cut in half
    found = state(built)["line"]
    assert found.state == "corrupt" and "line.svg" in found.reasons[0]
    out = run_ces(built, "build", "--profile", "smoke")
    assert "is corrupt" in out.stdout and "ran      line" in out.stdout
    assert state(built)["line"].state == "fresh"


def test_unreadable_manifest_is_a_miss(built):
    (the_entry(built).path / "manifest.json").write_text("{not json")
    assert state(built)["line"].state == "missing"


def test_a_hit_runs_nothing(built, run_ces):
    log = built / "cache" / ".logs" / "line.log"
    log.unlink()
    out = run_ces(built, "build", "--profile", "smoke")
    assert "cached   line" in out.stdout and not log.exists()


def test_manifest_records_what_the_issue_lists(built):
    m = the_entry(built).manifest
    for field in ("key", "static", "params", "wall_time_s", "device", "packages", "date", "outputs", "reads"):
        assert field in m
    assert set(m["outputs"]) == {"line.svg", "line.json"}
    assert all(len(h) == 64 for h in m["outputs"].values())
    assert not list(the_entry(built).path.rglob("*.pkl"))


def test_code_memo_is_keyed_by_content_and_a_corrupt_one_is_ignored(built, run_ces):
    memo = built / ".ces" / "code-memo.json"
    run_ces(built, "status", "--profile", "smoke")
    assert memo.is_file()
    memo.write_text("{garbage")
    out = run_ces(built, "status", "--profile", "smoke")
    assert "fresh    line" in out.stdout
    edit(built / "figures/line.py", "k * x + offset", "k * x - offset")  # same size and mtime second
    out = run_ces(built, "status", "--profile", "smoke")
    assert "stale    line" in out.stdout and "figures/line.py changed" in out.stdout


def test_package_metadata_and_missing_paths_are_not_data(deck, run_ces):
    """importlib.metadata reads *.egg-info beside the scripts; shutil.rmtree opens names relative to
    a directory descriptor: neither is a data file of the figure."""
    (deck / "mypkg.egg-info").mkdir()
    (deck / "mypkg.egg-info" / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 1\n")
    edit(deck / "figures/line.py", "run = setup(FIGURE)", textwrap.dedent('''\
        run = setup(FIGURE)
        import importlib.metadata, shutil, tempfile, os
        [d.metadata["Name"] for d in importlib.metadata.distributions()]
        scratch = tempfile.mkdtemp()
        os.makedirs(os.path.join(scratch, "work", "deeper"))
        shutil.rmtree(scratch)
        try:
            open("figures/data/optional.txt")
        except FileNotFoundError:
            pass'''))
    run_ces(deck, "build", "--profile", "smoke")
    assert set(the_entry(deck).manifest["reads"]) == {"figures/_helper.py", "figures/data/offset.txt"}


def test_a_file_read_under_slides_is_an_input(deck, run_ces):
    """Reads under slides/ count (slides/_figures/, the materialised outputs, does not)."""
    (deck / "slides" / "notes.txt").write_text("1")
    edit(deck / "figures/line.py", 'offset = float(', 'extra = Path("slides/notes.txt").read_text()\noffset = float(')
    run_ces(deck, "build", "--profile", "smoke")
    assert "slides/notes.txt" in the_entry(deck).manifest["reads"]
    assert state(deck)["line"].state == "fresh"
    (deck / "slides" / "notes.txt").write_text("2")
    found = state(deck)["line"]
    assert found.state == "stale" and "data file slides/notes.txt changed" in found.reasons
