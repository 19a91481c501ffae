"""Mutation testing of the money path: small bugs put in by rule, one at a time, and the tests
that must notice them.

mutmut and cosmic-ray assume a suite that runs in-process in seconds; ours needs PostgreSQL and
anvil per run, so this tool is small and explicit instead. Each target lists its source files and,
per file, the narrowest test selection that covers it. The mutants are chosen by rule:

  Python (AST + tokens)  comparisons (< <=, > >=, == !=, is/is not, in/not in), arithmetic
                         (+ -, // -> *, += -=), boolean (and or, `not x` -> x), constants
                         (0 1, True False), a removed `*.execute(...)` whose result is unused
                         (an UPDATE/INSERT/DELETE), a removed `assert` (type guards excluded),
                         swapped SQL status literals ('pending' 'batched', ...).
  Vyper (tokens)         an `assert` negated or removed, += -=, comparison operators, and or.

Never mutated: docstrings, annotations, class field defaults, type-guard asserts, log and
metric calls, f-string interpolations (messages), string concatenation, and `crash_point(...)`
(a test hook). A mutant is applied to the file in place (backup kept, restored in a `finally`,
checked byte for byte and with `git diff --quiet`); each test selection first runs unmutated
(its time sets the timeout; if it fails, its mutants are not judged); then the mutant's selection
runs with `-x`, and the outcome is killed, survived, timeout, or compile (the file no longer
compiles or imports: reported apart, not scored). Known equivalent mutants are listed below, with
why, and not scored. Files the working tree reports modified are skipped (someone is editing
them).

    .venv/bin/python bench/mutate.py --target all --sample 20 --seed 1 [--isolated] [--json]
    .venv/bin/python bench/mutate.py --list --target settlement
    .venv/bin/python bench/mutate.py --only 'backend/settlement/recovery.py:retire:cmp' --isolated

--isolated runs in a private copy of the checkout taken at start (a temp dir): colleagues sharing
the checkout never import a mutant, and their later edits never kill one. Files modified in the
checkout are still never mutated (their owners are changing them).
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tokenize
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# --- what is mutated, and which tests must notice ----------------------------------------------

BACKEND = ["-p", "no:ape_test"]  # backend suites run without ape's test plugin; contracts with it


@dataclass(frozen=True)
class FileSpec:
    path: str
    tests: tuple[str, ...]
    pytest_args: tuple[str, ...] = tuple(BACKEND)

    def __post_init__(self) -> None:
        # pytest collects a directory named after one of its own files as that file alone:
        # a file listed first would silently drop the rest of its directory.
        for test in self.tests:
            inside = [other for other in self.tests if other.startswith(test + "/")]
            if inside:
                raise ValueError(f"{self.path}: {test} and {inside[0]} overlap; list files")


SETTLE_CORE = (
    "tests/settlement/test_push.py",
    "tests/settlement/test_retire.py",
    "tests/settlement/test_reverts.py",
    "tests/settlement/test_transactions.py",
)

TARGETS: dict[str, list[FileSpec]] = {
    "rewards": [
        FileSpec(
            "backend/rewards/calculator.py",
            (
                "tests/rewards",
                "tests/campaigns/test_engine.py",
                "tests/campaigns/test_campaigns.py",
                "tests/referrals/test_depth.py",
            ),
        ),
        FileSpec(
            "backend/rewards/service.py",
            (
                "tests/campaigns/test_never_pay.py",
                "tests/interactions/test_ingest.py",
                "tests/interactions/test_webhooks.py",
                "tests/settlement/test_retire.py",
                "tests/fraud/test_evaluator.py",
            ),
        ),
    ],
    "campaigns": [
        FileSpec(
            "backend/campaigns/engine.py",
            (
                "tests/campaigns/test_engine.py",
                "tests/campaigns/test_never_pay.py",
                "tests/interactions/test_budget.py",
                "tests/referrals/test_depth.py",
                "tests/interactions/test_ingest.py",
                "tests/interactions/test_webhooks.py",
                "tests/evaluator/test_engine_pure.py",
                "tests/evaluator/test_batch.py",
            ),
        ),
        FileSpec(
            "backend/campaigns/budgets.py",
            (
                "tests/campaigns",
                "tests/products/test_bank.py",
                "tests/interactions/test_budget.py",
                "tests/settlement/test_shared_signer.py",
            ),
        ),
        FileSpec(
            "backend/campaigns/snapshots.py",
            (
                "tests/campaigns",
                "tests/evaluator/test_engine_pure.py",
                "tests/evaluator/test_batch.py",
                "tests/interactions/test_budget.py",
            ),
        ),
        FileSpec(
            "backend/campaigns/charges.py",
            (
                "tests/evaluator/test_batch.py",
                "tests/interactions/test_budget.py",
                "tests/campaigns/test_engine.py",
            ),
        ),
        FileSpec(
            "backend/campaigns/refunds.py",
            (
                "tests/campaigns/test_never_pay.py",
                "tests/interactions/test_webhooks.py",
                "tests/settlement/test_retire.py",
                "tests/fraud/test_api.py",
                "tests/fraud/test_expiry.py",
            ),
        ),
        FileSpec("backend/campaigns/transitions.py", ("tests/campaigns",)),
        FileSpec("backend/campaigns/rules.py", ("tests/campaigns",)),
        FileSpec("backend/campaigns/service.py", ("tests/campaigns",)),
    ],
    "settlement": [
        FileSpec(
            "backend/settlement/builder.py",
            ("tests/settlement/test_cooldown.py", *SETTLE_CORE, "tests/settlement/test_crash.py"),
        ),
        FileSpec(
            "backend/settlement/recovery.py",
            (
                "tests/settlement/test_deadline_edge.py",
                *SETTLE_CORE,
                "tests/observability/test_settlement_metrics.py",
            ),
        ),
        FileSpec(
            "backend/settlement/transactions.py",
            ("tests/settlement/test_void_slot.py", *SETTLE_CORE, "tests/relayer/test_claim.py"),
        ),
        FileSpec(
            "backend/settlement/reconcile.py",
            (
                "tests/settlement/test_reconcile_edges.py",
                "tests/settlement/test_reconcile.py",
                "tests/settlement/test_reconcile_one_sided.py",
                "tests/settlement/test_reconcile_mid_settlement.py",
            ),
        ),
        FileSpec(
            "backend/settlement/job.py",
            (*SETTLE_CORE, "tests/settlement/test_shared_signer.py"),
        ),
        FileSpec("backend/settlement/chain.py", SETTLE_CORE),
        FileSpec("backend/settlement/signer.py", ("tests/settlement/test_push.py",)),
        FileSpec(
            "backend/settlement/eip712.py",
            ("tests/settlement/test_typed_data.py", "tests/settlement/test_push.py"),
        ),
    ],
    "referrals": [
        FileSpec(
            "backend/referrals/service.py",
            (
                "tests/referrals/test_chain_cache.py",
                "tests/referrals/test_ancestry.py",
                "tests/referrals/test_referrals.py",
                "tests/referrals/test_depth.py",
            ),
        ),
        FileSpec(
            "backend/referrals/tokens.py",
            (
                "tests/referrals/test_token_format.py",
                "tests/referrals/test_referrals.py",
                "tests/interactions/test_ingest.py",
            ),
        ),
    ],
    "indexer": [
        FileSpec(
            "indexer/apply.py",
            (
                "tests/indexer/test_apply_edges.py",
                "tests/indexer/test_apply_properties.py",
                "tests/indexer/test_index.py",
                "tests/indexer/test_reorg.py",
                "tests/indexer/test_resilience.py",
            ),
        ),
    ],
    "contracts": [
        FileSpec(
            "contracts/ProductBank.vy",
            (
                "tests/contracts/bank",
                "tests/contracts/test_invariants.py",
                "tests/contracts/test_eip712.py",
            ),
            (),
        ),
        FileSpec(
            "contracts/MultiTokenPushPull.vy",
            (
                "tests/contracts/test_push_pull.py",
                "tests/contracts/test_push_pull_transfers.py",
                "tests/contracts/bank/test_push.py",
            ),
            (),
        ),
        FileSpec(
            "contracts/ProductBankFactory.vy",
            ("tests/contracts/test_factory.py", "tests/contracts/test_deploy_core.py"),
            (),
        ),
        FileSpec(
            "contracts/modules/ownable_2step.vy",
            (
                "tests/contracts/test_factory.py",
                "tests/contracts/bank/test_roles.py",
                "tests/contracts/test_push_pull.py",
            ),
            (),
        ),
    ],
}

# Mutants that cannot change behaviour, by id; the line text guards against a stale entry
# (if the line changed, the mutant is scored again). Each reason is one line in the docs.
EQUIVALENT: dict[str, tuple[str, str]] = {
    "backend/rewards/calculator.py:beta_fraction:cmp:<=-><#0": (
        "if total <= 0.0:  # both draws underflowed: only possible for tiny beta",
        "total is never 0.0 (nor negative): random.gammavariate(2.0) returns alpha * exp(v) "
        "with v bounded, always > 0, so `<= 0.0` and `< 0.0` take the same branch",
    ),
    "backend/campaigns/engine.py:_write_params:const:True->False#0": (
        "for level, (amount, wallet) in enumerate(zip(plan.parts, plan.recipients, strict=True)):",
        "parts come from split_reward over exactly the recipients' count, so the lengths always "
        "match and zip's strict flag never acts",
    ),
    "backend/rewards/service.py:release_batched:const:0->1#0": (
        'return int(getattr(result, "rowcount", 0) or 0)',
        "an UPDATE result always has rowcount, so getattr's default is never used",
    ),
    "backend/rewards/service.py:release_batched:const:0->1#1": (
        'return int(getattr(result, "rowcount", 0) or 0)',
        "nobody reads the count: the one caller (settlement.recovery.retire) ignores it",
    ),
    "backend/rewards/calculator.py:_amount:bool:or->and#0": (
        "if isinstance(value, bool) or not isinstance(value, str | int):",
        "whatever `and` lets through (a bool, a float, a list) the next check refuses with the "
        "same error: str(value).isdigit() is false for each",
    ),
    "backend/campaigns/charges.py:lock_snapshots:bool:or->and#0": (
        "if not products or not triggers:",
        "with either list empty the query's `= ANY(...)` matches no row and returns {} as the "
        "early return does: only a round trip is saved",
    ),
    "backend/settlement/recovery.py:_confirm:bool:and->or#0": (
        "if batch.gas_used and receipt is not None:",
        "gas_used is set from the receipt just above (None exactly when the receipt is None), "
        "so `or` takes the same branch; with gas_used 0 it adds 0 to the counter",
    ),
    "backend/campaigns/budgets.py:_settled_and_in_flight:const:0->1#0": (
        "select(Reward.status, func.coalesce(func.sum(Reward.amount), 0))",
        "grouped by status, a group exists only with rows, and their amounts are NOT NULL: the "
        "sum is never NULL, so COALESCE's fallback is never used",
    ),
    "backend/campaigns/refunds.py:give_back:bool:and->or#0": (
        'if rule is not None and rule.budget_period != "total":',
        "rules hold every cancelled row's campaign (locked by the caller), and a total-budget "
        "campaign never has campaign_period_usage rows: the extra UPDATE matches none",
    ),
    "backend/settlement/reconcile.py:_log_totals:const:0->1#0": (
        "start = min((block or 0) for block in banks.values())",
        "block 0 is the genesis block, which holds no transaction and so no log: a scan from "
        "block 1 reads the same logs",
    ),
    "backend/rewards/service.py:release_batched:bool:or->and#0": (
        'return int(getattr(result, "rowcount", 0) or 0)',
        "nobody reads the count: the one caller (settlement.recovery.retire) ignores it",
    ),
}


# --- mutants ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    target: str
    spec: FileSpec
    line: int
    scope: str
    kind: str
    label: str
    start: int  # character offsets into the file's text
    end: int
    replacement: str
    index: int = 0  # among mutants of the same (scope, kind, label)

    @property
    def id(self) -> str:
        return f"{self.spec.path}:{self.scope}:{self.kind}:{self.label}#{self.index}"


@dataclass
class _Raw:
    line: int
    scope: str
    kind: str
    label: str
    start: int
    end: int
    replacement: str


class _Text:
    """Maps (line, column) positions of ast (UTF-8 bytes) and tokenize (characters) to offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def from_tok(self, pos: tuple[int, int]) -> int:
        return self.starts[pos[0] - 1] + pos[1]

    def from_ast(self, line: int, byte_col: int) -> int:
        prefix = self.lines[line - 1].encode()[:byte_col].decode()
        return self.starts[line - 1] + len(prefix)

    def node_span(self, node: ast.AST) -> tuple[int, int]:
        start = self.from_ast(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.from_ast(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end


CMP_SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
ARITH_SWAP = {"+": "-", "-": "+", "//": "*", "+=": "-=", "-=": "+="}
BOOL_SWAP = {"and": "or", "or": "and"}
STATUS_SWAP = {
    "pending": "batched",
    "batched": "pending",
    "pushed": "batched",
    "cancelled": "pending",
    "signed": "submitted",
    "submitted": "signed",
    "void": "submitted",
    "active": "paused",
    "paused": "active",
}
SQL_STATUS = re.compile(r"'(" + "|".join(STATUS_SWAP) + r")'")
_AST_OPS: dict[type, str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Add: "+",
    ast.Sub: "-",
    ast.FloorDiv: "//",
}
_SKIP_CALL_RECEIVERS = {"log", "logger", "metrics"}


def _call_name(node: ast.AST) -> str:
    """`a.b.c(...)` -> 'c'; `f(...)` -> 'f'."""
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _skipped_call(node: ast.Call) -> bool:
    """Calls whose arguments are never mutated: logs, metrics, and the crash-test hook."""
    if _call_name(node) == "crash_point":
        return True
    receiver = node.func
    while isinstance(receiver, ast.Attribute | ast.Call):
        receiver = receiver.value if isinstance(receiver, ast.Attribute) else receiver.func
    return isinstance(receiver, ast.Name) and receiver.id in _SKIP_CALL_RECEIVERS


def _type_guard(test: ast.expr) -> bool:
    """`assert isinstance(x, T)` / `assert x is not None`: for the type checker, not a rule."""
    if isinstance(test, ast.Call) and _call_name(test) == "isinstance":
        return True
    return (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    )


def _stringy(node: ast.AST) -> bool:
    """A string concatenation: `+` there builds SQL text, `-` would only fail at import."""
    if isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    ):
        return True
    if isinstance(node, ast.IfExp):
        return _stringy(node.body) or _stringy(node.orelse)
    return isinstance(node, ast.BinOp) and (_stringy(node.left) or _stringy(node.right))


def _unused_execute(stmt: ast.stmt) -> bool:
    """`await session.execute(...)` as a statement: a write whose result nobody reads."""
    if not isinstance(stmt, ast.Expr):
        return False
    value = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
    return isinstance(value, ast.Call) and _call_name(value) == "execute"


class _PyMutator(ast.NodeVisitor):
    def __init__(self, text: str) -> None:
        self.src = _Text(text)
        self.tree = ast.parse(text)
        self.tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        self.out: list[_Raw] = []
        self.scope: list[str] = []
        self.classes: list[int] = []  # scope depths that are class bodies

    def run(self) -> list[_Raw]:
        self.visit(self.tree)
        return self.out

    # scopes and places never mutated
    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        if isinstance(node, ast.ClassDef):
            self.classes.append(len(self.scope))
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        for stmt in body:
            self.visit(stmt)
        if not isinstance(node, ast.ClassDef):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self.visit(default)
        else:
            self.classes.pop()
        self.scope.pop()

    visit_FunctionDef = _scoped
    visit_AsyncFunctionDef = _scoped
    visit_ClassDef = _scoped

    def visit_Module(self, node: ast.Module) -> None:
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        for stmt in body:
            self.visit(stmt)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        in_class = bool(self.classes) and self.classes[-1] == len(self.scope)
        if node.value is not None and not in_class:  # a class field's default is a declaration
            self.visit(node.value)

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if _skipped_call(node):
            return
        self.generic_visit(node)

    # statements
    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt) and _unused_execute(node):
            self._delete(node, "del-execute", "execute")
        super().visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        if _type_guard(node.test):
            return
        self._delete(node, "del-assert", "assert")
        self.generic_visit(node)

    def _delete(self, stmt: ast.stmt, kind: str, label: str) -> None:
        start, end = self.src.node_span(stmt)
        self._add(stmt.lineno, kind, label, start, end, "pass")

    # expressions
    def visit_Compare(self, node: ast.Compare) -> None:
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            lo, hi = self.src.node_span(left)[1], self.src.node_span(right)[0]
            words = [t for t in self._tokens(lo, hi) if t.type in (tokenize.OP, tokenize.NAME)]
            if type(op) in _AST_OPS:
                symbol = _AST_OPS[type(op)]
                for tok in words:
                    if tok.string == symbol:
                        self._tok(tok, "cmp", CMP_SWAP[symbol])
                        break
            elif isinstance(op, ast.Is | ast.In) and words:
                word = words[-1]
                self._tok(word, "cmp", f"not {word.string}" if word.string == "in" else "is not")
            elif isinstance(op, ast.IsNot | ast.NotIn) and len(words) >= 2:
                first, last = words[0], words[-1]
                start, end = self.src.from_tok(first.start), self.src.from_tok(last.end)
                plain = "in" if isinstance(op, ast.NotIn) else "is"
                label = f"{self.src.text[start:end]}->{plain}"
                self._add(first.start[0], "cmp", label, start, end, plain)
            left = right
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        symbol = _AST_OPS.get(type(node.op))
        if symbol in ARITH_SWAP and not _stringy(node):
            lo, hi = self.src.node_span(node.left)[1], self.src.node_span(node.right)[0]
            for tok in self._tokens(lo, hi):
                if tok.type == tokenize.OP and tok.string == symbol:
                    self._tok(tok, "arith", ARITH_SWAP[symbol])
                    break
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        symbol = _AST_OPS.get(type(node.op))
        if symbol in ("+", "-"):
            lo, hi = self.src.node_span(node.target)[1], self.src.node_span(node.value)[0]
            for tok in self._tokens(lo, hi):
                if tok.string == symbol + "=":
                    self._tok(tok, "arith", ARITH_SWAP[tok.string])
                    break
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        word = "and" if isinstance(node.op, ast.And) else "or"
        for left, right in zip(node.values, node.values[1:], strict=False):
            lo, hi = self.src.node_span(left)[1], self.src.node_span(right)[0]
            for tok in self._tokens(lo, hi):
                if tok.type == tokenize.NAME and tok.string == word:
                    self._tok(tok, "bool", BOOL_SWAP[word])
                    break
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            # Drop the keyword up to the next token (a parenthesised operand keeps its "(").
            start, hi = self.src.node_span(node)
            after = [self.src.from_tok(t.start) for t in self._tokens(start + 1, hi)]
            self._add(node.lineno, "bool", "not->", start, after[0], "")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        start, end = self.src.node_span(node)
        if value is True or value is False:
            self._add(node.lineno, "const", f"{value}->{not value}", start, end, str(not value))
        elif isinstance(value, int) and value in (0, 1):
            self._add(node.lineno, "const", f"{value}->{1 - value}", start, end, str(1 - value))
        elif isinstance(value, str):
            self._sql(node, start, end)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        start, end = self.src.node_span(node)
        self._sql(node, start, end)
        # Its interpolations are messages and identifiers, not amounts: not mutated.

    def _sql(self, node: ast.AST, start: int, end: int) -> None:
        for match in SQL_STATUS.finditer(self.src.text, start, end):
            status = match.group(1)
            line = self.src.text.count("\n", 0, match.start()) + 1
            swapped = f"'{STATUS_SWAP[status]}'"
            label = f"'{status}'->{swapped}"
            self._add(line, "sql", label, match.start(), match.end(), swapped)

    # helpers
    def _tokens(self, lo: int, hi: int) -> Iterator[tokenize.TokenInfo]:
        for tok in self.tokens:
            at = self.src.from_tok(tok.start)
            if at >= hi:
                return
            if at >= lo:
                yield tok

    def _tok(self, tok: tokenize.TokenInfo, kind: str, replacement: str) -> None:
        start, end = self.src.from_tok(tok.start), self.src.from_tok(tok.end)
        label = f"{tok.string}->{replacement}"
        self._add(tok.start[0], kind, label, start, end, replacement)

    def _add(self, line: int, kind: str, label: str, start: int, end: int, repl: str) -> None:
        scope = ".".join(self.scope) or "<module>"
        self.out.append(_Raw(line, scope, kind, label, start, end, repl))


def _vyper_mutants(text: str) -> list[_Raw]:
    """Line-level rules over Vyper tokens (Python's tokenizer reads Vyper's lexical syntax)."""
    src = _Text(text)
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
        if t.type not in (tokenize.COMMENT, tokenize.NL)
    ]
    out: list[_Raw] = []
    scope = "<module>"
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.NAME and tok.string == "def" and i + 1 < len(tokens):
            scope = tokens[i + 1].string
        if tok.type == tokenize.OP and tok.string in CMP_SWAP:
            repl = CMP_SWAP[tok.string]
            at = src.from_tok(tok.start), src.from_tok(tok.end)
            out.append(_Raw(tok.start[0], scope, "cmp", f"{tok.string}->{repl}", *at, repl))
        elif tok.type == tokenize.OP and tok.string in ("+=", "-="):
            repl = ARITH_SWAP[tok.string]
            at = src.from_tok(tok.start), src.from_tok(tok.end)
            out.append(_Raw(tok.start[0], scope, "arith", f"{tok.string}->{repl}", *at, repl))
        elif tok.type == tokenize.NAME and tok.string in BOOL_SWAP:
            repl = BOOL_SWAP[tok.string]
            at = src.from_tok(tok.start), src.from_tok(tok.end)
            out.append(_Raw(tok.start[0], scope, "bool", f"{tok.string}->{repl}", *at, repl))
        elif tok.type == tokenize.NAME and tok.string == "assert":
            depth, j = 0, i + 1
            while tokens[j].type != tokenize.NEWLINE and not (
                depth == 0 and tokens[j].string == ","
            ):
                if tokens[j].type == tokenize.OP:
                    depth += tokens[j].string in "([{"
                    depth -= tokens[j].string in ")]}"
                j += 1
            cond_start, cond_end = src.from_tok(tokens[i + 1].start), src.from_tok(tokens[j].start)
            cond = text[cond_start:cond_end].rstrip()
            cond_end = cond_start + len(cond)
            out.append(
                _Raw(
                    tok.start[0],
                    scope,
                    "vy-assert",
                    "negate",
                    cond_start,
                    cond_end,
                    f"not ({cond})",
                )  # fmt: skip
            )
            while tokens[j].type != tokenize.NEWLINE:
                j += 1
            start, end = src.from_tok(tok.start), src.from_tok(tokens[j].start)
            out.append(_Raw(tok.start[0], scope, "del-assert", "assert", start, end, "pass"))
    return out


def mutants_of(target: str, spec: FileSpec, root: Path) -> list[Mutant]:
    text = (root / spec.path).read_text()
    raws = _vyper_mutants(text) if spec.path.endswith(".vy") else _PyMutator(text).run()
    seen: Counter[tuple[str, str, str]] = Counter()
    result = []
    for raw in sorted(raws, key=lambda r: (r.start, r.end, r.kind, r.label)):
        key = (raw.scope, raw.kind, raw.label)
        result.append(
            Mutant(
                target,
                spec,
                raw.line,
                raw.scope,
                raw.kind,
                raw.label,
                raw.start,
                raw.end,
                raw.replacement,
                seen[key],
            )
        )
        seen[key] += 1
    return result


def line_of(mutant: Mutant, root: Path) -> str:
    return (root / mutant.spec.path).read_text().splitlines()[mutant.line - 1].strip()


def equivalent_reason(mutant: Mutant, root: Path) -> str | None:
    entry = EQUIVALENT.get(mutant.id)
    if entry and entry[0] == line_of(mutant, root):
        return entry[1]
    return None


# --- running ---------------------------------------------------------------------------------


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


def is_clean(root: Path, path: str) -> bool:
    """Unmodified in the checkout: nobody is editing it right now."""
    status = git(root, "status", "--porcelain", "--", path)
    return status.returncode == 0 and not status.stdout.strip()


BACKEND_BUILD = Path(".build") / "cascade"
# ape's manifest cache: it recompiles a contract whose own source changed, but not one whose
# imported module changed, so a contract mutant always runs against a fresh ape compile.
APE_MANIFEST = Path(".build") / "__local__.json"


def snapshot(origin: Path) -> Path:
    """A private, frozen copy of the checkout (tracked and new files, as they are now), with its
    own throwaway git repository; the environments (.venv, node_modules) are shared by links."""
    root = Path(tempfile.mkdtemp(prefix="cascade-mutate-"))
    listed = git(origin, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in sorted(set(filter(None, listed.stdout.split("\0")))):
        source = origin / name
        if source.is_file() and not source.is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    quiet = {"stdout": subprocess.DEVNULL, "check": True}
    subprocess.run(["git", "-C", str(root), "init", "-q"], **quiet)  # type: ignore[call-overload]
    # The snapshot's own repository (never the shared one): every copied file, one commit.
    subprocess.run(["git", "-C", str(root), "add", "."], **quiet)  # type: ignore[call-overload]
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=mutate", "-c", "user.email=mutate@localhost"]
        + ["commit", "-q", "-m", "snapshot of the checkout"],
        **quiet,  # type: ignore[call-overload]
    )
    # Untracked environments are shared, linked after the commit so git never records them.
    for shared in (".venv", "contracts/node_modules", "sdk-js/node_modules", "sdk-js/dist"):
        if (origin / shared).exists() and not (root / shared).exists():
            (root / shared).symlink_to(origin / shared)
    # The backend's compile cache is keyed by a hash of every source: only a mutant recompiles.
    if (origin / BACKEND_BUILD).is_dir():
        shutil.copytree(origin / BACKEND_BUILD, root / BACKEND_BUILD, symlinks=True)
    return root


@dataclass
class Outcome:
    status: str  # killed | survived | timeout | compile | error
    seconds: float
    detail: str = ""


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    bins = [str(root / ".venv" / "bin"), str(root / "contracts" / "node_modules" / ".bin")]
    env["PATH"] = os.pathsep.join([*bins, env.get("PATH", "")])
    # Subprocesses the tests start (CLI, crash tests) import this tree's code, not the
    # editable install's; and a mutant never leaves bytecode behind.
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def present_tests(spec: FileSpec, root: Path) -> list[str]:
    """The spec's test paths that exist in this tree (a new test file may not be committed yet)."""
    return [path for path in spec.tests if (root / path).exists()]


def run_tests(spec: FileSpec, root: Path, timeout: float) -> Outcome:
    command = [
        str(root / ".venv" / "bin" / "python"),
        "-m",
        "pytest",
        *spec.pytest_args,
        "-x",
        "-q",
        "--no-header",
        "-p",
        "no:randomly",
        "--hypothesis-seed=0",
        *present_tests(spec, root),
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=root,
        env=_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        return Outcome("timeout", time.monotonic() - started)
    except BaseException:
        _stop(process)
        raise
    seconds = time.monotonic() - started
    lines = output.strip().splitlines()
    tail = lines[-1] if lines else ""
    if process.returncode == 0:
        return Outcome("survived", seconds, tail)
    if process.returncode == 1:
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", output, re.M)
        return Outcome("killed", seconds, failed[0] if failed else tail)
    if process.returncode == 2 and re.search(
        r"error during collection|SyntaxError|ImportError|NameError", output
    ):
        return Outcome("compile", seconds, tail)
    return Outcome("error", seconds, f"pytest exit {process.returncode}: {tail}")


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGINT first, so pytest tears its fixtures down (PostgreSQL, anvil); then SIGKILL."""
    for sig, grace in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def compiles(mutant: Mutant, root: Path) -> bool:
    """The mutated file still compiles (Vyper) or imports (Python: module-level code runs)."""
    path = root / mutant.spec.path
    if path.suffix == ".vy":
        command = [str(root / ".venv" / "bin" / "vyper"), "-f", "abi", str(path)]
    else:
        module = mutant.spec.path.removesuffix(".py").replace("/", ".")
        command = [str(root / ".venv" / "bin" / "python"), "-c", f"import {module}"]
    done = subprocess.run(command, capture_output=True, cwd=root, env=_env(root))
    return done.returncode == 0


def apply_and_run(mutant: Mutant, root: Path, timeout: float) -> Outcome:
    path = root / mutant.spec.path
    backup = path.read_bytes()
    stat = path.stat()
    text = backup.decode()
    mutated = text[: mutant.start] + mutant.replacement + text[mutant.end :]
    try:
        if path.suffix == ".vy":
            (root / APE_MANIFEST).unlink(missing_ok=True)
        path.write_bytes(mutated.encode())
        # A different mtime than the original's second: no cached bytecode is ever reused.
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        if not compiles(mutant, root):
            return Outcome("compile", 0.0, "does not compile or import")
        return run_tests(mutant.spec, root, timeout)
    finally:
        if path.suffix == ".vy":
            (root / APE_MANIFEST).unlink(missing_ok=True)
        path.write_bytes(backup)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        if path.read_bytes() != backup or git(root, "diff", "--quiet", "--", str(path)).returncode:
            raise SystemExit(f"FATAL: {mutant.spec.path} not restored; restore it by hand")


@dataclass
class TargetResult:
    killed: int = 0
    survived: int = 0
    timeout: int = 0
    compile: int = 0
    equivalent: int = 0
    error: int = 0
    skipped_dirty: list[str] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)
    equivalents: list[str] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return self.killed + self.timeout + self.survived

    @property
    def score(self) -> float | None:
        return (self.killed + self.timeout) / self.scored if self.scored else None

    def as_dict(self) -> dict:
        return {
            "killed": self.killed,
            "timeout": self.timeout,
            "survived": self.survived,
            "compile": self.compile,
            "equivalent": self.equivalent,
            "error": self.error,
            "score": None if self.score is None else round(self.score, 4),
            "skipped_dirty": self.skipped_dirty,
            "survivors": self.survivors,
            "equivalents": self.equivalents,
        }


def select(
    target: str, root: Path, origin: Path, sample: int | None, seed: int, only: list[str]
) -> tuple[list[Mutant], list[str]]:
    """The mutants to run for a target (sampled or picked by id), and the dirty files skipped."""
    dirty = [spec.path for spec in TARGETS[target] if not is_clean(origin, spec.path)]
    pool = [
        mutant
        for spec in TARGETS[target]
        if spec.path not in dirty
        for mutant in mutants_of(target, spec, root)
    ]
    if only:
        return [m for m in pool if any(m.id.startswith(o) for o in only)], dirty
    if sample is not None and sample < len(pool):
        pool = sorted(random.Random(f"{seed}:{target}").sample(pool, sample), key=_order)
    return pool, dirty


def _order(mutant: Mutant) -> tuple[str, int]:
    return mutant.spec.path, mutant.start


def _interrupt(*_: object) -> None:
    """SIGTERM as KeyboardInterrupt, so the restore in `finally` runs."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("--sample", type=int, help="random mutants per target (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="+", default=[], help="mutant ids (or id prefixes)")
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    parser.add_argument(
        "--isolated", action="store_true", help="run in a private copy of the checkout"
    )
    parser.add_argument("--timeout", type=float, help="seconds per mutant (default: from baseline)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress, live

    # Restore-in-finally must run on SIGTERM too.
    signal.signal(signal.SIGTERM, _interrupt)
    origin = REPO
    root = snapshot(origin) if args.isolated and not args.list else origin
    targets = list(TARGETS) if args.target == "all" else [args.target]
    if args.only and args.target == "all":
        paths = {t: [s.path for s in TARGETS[t]] for t in TARGETS}
        targets = [t for t in TARGETS if any(o.startswith(tuple(paths[t])) for o in args.only)]
    results: dict[str, TargetResult] = {}
    started = time.monotonic()
    try:
        for target in targets:
            mutants, dirty = select(target, root, origin, args.sample, args.seed, args.only)
            result = results.setdefault(target, TargetResult(skipped_dirty=dirty))
            for path in dirty:
                print(f"[{target}] skipped {path}: modified in the checkout", flush=True)
            if args.list:
                for mutant in mutants:
                    print(f"{mutant.id}  (line {mutant.line}: {line_of(mutant, root)})")
                print(f"[{target}] {len(mutants)} mutants", flush=True)
                continue
            run_target(target, mutants, root, args.timeout, result)
    finally:
        if root != origin:
            shutil.rmtree(root, ignore_errors=True)
    if args.list:
        return 0
    total = TargetResult()
    for result in results.values():
        for name in ("killed", "survived", "timeout", "compile", "equivalent", "error"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.survivors += result.survivors
    print(f"\n{'target':<12}{'killed':>8}{'timeout':>8}{'survived':>9}{'score':>8}", flush=True)
    for name, result in [*results.items(), ("total", total)]:
        score = "-" if result.score is None else f"{result.score:.0%}"
        print(f"{name:<12}{result.killed:>8}{result.timeout:>8}{result.survived:>9}{score:>8}")
    print(f"compile: {total.compile}, equivalent: {total.equivalent}, error: {total.error}")
    print(f"wall time {time.monotonic() - started:.0f} s")
    for survivor in total.survivors:
        print(f"SURVIVED {survivor}")
    if args.json:
        summary = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "targets": {name: r.as_dict() for name, r in results.items()},
            "total": total.as_dict(),
        }
        print(json.dumps(summary))
    return 1 if total.error else 0


_BASELINES: dict[tuple[tuple[str, ...], tuple[str, ...]], float | None] = {}


def _limit(target: str, spec: FileSpec, root: Path) -> float | None:
    """Seconds a mutant of `spec` may take: from one unmutated run of its selection (shared by
    specs with the same selection); None when that run fails (its mutants cannot be judged)."""
    key = (spec.tests, spec.pytest_args)
    if key not in _BASELINES:
        missing = sorted(set(spec.tests) - set(present_tests(spec, root)))
        if missing:
            print(f"[{target}] {spec.path}: not in this tree, not run: {' '.join(missing)}")
        baseline = run_tests(spec, root, 1800)
        print(f"[{target}] baseline {spec.path}: {baseline.status} in {baseline.seconds:.0f} s")
        if baseline.status != "survived":
            print(f"[{target}] baseline of {spec.path} fails unmutated: {baseline.detail}")
        passed = baseline.status == "survived"
        _BASELINES[key] = max(90.0, 2.5 * baseline.seconds + 30) if passed else None
    return _BASELINES[key]


def run_target(
    target: str, mutants: list[Mutant], root: Path, timeout: float | None, result: TargetResult
) -> None:
    """Baseline each test selection once (it must pass unmutated), then run the mutants."""
    limits: dict[FileSpec, float | None] = {}
    for spec in dict.fromkeys(m.spec for m in mutants):
        limits[spec] = timeout if timeout is not None else _limit(target, spec, root)
    for number, mutant in enumerate(mutants, 1):
        head = f"[{target} {number}/{len(mutants)}] {mutant.id} (line {mutant.line})"
        limit = limits[mutant.spec]
        if limit is None:
            result.error += 1
            print(f"{head}: not run, its test selection fails unmutated", flush=True)
            continue
        if not is_clean(REPO, mutant.spec.path):
            print(f"{head}: skipped, modified in the checkout meanwhile", flush=True)
            if mutant.spec.path not in result.skipped_dirty:
                result.skipped_dirty.append(mutant.spec.path)
            continue
        reason = equivalent_reason(mutant, root)
        if reason:
            result.equivalent += 1
            result.equivalents.append(f"{mutant.id}: {reason}")
            print(f"{head}: equivalent ({reason})", flush=True)
            continue
        print(f"{head} ...", end=" ", flush=True)
        outcome = apply_and_run(mutant, root, limit)
        setattr(result, outcome.status, getattr(result, outcome.status) + 1)
        if outcome.status == "survived":
            result.survivors.append(f"{mutant.id} | {line_of(mutant, root)}")
        print(f"{outcome.status} in {outcome.seconds:.0f} s  {outcome.detail[:100]}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
