"""Refunds: cancel rewards not yet settled and give their budget back to the campaigns.

Every writer of a campaign's budget, period usage or per-user counters first takes the
campaign's row lock (in id order, like evaluation), so a refund and an evaluation of
the same campaign never interleave.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.models import CampaignStatus
from backend.campaigns.snapshots import (
    LOCK_SQL,
    CampaignRule,
    invalidate_product_campaigns,
    period_start,
)
from backend.rewards import service as rewards


async def cancel_interaction_rewards(
    session: AsyncSession, interaction_ids: Sequence[int], reason: str
) -> rewards.CancelOutcome:
    """Cancel the not-yet-settled rewards of these interactions and give their budget back.

    Rows already batched are flagged `refunded_after_settlement`: settlement cancels their
    batch's nonce on-chain and cancels them (budget back) unless the push wins the race;
    pushed rows keep the flag so the owner sees what was paid for a refund.
    """
    if not interaction_ids:
        return rewards.CancelOutcome([], [])
    campaign_ids = await rewards.campaigns_of_interactions(session, interaction_ids)
    if not campaign_ids:
        return rewards.CancelOutcome([], [])
    rules = await lock_campaigns(session, campaign_ids)
    outcome = await rewards.cancel_pending(session, interaction_ids, reason)
    await give_back(session, rules, outcome.cancelled)
    return outcome


async def cancel_campaign_rewards(
    session: AsyncSession, campaign_id: uuid.UUID, reason: str
) -> list[rewards.CancelledReward]:
    """A campaign that can never pay again (deactivated): its pending rows end cancelled."""
    rules = await lock_campaigns(session, [campaign_id])
    cancelled = await rewards.cancel_pending_of_campaign(session, campaign_id, reason)
    await give_back(session, rules, cancelled)
    return cancelled


async def lock_campaigns(
    session: AsyncSession, campaign_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CampaignRule]:
    """Row-lock campaigns (in id order, like every evaluation) and read their rules."""
    locked = await session.execute(LOCK_SQL, {"ids": sorted(set(campaign_ids))})
    rules = (CampaignRule.from_row(row) for row in locked)
    return {rule.id: rule for rule in rules}


async def give_back(
    session: AsyncSession,
    rules: Mapping[uuid.UUID, CampaignRule],
    cancelled: Sequence[rewards.CancelledReward],
) -> None:
    """Return cancelled rows' budget, per-user counts and period usage to their campaigns.

    The caller holds the campaigns' locks (`lock_campaigns`). A campaign the engine closed
    for its cap reopens; one the chain refused stays closed until its owner acts (reopening
    it would only loop on refused pushes).
    """
    given_back: dict[uuid.UUID, int] = {}
    users: dict[tuple[uuid.UUID, str], list[int]] = {}
    periods: dict[tuple[uuid.UUID, datetime], int] = {}
    for row in cancelled:
        given_back[row.campaign_id] = given_back.get(row.campaign_id, 0) + row.amount
        rule = rules.get(row.campaign_id)
        if rule is not None and rule.budget_period != "total":
            key = (row.campaign_id, period_start(rule.budget_period, row.created_at))
            periods[key] = periods.get(key, 0) + row.amount
        if row.level == 0:
            counter = users.setdefault((row.campaign_id, row.wallet), [0, 0])
            counter[0] += 1
            counter[1] += row.amount
    now = datetime.now(UTC)
    for campaign_id, amount in given_back.items():
        rule = rules[campaign_id]
        reopen = (
            rule.status == CampaignStatus.BUDGET_EXHAUSTED
            and not rule.chain_refused
            and not rule.is_past(now)
        )
        await session.execute(
            text(
                "UPDATE campaigns SET used_budget = GREATEST(used_budget - :amount, 0), "
                "status = CASE WHEN :reopen THEN 'active' ELSE status END, updated_at = now() "
                "WHERE id = :id"
            ),
            {"amount": amount, "reopen": reopen, "id": campaign_id},
        )
        if reopen:
            invalidate_product_campaigns(rule.product_id)
    for (campaign_id, wallet), (count, amount) in users.items():
        await session.execute(
            text(
                "UPDATE campaign_user_rewards "
                "SET reward_count = GREATEST(reward_count - :count, 0),"
                " total_amount = GREATEST(total_amount - :amount, 0), updated_at = now() "
                "WHERE campaign_id = :id AND wallet = :wallet"
            ),
            {"count": count, "amount": amount, "id": campaign_id, "wallet": wallet},
        )
    for (campaign_id, start), amount in periods.items():
        await session.execute(
            text(
                "UPDATE campaign_period_usage SET used = GREATEST(used - :amount, 0) "
                "WHERE campaign_id = :id AND period_start = :start"
            ),
            {"amount": amount, "id": campaign_id, "start": start},
        )
