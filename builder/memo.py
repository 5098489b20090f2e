"""Facts about Python sources, memoised by the sha256 of their bytes.

For each script or helper module: its FIGURE declaration (and line), the digest of its
normalised code with and without that declaration, and the names it imports. Reading and
hashing a small file costs microseconds; parsing and normalising it costs milliseconds, so
`ces status` keeps these facts in .ces/code-memo.json and parses only what changed. The key
is the content itself, so an entry can never be stale (no mtime races); a corrupt memo file
is ignored.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

from .files import atomic_write

MEMO = Path(".ces") / "code-memo.json"
VERSION = 2

_memo: dict[str, dict] = {}
_used: set[str] = set()
_loaded_from: Path | None = None
_dirty = False


def load(root: Path) -> None:
    global _memo, _loaded_from, _dirty
    if _loaded_from == root:
        return
    _loaded_from, _dirty, _memo = root, False, {}
    try:
        data = json.loads((root / MEMO).read_text(encoding="utf-8"))
        if data.get("version") == VERSION and isinstance(data.get("facts"), dict):
            _memo = data["facts"]
    except (OSError, ValueError, AttributeError):
        pass


def save() -> None:
    """Write the facts used by this process (never fails a build: the memo is only a speed-up)."""
    if _loaded_from is None or not _dirty:
        return
    path = _loaded_from / MEMO
    try:
        path.parent.mkdir(exist_ok=True)
        atomic_write(path, json.dumps({"version": VERSION, "facts": {k: _memo[k] for k in _used if k in _memo}}))
    except OSError:
        pass


def note(found: dict, key: str, value) -> None:
    """Add a fact derived from a source's content to its entry (what facts() returned), e.g.
    that its FIGURE passed validation under these rules: kept with the entry."""
    global _dirty
    if found.get(key) != value:
        found[key], _dirty = value, True


def _is_figure_decl(node: ast.stmt) -> bool:
    return isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "FIGURE" for t in node.targets)


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]


def code_digest(tree: ast.Module, drop_figure: bool = False) -> str:
    """sha256 of the code's AST: comments, docstrings and formatting do not count."""
    tree = ast.parse(ast.unparse(tree))  # a private copy to strip
    _strip_docstrings(tree)
    if drop_figure:
        tree.body = [n for n in tree.body if not _is_figure_decl(n)]
    return hashlib.sha256(ast.dump(tree, annotate_fields=False, include_attributes=False).encode()).hexdigest()


def imported_names(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]  # `from pkg import module`
    return names


def relative_imports(tree: ast.Module) -> list[str]:
    """Sibling modules imported with `from .x import y` / `from . import x` (a package's own)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names += [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
    return names


def facts(path: Path, tree: ast.Module | None = None, source: bytes | None = None) -> dict:
    """{'code', 'code_nofig', 'imports', 'relative', 'decl', 'line'} of a source file; SyntaxError if it has one.
    'decl' is the FIGURE literal (None without one, or when it is not a plain literal)."""
    source = path.read_bytes() if source is None else source
    sha = hashlib.sha256(source).hexdigest()
    _used.add(sha)
    known = _memo.get(sha)
    if known is not None:
        return known
    global _dirty
    if tree is None:
        tree = ast.parse(source, filename=str(path))
    node = next((n for n in tree.body if _is_figure_decl(n)), None)
    try:
        decl = ast.literal_eval(node.value) if node is not None else None
        json.dumps(decl)
    except (ValueError, TypeError):
        decl = None
    found = {
        "code": code_digest(tree),
        "code_nofig": code_digest(tree, drop_figure=True),
        "imports": imported_names(tree),
        "relative": relative_imports(tree),
        "decl": decl,
        "line": node.lineno if node is not None else None,
    }
    _memo[sha], _dirty = found, True
    return found
