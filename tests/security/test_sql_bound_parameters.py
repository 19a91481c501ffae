"""Every SQL statement takes its values as bound parameters: no string-built SQL.

The scan reads backend/, indexer/ and migrations/ as Python syntax trees and
flags any f-string, `%` or `.format()` (or `+` concatenation) whose text looks
like SQL and interpolates something other than a constant fragment: a name
bound only to string literals in the same file, such as a shared column list.

A real exception (an identifier that cannot be a bound parameter, checked
against a strict pattern first) carries a comment on that line or the line
above it: `# sql-interpolation: <why it is safe>`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("backend", "indexer", "migrations")
MARKER = re.compile(r"#\s*sql-interpolation:\s*\S")
SQL = re.compile(
    r"\b(select\b[\s\S]*\bfrom|insert\s+into|update\b[\s\S]*\bset|delete\s+from|truncate|"
    r"(create|drop|alter)\s+(table|database|index|role|user|schema)|grant\b)",
    re.IGNORECASE,
)


def _constant_names(tree: ast.AST) -> set[str]:
    """Names that are only ever bound to string literals (or f-strings of such names)."""
    bindings: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bindings.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            bindings.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.AugAssign | ast.For | ast.With | ast.NamedExpr):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    bindings.setdefault(inner.id, []).append(ast.Name("?"))
        elif isinstance(node, ast.arguments):
            for arg in [*node.posonlyargs, *node.args, *node.kwonlyargs]:
                bindings.setdefault(arg.arg, []).append(ast.Name("?"))
    constants: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, values in bindings.items():
            if name not in constants and all(_is_static(v, constants) for v in values):
                constants.add(name)
                changed = True
    return constants


def _is_static(node: ast.expr, constants: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str | int)
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(part, ast.Constant) or _is_static(part.value, constants)
            for part in node.values
            if isinstance(part, ast.Constant | ast.FormattedValue)
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_static(node.left, constants) and _is_static(node.right, constants)
    return False


def _built_sql(node: ast.AST) -> tuple[str, list[ast.expr]] | None:
    """(literal text, interpolated expressions) when `node` builds a string from parts."""
    if isinstance(node, ast.JoinedStr):
        values = [p.value for p in node.values if isinstance(p, ast.FormattedValue)]
        text = "".join(str(p.value) for p in node.values if isinstance(p, ast.Constant))
        return (text, values) if values else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            right = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            return node.left.value, list(right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        return node.func.value.value, [*node.args, *(k.value for k in node.keywords)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = _added(node)
        literals = [
            str(p.value) for p in parts if isinstance(p, ast.Constant) and _is_str_literal(p)
        ]
        others = [p for p in parts if not _is_str_literal(p)]
        return ("".join(literals), others) if literals and others else None
    return None


def _added(node: ast.expr) -> list[ast.expr]:
    """The operands of a chain `a + b + c`, flattened."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [*_added(node.left), *_added(node.right)]
    return [node]


def _is_str_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def string_built_sql(source: str) -> list[tuple[int, str]]:
    """(line, code) of every SQL string built with a non-constant value and no marker."""
    tree = ast.parse(source)
    lines = source.splitlines()
    constants = _constant_names(tree)
    found = []
    for node in ast.walk(tree):
        built = _built_sql(node)
        if built is None or not isinstance(node, ast.expr):
            continue
        text, values = built
        if not SQL.search(text) or all(_is_static(v, constants) for v in values):
            continue
        start = node.lineno - 1
        nearby = lines[max(0, start - 1) : (node.end_lineno or node.lineno)]
        if any(MARKER.search(line) for line in nearby):
            continue
        found.append((node.lineno, ast.unparse(node)[:120]))
    return found


def test_backend_indexer_migrations__no_string_built_sql() -> None:
    offenders = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, code in string_built_sql(path.read_text()):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {code}")
    assert offenders == [], "SQL built from strings; bind the values instead:\n" + "\n".join(
        offenders
    )


def test_documented_exceptions__each_says_why() -> None:
    """The marker is an explanation, not a switch: an empty one does not count."""
    marked = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if "sql-interpolation:" in line:
                    assert MARKER.search(line), f"{path}:{number} gives no reason"
                    marked.append(f"{path.relative_to(ROOT)}:{number}")
    # Today: the embedded server's CREATE DATABASE, whose name matches a strict pattern, and
    # the DDL of interactions' monthly partitions (names and bounds made from datetimes).
    allowed = (
        "backend/runtime/postgres.py",
        "backend/interactions/partitions.py",
        "migrations/versions/2026_12_11_0018_interaction_partitions.py",
    )
    assert all(entry.startswith(allowed) for entry in marked), marked


@pytest.mark.parametrize(
    "snippet",
    [
        'session.execute(text(f"SELECT * FROM users WHERE id = {user_id}"))',
        "conn.execute(\"DELETE FROM rewards WHERE wallet = '%s'\" % wallet)",
        "q = \"UPDATE campaigns SET name = '{}' WHERE id = 1\".format(name)",
        'await conn.execute(text("SELECT 1 FROM t WHERE a = " + value))',
        'sql = f"TRUNCATE {table}"',
        'q = "SELECT * " + "FROM t WHERE id = " + value + " LIMIT 1"',
        'def f(table):\n    return text(f"select x from {table}")',
    ],
)
def test_scanner__flags_interpolated_values(snippet: str) -> None:
    assert string_built_sql(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        'session.execute(text("SELECT * FROM users WHERE id = :id"), {"id": user_id})',
        '_COLS = "a, b"\nQ = text(f"SELECT {_COLS} FROM t WHERE id = :id")',
        'def f():\n    inner = "SELECT 1"\n    return text(f"SELECT count(*) FROM ({inner}) t")',
        'log.info(f"processed {count} rows")',
        'q = f"CREATE DATABASE {name}"  # sql-interpolation: name matched ^[a-z_]+$ above',
    ],
)
def test_scanner__accepts_bound_parameters_and_constant_fragments(snippet: str) -> None:
    assert string_built_sql(snippet) == [], snippet
