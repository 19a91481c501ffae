"""Reward rows: reading what an interaction earned and cancelling what is not settled.

Rows are created by the campaign engine (backend.campaigns.engine), which owns
budgets; this module only touches the `rewards` table. Settlement reads rows
with status `pending` and `available_at <= now()`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class CancelledReward:
    id: int
    campaign_id: uuid.UUID
    interaction_id: int
    wallet: str
    level: int
    amount: int
    created_at: datetime


@dataclass(frozen=True)
class CancelOutcome:
    cancelled: list[CancelledReward]  # were pending: now cancelled, budget given back
    settled: list[int]  # ids already batched or pushed: recorded as refunded after settlement


async def rewards_of_interaction(session: AsyncSession, interaction_id: int) -> list[dict]:
    """The reward rows of one interaction, in the ingestion API's answer shape."""
    rows = await session.execute(
        text(
            "SELECT id, wallet, level, amount, token, campaign_id FROM rewards "
            "WHERE interaction_id = :id ORDER BY campaign_id, level"
        ),
        {"id": interaction_id},
    )
    return [
        {
            "id": row.id,
            "wallet": row.wallet,
            "level": row.level,
            "amount": str(int(row.amount)),
            "token": row.token,
            "campaign_id": str(row.campaign_id),
        }
        for row in rows
    ]


async def campaigns_rewarded(session: AsyncSession, interaction_id: int) -> set[uuid.UUID]:
    rows = await session.execute(
        text("SELECT DISTINCT campaign_id FROM rewards WHERE interaction_id = :id"),
        {"id": interaction_id},
    )
    return {row.campaign_id for row in rows}


async def campaigns_of_interactions(
    session: AsyncSession, interaction_ids: Sequence[int]
) -> set[uuid.UUID]:
    rows = await session.execute(
        text("SELECT DISTINCT campaign_id FROM rewards WHERE interaction_id = ANY(:ids)"),
        {"ids": list(interaction_ids)},
    )
    return {row.campaign_id for row in rows}


# The one way rows become cancelled; each statement differs only in which rows.
_CANCEL = (
    "UPDATE rewards SET status = 'cancelled', refunded_after_settlement = false, "
    "cancelled_reason = COALESCE(cancelled_reason, :reason), updated_at = now() WHERE "
)
_RETURNING = " RETURNING id, campaign_id, interaction_id, wallet, level, amount, created_at"
# held rows (waiting for a fraud review) are not settled either: a refund cancels them too
CANCEL_PENDING_SQL = text(
    _CANCEL + "interaction_id = ANY(:ids) AND status IN ('pending', 'held')" + _RETURNING
)
CANCEL_CAMPAIGN_SQL = text(
    _CANCEL + "campaign_id = :campaign AND status IN ('pending', 'held')" + _RETURNING
)
# fraud: rows not settled yet (just written, or held for review) of these rows or interactions
CANCEL_UNSETTLED_SQL = text(
    _CANCEL
    + "(id = ANY(CAST(:ids AS bigint[])) OR interaction_id = ANY(CAST(:iids AS bigint[]))) "
    + "AND status IN ('pending', 'held')"
    + _RETURNING
)
# a fraud review's rejection: only rows still held (another reviewer may have approved one)
CANCEL_HELD_SQL = text(
    _CANCEL + "id = ANY(CAST(:ids AS bigint[])) AND status = 'held'" + _RETURNING
)
CANCEL_BATCHED_SQL = text(
    _CANCEL
    + "batch_id = :batch AND status = 'batched' AND (refunded_after_settlement OR :every)"
    + _RETURNING
)


async def _cancel(session: AsyncSession, statement: Any, params: dict) -> list[CancelledReward]:
    """Run one cancel statement; the caller gives the rows' budget back."""
    result = await session.execute(statement, params)
    return [
        CancelledReward(
            id=r.id,
            campaign_id=r.campaign_id,
            interaction_id=r.interaction_id,
            wallet=r.wallet,
            level=r.level,
            amount=int(r.amount),
            created_at=r.created_at,
        )
        for r in result
    ]


async def cancel_pending(
    session: AsyncSession, interaction_ids: Sequence[int], reason: str
) -> CancelOutcome:
    """Pending rows -> cancelled; batched/pushed rows -> flagged refunded_after_settlement.

    The caller holds the campaigns' row locks and gives the budget back. A flagged
    batched row is cancelled by settlement when its batch is retired (cancel_batched).
    """
    ids = list(interaction_ids)
    rows = await _cancel(session, CANCEL_PENDING_SQL, {"ids": ids, "reason": reason})
    settled = await session.execute(
        text(
            "UPDATE rewards SET refunded_after_settlement = true, "
            "cancelled_reason = COALESCE(cancelled_reason, :reason), updated_at = now() "
            "WHERE interaction_id = ANY(:ids) AND status IN ('batched', 'pushed') RETURNING id"
        ),
        {"ids": ids, "reason": reason},
    )
    return CancelOutcome(rows, [r.id for r in settled])


async def cancel_pending_of_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, reason: str
) -> list[CancelledReward]:
    """Every pending row of a campaign that can never pay again -> cancelled."""
    return await _cancel(session, CANCEL_CAMPAIGN_SQL, {"campaign": campaign_id, "reason": reason})


async def cancel_unsettled(
    session: AsyncSession,
    *,
    ids: Sequence[int] = (),
    interaction_ids: Sequence[int] = (),
    reason: str,
    held_only: bool = False,
) -> list[CancelledReward]:
    """Pending or held rows (by id, or of interactions; `held_only`: held rows by id) ->
    cancelled; the caller holds their campaigns' locks and gives the budget back
    (backend.fraud.service.refuse)."""
    if held_only:
        return await _cancel(session, CANCEL_HELD_SQL, {"ids": list(ids), "reason": reason})
    return await _cancel(
        session,
        CANCEL_UNSETTLED_SQL,
        {"ids": list(ids), "iids": list(interaction_ids), "reason": reason},
    )


async def cancel_batched(
    session: AsyncSession, batch_id: uuid.UUID, reason: str, *, every_row: bool
) -> list[CancelledReward]:
    """Rows of a retired batch that must not be paid: refunded ones (or all) -> cancelled."""
    return await _cancel(
        session, CANCEL_BATCHED_SQL, {"batch": batch_id, "reason": reason, "every": every_row}
    )


async def release_batched(session: AsyncSession, batch_id: uuid.UUID) -> int:
    """The remaining rows of a retired batch go back to pending, to be batched afresh."""
    result = await session.execute(
        text(
            "UPDATE rewards SET status = 'pending', batch_id = NULL, updated_at = now() "
            "WHERE batch_id = :batch AND status = 'batched'"
        ),
        {"batch": batch_id},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def has_refunded(session: AsyncSession, batch_id: uuid.UUID) -> bool:
    """Whether a refund reached a row of this batch while it was batched."""
    found = await session.scalar(
        text(
            "SELECT 1 FROM rewards WHERE batch_id = :batch AND status = 'batched' "
            "AND refunded_after_settlement LIMIT 1"
        ),
        {"batch": batch_id},
    )
    return found is not None
