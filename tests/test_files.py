"""builder.files: the project root, the one atomic write, YAML files."""

import os

import pytest

from builder import files
from builder.errors import ConfigError


def test_the_root_is_the_nearest_directory_with_quarto_yml(tmp_path):
    (tmp_path / "_quarto.yml").write_text("")
    deep = tmp_path / "slides" / "img"
    deep.mkdir(parents=True)
    assert files.find_root(deep) == tmp_path
    (tmp_path / "_quarto.yml").unlink()
    with pytest.raises(ConfigError, match="no _quarto.yml in") as err:
        files.find_root(deep)
    assert err.value.tip
    assert files.find_root(deep, fallback=tmp_path) == tmp_path


def test_an_atomic_write_leaves_the_old_file_when_it_fails(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    files.write_json(path, {"b": 1, "a": [1, 2]})
    assert path.read_text() == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}\n'

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        files.atomic_write(path, "half")
    monkeypatch.undo()
    assert path.read_text().startswith("{") and os.listdir(tmp_path) == ["x.json"]   # no temporary left
    files.atomic_write(path, b"whole")                                               # the twin: it writes
    assert path.read_bytes() == b"whole"


@pytest.mark.parametrize("content, problem", [(b"a: [1\n", "llm.yml: not valid YAML"),
                                              (b"a: caf\xe9\n", "llm.yml: not UTF-8")])
def test_a_bad_yaml_file_is_one_line(tmp_path, content, problem):
    (tmp_path / "llm.yml").write_bytes(content)
    with pytest.raises(ConfigError, match=problem):
        files.read_yaml(tmp_path / "llm.yml")
    (tmp_path / "llm.yml").write_bytes(b"a: [1]\n")
    assert files.read_yaml(tmp_path / "llm.yml") == {"a": [1]}
    (tmp_path / "llm.yml").write_bytes(b"")
    assert files.read_yaml(tmp_path / "llm.yml") == {}
