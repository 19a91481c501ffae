"""Sponsorship policy, the pure part: what is worth claiming, who pays, the day window.

Plain values in, plain values out (tested without a database or a chain); the
service reads the inputs and applies the answer.

A batch of claims (one transaction) shares the gas it used over its claims in
proportion to the gas each reserved when it was accepted.

Attribution: a claimed token's share of the gas is paid by the product that
pushed the most of that token to the wallet (ties: the lowest product id), so a
product that shares a token with another pays for claims of its own rewards. The
gas of one claim is split equally over its tokens; a token no product pushed (not
through this backend) is paid from the global budget only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Claimable:
    token: str
    amount: int


def day_start(now: datetime) -> datetime:
    """Budgets and per-wallet limits count per UTC calendar day."""
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def seconds_to_next_day(now: datetime) -> int:
    """Retry-After for a refusal that the next UTC day lifts."""
    return max(1, int((day_start(now) + timedelta(days=1) - now).total_seconds()))


def split_by_minimum(
    pending: Mapping[str, int], minimum: Callable[[str], int]
) -> tuple[list[Claimable], list[Claimable]]:
    """(worth claiming, dust): non-zero pending amounts at or above the token's minimum."""
    worth: list[Claimable] = []
    dust: list[Claimable] = []
    for token, amount in pending.items():
        if amount <= 0:
            continue
        (worth if amount >= minimum(token) else dust).append(Claimable(token, amount))
    return worth, dust


def attribute(pushed: Mapping[str, Mapping[str, int]]) -> dict[str, str]:
    """token -> the product that pushed the most of it to this wallet (ties: lowest id)."""
    owners: dict[str, str] = {}
    for token, by_product in pushed.items():
        ranked = sorted(
            ((amount, product) for product, amount in by_product.items() if amount > 0),
            key=lambda item: (-item[0], item[1]),
        )
        if ranked:
            owners[token] = ranked[0][1]
    return owners


def split_gas(gas: int, tokens: Sequence[str], owners: Mapping[str, str]) -> dict[str, int]:
    """product -> its share of `gas`: equal parts per token, the remainder to the first token.

    Shares of tokens without an owner are not charged to any product (they stay
    in the global budget); the shares of the products never exceed `gas`.
    """
    if not tokens:
        return {}
    part, remainder = divmod(gas, len(tokens))
    shares: dict[str, int] = {}
    for index, token in enumerate(tokens):
        product = owners.get(token)
        if product is None:
            continue
        shares[product] = shares.get(product, 0) + part + (remainder if index == 0 else 0)
    return shares


def share_gas(total: int, weights: Sequence[int]) -> list[int]:
    """A batch's gas split over its requests in proportion to `weights` (the gas each
    reserved; equal parts when all are 0): the shares add up to `total` exactly, the
    last request takes the rounding."""
    if not weights:
        return []
    whole = sum(weights)
    parts = list(weights) if whole > 0 else [1] * len(weights)
    whole = sum(parts)
    shares = [total * part // whole for part in parts[:-1]]
    return [*shares, total - sum(shares)]


def over_budget(shares: Mapping[str, int], used_today: Mapping[str, int], budget: int) -> set[str]:
    """Products whose share would take them past their daily gas budget."""
    return {product for product, gas in shares.items() if used_today.get(product, 0) + gas > budget}
