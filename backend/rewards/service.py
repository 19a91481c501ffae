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


async def cancel_pending(
    session: AsyncSession, interaction_ids: Sequence[int], reason: str
) -> CancelOutcome:
    """Pending rows -> cancelled; batched/pushed rows -> flagged refunded_after_settlement.

    The caller holds the campaigns' row locks and gives the budget back.
    """
    ids = list(interaction_ids)
    cancelled = await session.execute(
        text(
            "UPDATE rewards SET status = 'cancelled', cancelled_reason = :reason, "
            "updated_at = now() WHERE interaction_id = ANY(:ids) AND status = 'pending' "
            "RETURNING id, campaign_id, interaction_id, wallet, level, amount, created_at"
        ),
        {"ids": ids, "reason": reason},
    )
    rows = [
        CancelledReward(
            id=r.id,
            campaign_id=r.campaign_id,
            interaction_id=r.interaction_id,
            wallet=r.wallet,
            level=r.level,
            amount=int(r.amount),
            created_at=r.created_at,
        )
        for r in cancelled
    ]
    settled = await session.execute(
        text(
            "UPDATE rewards SET refunded_after_settlement = true, "
            "cancelled_reason = COALESCE(cancelled_reason, :reason), updated_at = now() "
            "WHERE interaction_id = ANY(:ids) AND status IN ('batched', 'pushed') RETURNING id"
        ),
        {"ids": ids, "reason": reason},
    )
    return CancelOutcome(rows, [r.id for r in settled])
