"""The import graph of builder/, read with ast (every import, lazy ones inside functions too):
it has no cycle. The broken case builds a package with one and shows that the check finds it."""

import ast
import graphlib
from pathlib import Path

import pytest

BUILDER = Path(__file__).resolve().parent.parent / "builder"


def import_graph(package: Path) -> dict[str, set[str]]:
    """module -> the sibling modules it imports (from . import x, from .x import y, import builder.x)."""
    name = package.name
    modules = {p.stem for p in package.glob("*.py")}
    graph = {}
    for path in package.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    deps.add(node.module.split(".")[0])
                elif node.level == 1:
                    deps.update(a.name for a in node.names)
                elif node.module and node.module.split(".")[0] == name:
                    parts = node.module.split(".")
                    deps.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
            elif isinstance(node, ast.Import):
                deps.update(a.name.split(".")[1] for a in node.names if a.name.startswith(name + "."))
        graph[path.stem] = {d for d in deps if d in modules and d != path.stem}
    return graph


def cycle(graph) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return exc.args[1]
    return None


def test_builder_has_no_import_cycle():
    graph = import_graph(BUILDER)
    assert {"runner", "executors", "slurm", "launch", "cache"} <= set(graph)
    assert cycle(graph) is None, f"import cycle in builder/: {' -> '.join(cycle(graph))}"


def test_no_executor_imports_the_runner():
    graph = import_graph(BUILDER)
    assert "runner" not in graph["executors"] and "runner" not in graph["slurm"]


@pytest.mark.parametrize("lazy", [False, True])
def test_the_check_finds_a_cycle(tmp_path, lazy):
    pkg = tmp_path / "builder"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import thing\n")
    body = "def f():\n    from .a import other\n" if lazy else "import builder.a\n"
    (pkg / "b.py").write_text(body)
    assert cycle(import_graph(pkg)) is not None


def layers(package: Path) -> dict[str, int]:
    """module -> its layer (0 at the top) in the list of the package's docstring."""
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")), clean=False)
    found = {}
    for line in doc.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            names = line.strip().split("  ")[0]
            for name in names.split(", "):
                found[name.strip()] = len(set(found.values()))
    return found


def upward_imports(package: Path) -> list[str]:
    where = layers(package)
    return [f"{m} imports {d}, which is listed above it" for m, deps in import_graph(package).items()
            for d in deps if m in where and d in where and where[d] < where[m]]


def test_every_module_is_in_the_layer_list():
    listed = layers(BUILDER)
    modules = {p.stem for p in BUILDER.glob("*.py")} - {"__init__"}
    assert modules - set(listed) == set(), "modules missing from builder/__init__.py's layers"
    assert set(listed) - modules <= {"browser"}, "layers name modules that do not exist"  # browser: issue 23


def test_imports_go_down_the_layers():
    assert upward_imports(BUILDER) == []


def test_the_layer_check_finds_an_upward_import(tmp_path):
    pkg = tmp_path / "builder"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Layers:\n\n  top      the top\n  a, b     two siblings\n  low      the bottom\n"""\n')
    (pkg / "top.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from . import b, low\n")   # a sibling and a lower one: fine
    (pkg / "b.py").write_text("")
    (pkg / "low.py").write_text("def f():\n    from .top import x\n")  # lazy, still upward
    assert upward_imports(pkg) == ["low imports top, which is listed above it"]
