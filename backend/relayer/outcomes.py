"""What the transaction tracker records on a relay request when its transaction settles.

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

from backend.relayer.models import RelayCharge, RelayRequest, RelayStatus


async def record_receipt(
    session: AsyncSession, relay_id: uuid.UUID, tx_hash: str, receipt: Any
) -> None:
    """Mined: success or revert, the gas it really used (charges scaled to it)."""
    gas_used = int(receipt["gasUsed"])
    relay = await session.get(RelayRequest, relay_id, with_for_update=True)
    if relay is None:
        return
    if relay.gas_limit > 0:
        await session.execute(
            update(RelayCharge)
            .where(RelayCharge.relay_id == relay_id)
            .values(gas=RelayCharge.gas * gas_used // relay.gas_limit)
        )
    ok = int(receipt["status"]) == 1
    relay.status = RelayStatus.MINED if ok else RelayStatus.FAILED
    relay.gas_limit = max(relay.gas_limit, gas_used)
    relay.gas_used = gas_used
    relay.tx_hash = tx_hash
    relay.block_number = int(receipt["blockNumber"])
    relay.mined_at = datetime.now(UTC)
    if not ok:
        relay.error_code = relay.error_code or "reverted"
        relay.error_message = relay.error_message or "the transaction reverted on-chain"


async def record_dropped(session: AsyncSession, relay_id: uuid.UUID) -> None:
    """Its account nonce was used by a transaction outside Cascade: nothing of ours mined."""
    relay = await session.get(RelayRequest, relay_id, with_for_update=True)
    if relay is None or relay.status not in (RelayStatus.QUEUED, RelayStatus.SENT):
        return
    await session.execute(update(RelayCharge).where(RelayCharge.relay_id == relay_id).values(gas=0))
    relay.status = RelayStatus.FAILED
    relay.gas_used = 0
    relay.error_code = "nonce_used_elsewhere"
    relay.error_message = "the relayer's account nonce was used outside Cascade; ask again"


async def mark_sent(session: AsyncSession, relay_id: uuid.UUID) -> None:
    """The node took the stored bytes (first broadcast or a re-broadcast after a crash)."""
    await session.execute(
        update(RelayRequest)
        .where(RelayRequest.id == relay_id, RelayRequest.status == RelayStatus.QUEUED)
        .values(status=RelayStatus.SENT)
    )
