"""Several banks' batches in one transaction: ProductBankFactory.pushMany's parts.

A part is one batch's ProductBank push calldata, prefixed by the bank's
productId (the factory derives the bank's address from it, CREATE2) and the gas
forwarded to that call. The factory skips a part that reverts and pays the others,
so a bundle needs no decision of its own afterwards: each batch is resolved from
its nonce on its bank, as if it had been sent alone (backend.settlement.recovery).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from eth_utils import keccak, to_checksum_address

# ProductBankFactory's MAX_PUSH_PARTS, MAX_PUSH_BYTES and PART_HEADER.
MAX_PARTS = 64
MAX_BYTES = 16_384
PART_HEADER = 96
# A bundle carries batches whose own push costs about this much or less; larger
# batches already spread the transaction's fixed cost and go alone.
MAX_PART_GAS = 400_000
REWARDS_PUSHED = keccak(text="RewardsPushed(bytes32,address,bytes32,uint256,uint256)")
# What pushMany adds per part (its loop, the header, the copy of the calldata).
PART_OVERHEAD_GAS = 4_000


@dataclass(frozen=True)
class Part:
    """One batch ready to send: whose bank it pays through and what it costs alone."""

    product_id: str  # 0x + 64 hex, the bank's CREATE2 salt
    gas: int  # the gas of the batch's own push (estimate plus margin)
    calldata: bytes  # a ProductBank push (signer.push_calldata)
    batch_id: uuid.UUID | None = None  # the settlement batch it sends, when there is one


def bank_address(factory: str, product_id: str, initcode_hash: str) -> str:
    """Where `factory` deploys the bank of `product_id` (ProductBankFactory._predict)."""
    digest = keccak(
        b"\xff"
        + bytes.fromhex(factory[2:])
        + bytes.fromhex(product_id[2:])
        + bytes.fromhex(initcode_hash[2:])
    )
    return str(to_checksum_address(digest[12:]))


def encode_parts(parts: Sequence[Part]) -> bytes:
    """The `parts` argument of pushMany: productId | gas | length | calldata, per part."""
    out = bytearray()
    for part in parts:
        out += bytes.fromhex(part.product_id[2:])
        out += part.gas.to_bytes(32, "big")
        out += len(part.calldata).to_bytes(32, "big")
        out += part.calldata
    return bytes(out)


def fits(part: Part) -> bool:
    """Whether a batch may travel in a bundle at all."""
    return part.gas <= MAX_PART_GAS and PART_HEADER + len(part.calldata) <= MAX_BYTES


def by_bank(parts: Sequence[Part]) -> list[Part]:
    """The parts with each bank's next to each other, each bank's in their given order.

    Packed in this order, a bank's batches of one cycle (one per campaign and token) share
    a bundle: the second finds the bank's account, status and nonce words and its book in
    MultiTokenPushPull warm (~16,000 gas less than in a bundle of its own).
    """
    return sorted(parts, key=lambda part: part.product_id)


def pack(parts: Sequence[Part], gas_budget: int) -> list[list[Part]]:
    """Bundles in the given order, each within the factory's limits and `gas_budget`.

    Consecutive parts of one bank are kept in one bundle: when they do not fit in what is
    left of the current bundle but fit in a bundle of their own, a new bundle starts.
    """
    bundles: list[list[Part]] = []
    current: list[Part] = []
    for _, same_bank in groupby(parts, key=lambda part: part.product_id):
        run = list(same_bank)
        if current and _fit(run, gas_budget) and not _fit(current + run, gas_budget):
            bundles.append(current)
            current = []
        for part in run:
            if current and not _fit([*current, part], gas_budget):
                bundles.append(current)
                current = []
            current.append(part)
    if current:
        bundles.append(current)
    return bundles


def _fit(parts: Sequence[Part], gas_budget: int) -> bool:
    """Whether `parts` fit one bundle: the factory's limits and the gas budget."""
    return (
        len(parts) <= MAX_PARTS
        and sum(PART_HEADER + len(part.calldata) for part in parts) <= MAX_BYTES
        and sum(part.gas + PART_OVERHEAD_GAS for part in parts) <= gas_budget
    )


def gas_share(receipt: Any, nonce: str) -> int:
    """The part of a transaction's gas that the batch `nonce` paid in it spent.

    A push sent alone spent all of it; a bundle's gas is split evenly over the batches
    it paid (their RewardsPushed logs), the remainder to the first, so the shares of a
    bundle add up to its gas.
    """
    used = int(receipt["gasUsed"])
    paid = [
        bytes(entry["data"])[:32]
        for entry in receipt["logs"]
        if entry["topics"] and bytes(entry["topics"][0]) == REWARDS_PUSHED
    ]
    if len(paid) <= 1:
        return used
    share, rest = divmod(used, len(paid))
    return share + rest if paid[0] == bytes.fromhex(nonce[2:]) else share
