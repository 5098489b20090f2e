"""builder.script, the API a figure imports: under ces its params come from run.json (merged
and keyed by ces, never re-derived from the literal); it writes only declared outputs."""

import json

import pytest

from builder import script

DECL = {"name": "x", "caption": "c", "alt": "a", "outputs": ["a.json"], "needs": ["up"], "seed": 3,
        "params": {"n": 1}, "profiles": {"smoke": {"n": 0}}}


@pytest.fixture
def run(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    doc = {"profile": "full", "params": {"n": 42}, "outdir": str(out), "upstream": {"up": str(tmp_path / "up")}}
    (tmp_path / "run.json").write_text(json.dumps(doc))
    monkeypatch.setenv(script.RUN_ENV, str(tmp_path / "run.json"))
    return out


def test_params_come_from_the_run_file_not_the_literal(run):
    fig = script.setup(DECL)
    assert fig.profile == "full" and dict(fig.params) == {"n": 42} and fig.seed == 3
    with pytest.raises(TypeError):
        fig.params["n"] = 2  # read-only


def test_only_declared_outputs_and_needed_upstreams(run):
    fig = script.setup(DECL)
    assert fig.save_json("a.json", {"v": 1}) == run / "a.json"
    with pytest.raises(ValueError, match="not in FIGURE\\['outputs'\\]"):
        fig.out("b.json")
    with pytest.raises(ValueError, match="not in FIGURE\\['needs'\\]"):
        fig.upstream("other", "a.json")
    assert fig.upstream("up", "a.json").name == "a.json"


def test_save_json_refuses_what_json_cannot_hold(run):
    fig = script.setup(DECL)
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        fig.save_json("a.json", {"v": {1, 2}})
    with pytest.raises(TypeError):
        fig.save_json("a.json", {"v": float("nan")})
