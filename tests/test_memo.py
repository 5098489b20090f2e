"""builder.memo: facts about a source, memoised by the sha256 of its bytes (never stale), and
the imports keys follow (absolute for project modules, relative for ces' own)."""

import json

from builder import memo


def test_facts_of_a_source(tmp_path):
    src = tmp_path / "m.py"
    src.write_text('"""Doc."""\nFIGURE = {"name": "m"}\nimport numpy as np\nfrom . import errors\nfrom .keys import x\n')
    found = memo.facts(src)
    assert found["decl"] == {"name": "m"} and found["line"] == 2
    assert "numpy" in found["imports"] and sorted(found["relative"]) == ["errors", "keys"]
    assert found["code"] != found["code_nofig"]


def test_comments_and_docstrings_do_not_change_the_code_digest(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text('"""A docstring."""\n# a comment\nx  =  1  # again\n')
    assert memo.facts(a)["code"] == memo.facts(b)["code"]
    b.write_text("x = 2\n")
    assert memo.facts(a)["code"] != memo.facts(b)["code"]  # the broken twin: code does count


def test_a_corrupt_memo_file_is_ignored(tmp_path):
    (tmp_path / ".ces").mkdir()
    (tmp_path / ".ces" / "code-memo.json").write_text("{not json")
    memo.load(tmp_path)
    src = tmp_path / "m.py"
    src.write_text("x = 1\n")
    assert memo.facts(src)["imports"] == []
    memo.save()
    assert json.loads((tmp_path / ".ces" / "code-memo.json").read_text())["version"] == memo.VERSION
