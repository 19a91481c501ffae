"""The on-chain identity of a campaign: one derivation every caller agrees on."""

from __future__ import annotations

import uuid

from eth_utils import keccak


def chain_campaign_id(campaign_id: uuid.UUID) -> str:
    """bytes32 used by ProductBank budgets: keccak256 of the campaign UUID's 16 bytes."""
    return "0x" + keccak(campaign_id.bytes).hex()
