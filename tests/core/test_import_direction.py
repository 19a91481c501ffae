"""Dependencies point one way: the import graph of backend/ and indexer/ (docs/architecture.md).

Every import counts, function-level ones included (they run as surely as the others);
only imports under `if TYPE_CHECKING:` are left out, since they never run.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The layers that put the app together: they may import anything, nothing below imports them.
# `models` is backend/models.py (every table); `runtime` holds the job registry.
WIRING = frozenset({"api", "cli", "demo", "runtime", "models"})

Edges = dict[tuple[str, str], list[str]]


def _package(module: str) -> str | None:
    """The unit the rules speak of: `indexer`, or the first level below `backend`."""
    parts = module.split(".")
    if parts[0] == "indexer":
        return "indexer"
    if parts[0] == "backend" and len(parts) > 1:
        return parts[1]
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(module: str, is_package: bool, tree: ast.AST) -> list[tuple[str, int]]:
    """(imported module, line) for every import that runs, at any depth."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit_one(other)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.extend((f"{target}.{alias.name}", node.lineno) for alias in node.names)
        visit(node)

    visit(tree)
    return found


def import_edges() -> Edges:
    """(importing package, imported package) -> where, for every cross-package import."""
    edges: Edges = defaultdict(list)
    for top in ("backend", "indexer"):
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            is_package = path.name == "__init__.py"
            module = ".".join(relative.parts[:-1] if is_package else relative.parts)
            source = _package(module)
            if source is None:
                continue
            for target, line in _imported(module, is_package, ast.parse(path.read_text())):
                imported = _package(target)
                if imported is not None and imported != source:
                    where = f"{relative.as_posix()}.py:{line} imports {target}"
                    edges[(source, imported)].append(where)
    return edges


def _cycles(edges: Edges) -> list[list[str]]:
    """Strongly connected components of more than one domain package (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        if source not in WIRING and target not in WIRING:
            graph[source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def _explain(edges: Edges, pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f"  {where}" for pair in pairs for where in edges[pair])


def test_domain_packages__import_each_other__without_a_cycle() -> None:
    edges = import_edges()
    for component in _cycles(edges):
        inside = [(s, t) for (s, t) in edges if s in component and t in component]
        raise AssertionError(f"import cycle between {component}:\n{_explain(edges, inside)}")


def test_core__imports_no_domain() -> None:
    edges = import_edges()
    upward = [(s, t) for (s, t) in edges if s == "core"]
    assert not upward, f"core reaches up:\n{_explain(edges, upward)}"


def test_wiring_layers__are_imported_by_nothing_below_them() -> None:
    edges = import_edges()
    upward = [(s, t) for (s, t) in edges if t in WIRING and s not in WIRING]
    assert not upward, f"a domain imports a wiring layer:\n{_explain(edges, upward)}"


def test_import_walk__sees_function_level_imports_and_skips_type_checking_ones() -> None:
    """The walk itself: a rule that cannot see an import cannot fail on it."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from backend.api import app\n"
        "def f():\n"
        "    from backend.settlement.models import SettlementBatch\n"
        "    from . import sibling\n"
    )
    found = [name for name, _ in _imported("backend.observability.monitors", False, tree)]
    assert found == [
        "typing.TYPE_CHECKING",
        "backend.settlement.models.SettlementBatch",
        "backend.observability.sibling",
    ]
