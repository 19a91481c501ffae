"""Checks on values from browsers and shops, made before Decimal or PostgreSQL sees them.

PostgreSQL refuses NUL in text and jsonb, UTF-8 cannot carry a lone surrogate,
and Decimal will spend half a minute on `1e999000`: each would fail (or stall
the event loop) deep inside a request, after part of it was written. Every
such value is checked here first, in microseconds, and a failure is a 422
with a machine-readable code naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from backend.core.errors import NotFound
from backend.core.errors import invalid as invalid  # re-exported: interactions' callers

AMOUNT_SCALE = 10**18  # currency amounts are stored as integers at 18 decimals
UINT256_LIMIT = 2**256
MAX_JSON_DEPTH = 32  # an order payload nests ~7 levels; interaction data far fewer

# A currency amount: plain decimal digits, at most 78 before the point (uint256 has 78)
# and 36 after (beyond 18 they are truncated anyway). No exponent, sign or spaces
# inside: "49.90", "49", "0.5". Checked on the string before Decimal or int runs.
_AMOUNT = re.compile(r"(?P<whole>[0-9]{1,78})(?:\.(?P<fraction>[0-9]{1,36}))?")
# NUL, and UTF-16 surrogates that are not part of a pair (json.loads lets them through)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CURRENCY_MAX = 16

INVALID_AMOUNT = "invalid_amount"
INVALID_TEXT = "invalid_text"
TOO_DEEP = "json_too_deep"


def parse_amount(value: Any, field: str) -> int:
    """A currency amount ("49.90" or 49) as an integer at 18 decimals; 422 otherwise.

    The one place amounts from outside are read: the shape and length are bounded
    before any arithmetic, so a hostile string costs microseconds. Floats are
    refused: money never passes through binary floating point.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(field, 'must be a decimal string such as "49.90"', INVALID_AMOUNT)
    if isinstance(value, int):
        if value < 0 or value >= UINT256_LIMIT // AMOUNT_SCALE:
            raise invalid(
                field, "must be a non-negative amount below 2^256 base units", INVALID_AMOUNT
            )
        return value * AMOUNT_SCALE
    match = _AMOUNT.fullmatch(value.strip()) if len(value) <= 128 else None
    if match is None:
        raise invalid(
            field,
            'must be a decimal string such as "49.90" (digits, at most one point, no exponent)',
            INVALID_AMOUNT,
        )
    fraction = (match["fraction"] or "")[:18].ljust(18, "0")
    scaled = int(match["whole"]) * AMOUNT_SCALE + int(fraction)
    if scaled >= UINT256_LIMIT:
        raise invalid(field, "is too large", INVALID_AMOUNT)
    return scaled


def check_text(value: str, field: str) -> str:
    """`value` unchanged, or a 422 when it holds NUL or a lone surrogate (unstorable)."""
    if _UNSTORABLE.search(value) is not None:
        raise invalid(field, "contains NUL or an unpaired surrogate", INVALID_TEXT)
    return value


def is_storable(value: str) -> bool:
    """False when `value` holds NUL or a lone surrogate (see check_text)."""
    return _UNSTORABLE.search(value) is None


def optional_text(value: str | None, field: str) -> str | None:
    return None if value is None else check_text(value, field)


def currency(value: Any, field: str) -> str | None:
    """A currency code as shops send it ("EUR"): at most 16 storable characters; "" is None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > _CURRENCY_MAX:
        raise invalid(field, f"a currency code of at most {_CURRENCY_MAX} characters is required")
    return check_text(value, field)


def check_json(value: Any, field: str, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse (422) a JSON document nested deeper than `max_depth` or holding unstorable text.

    Iterative, so a hostile document cannot exhaust the Python stack either.
    """
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            check_text(node, path)
        elif isinstance(node, dict | list):
            if depth >= max_depth:
                raise invalid(path, f"nests deeper than {max_depth} levels", TOO_DEEP)
            if isinstance(node, dict):
                for key, item in node.items():
                    check_text(key, f"{path} (a key)")
                    stack.append((item, f"{path}.{key}", depth + 1))
            else:
                stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node))


def storable(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A copy of a JSON document PostgreSQL can store: NUL and lone surrogates become U+FFFD,
    levels below `max_depth` are dropped (null). For documents kept for the record only
    (a shop's whole order), where refusing the order would be worse than a replaced character.
    """

    def clean(node: Any, depth: int) -> Any:
        if isinstance(node, str):
            return _UNSTORABLE.sub("\ufffd", node)
        if isinstance(node, dict | list) and depth >= max_depth:
            return None
        if isinstance(node, dict):
            return {clean(k, depth): clean(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            return [clean(item, depth + 1) for item in node]
        return node

    return clean(value, 0)


_PRODUCT_ID = re.compile(r"0x[0-9a-f]{64}")


def product_id(value: str) -> str:
    """A product id from a URL, lower-cased; 404 without a query when it cannot be one."""
    lowered = value.lower()
    if _PRODUCT_ID.fullmatch(lowered) is None:
        raise NotFound("product not found", code="product_not_found")
    return lowered
