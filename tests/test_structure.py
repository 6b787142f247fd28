"""The package's shape, read from its source with ``ast`` (no model runs here): no import
cycle, no module over 400 lines, one settings model, one writer of ``project.json``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "dubpreview"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _nearest(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    """Every dubpreview module ``module`` imports, at the top or inside a function."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {m for a in node.names if (m := _nearest(a.name))}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            for a in node.names:
                target = f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else _nearest(base)
                if target:
                    found.add(target)
    # a module importing its own package (the package's __init__) is not a cycle of interest
    return {m for m in found if m != module and not module.startswith(m + ".")}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = {m: _imports(m, p) for m, p in MODULES.items()}
    assert sum(len(v) for v in graph.values()) > 100  # the graph was read (not an empty pass)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_400_lines():
    sizes = {str(p.relative_to(PACKAGE.parent)): len(p.read_text(encoding="utf-8").splitlines())
             for p in MODULES.values()}
    assert max(sizes.values()) > 100
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def _classes():
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                yield module, node


def test_settings_are_declared_in_one_module():
    """One settings model (``dubpreview.settings``: DubSettings and its groups); no other
    module declares a class of settings."""
    found = {(m, c.name) for m, c in _classes() if c.name.endswith("Settings")}
    assert ("dubpreview.settings", "DubSettings") in found
    assert {m for m, _ in found} == {"dubpreview.settings"}


def test_one_module_writes_project_json():
    """Only ``dubpreview.project.edits`` names project.json in a write; everything else
    goes through its ``write_state``."""
    writers = set()
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                text = ast.unparse(node)
                names_file = "project.json" in text or any(
                    isinstance(n, ast.Attribute) and n.attr == "json_path" for n in ast.walk(node))
                if name in ("atomic_write_json", "atomic_write_bytes", "write_text", "write_bytes", "open") and names_file:
                    writers.add(module)
    assert writers == {"dubpreview.project.edits"}
