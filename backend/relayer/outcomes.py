"""What the transaction tracker records on relay requests when their transaction settles.

A transaction carries one send, or a batch of claims (every request naming it as its
carrier); each outcome applies to every request it carries.

Passed by the relayer's job to `settlement.transactions.track` (as its `RelayOutcomes`)
and called inside the tracker's own commit, so the outcome and the transaction row's
status can never disagree after a crash.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.relayer import policy, repository
from backend.relayer.models import RelayCharge, RelayRequest, RelayStatus


async def record_receipt(
    session: AsyncSession, relay_id: uuid.UUID, tx_hash: str, receipt: Any
) -> None:
    """Mined: success or revert for every request the transaction carries, and the gas it
    really used, shared in proportion to each request's reserved gas (charges scaled)."""
    gas_used = int(receipt["gasUsed"])
    carried = await repository.carried_by(session, relay_id)
    shares = policy.share_gas(gas_used, [relay.gas_limit for relay in carried])
    ok = int(receipt["status"]) == 1
    for relay, share in zip(carried, shares, strict=True):
        if relay.gas_limit > 0:  # its charges, scaled from the gas it reserved to its share
            await session.execute(
                update(RelayCharge)
                .where(RelayCharge.relay_id == relay.id)
                .values(gas=RelayCharge.gas * share // relay.gas_limit)
            )
        relay.status = RelayStatus.MINED if ok else RelayStatus.FAILED
        relay.gas_limit = max(relay.gas_limit, share)
        relay.gas_used = share
        relay.tx_hash = tx_hash
        relay.block_number = int(receipt["blockNumber"])
        relay.mined_at = datetime.now(UTC)
        if not ok:
            relay.error_code = relay.error_code or "reverted"
            relay.error_message = relay.error_message or "the transaction reverted on-chain"


async def record_dropped(session: AsyncSession, relay_id: uuid.UUID) -> None:
    """Its account nonce was used by a transaction outside Cascade: nothing of ours mined."""
    for relay in await repository.carried_by(session, relay_id):
        if relay.status in (RelayStatus.QUEUED, RelayStatus.SENT):
            await fail_unsent(
                session,
                relay,
                "nonce_used_elsewhere",
                "the relayer's account nonce was used outside Cascade; ask again",
            )


async def fail_unsent(session: AsyncSession, relay: RelayRequest, code: str, message: str) -> None:
    """A request nothing of ours mined for: failed with `code`, its gas charges released."""
    await session.execute(update(RelayCharge).where(RelayCharge.relay_id == relay.id).values(gas=0))
    relay.status = RelayStatus.FAILED
    relay.gas_used = 0
    relay.error_code = code
    relay.error_message = message


async def mark_sent(session: AsyncSession, relay_id: uuid.UUID) -> None:
    """The node took the stored bytes (first broadcast or a re-broadcast after a crash)."""
    await session.execute(
        update(RelayRequest)
        .where(RelayRequest.carrier_id == relay_id, RelayRequest.status == RelayStatus.QUEUED)
        .values(status=RelayStatus.SENT)
    )
