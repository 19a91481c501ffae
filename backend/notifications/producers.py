"""Turn committed state into owner webhooks: rewards earned, claims, campaign changes.

The ingestion hot path and the status transitions written in SQL do not write
outbox rows themselves; this leader job reads what they committed and writes
the outbox rows in the same transaction that advances its position, so every
event is enqueued exactly once:

- campaign.budget_exhausted / campaign.expired: `campaigns.notified_status`
  trails `status`; a row where they differ is a transition not yet told.
- campaign.budget_low: `check_budget_low` for capped campaigns past the
  threshold (its open alert remembers a crossing was told).
- interaction.rewarded: a cursor over `rewards.id`, reading only rows older than
  a few seconds so a transaction that committed out of id order is not skipped.
- rewards.claimed: a cursor over indexed `RewardClaimed` events, only once they
  are CONFIRMATIONS deep, sent to every product that pushed rewards to that
  wallet in that token (a claim takes all pending of a token at once).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.models import Campaign
from backend.core.context import AppContext
from backend.core.db import job_session
from backend.core.models import Alert
from backend.notifications import events
from backend.notifications.models import NotificationCursor, WebhookEndpoint
from backend.notifications.outbox import budget_low_bps, check_budget_low, enqueue_event
from backend.observability.alerts import CAMPAIGN_BUDGET_LOW
from backend.rewards.models import Reward, RewardStatus
from indexer.models import ChainEvent, IndexerCheckpoint

COMMIT_LAG = timedelta(seconds=5)
PAGE = 1_000
STATUS_EVENTS = {
    "budget_exhausted": events.CAMPAIGN_BUDGET_EXHAUSTED,
    "expired": events.CAMPAIGN_EXPIRED,
}


@dataclass
class ProducerStats:
    campaign_events: int = 0
    budget_low: int = 0
    rewarded: int = 0
    claimed: int = 0


async def produce_events(ctx: AppContext, *, now: datetime | None = None) -> ProducerStats:
    """One pass of every producer; each commits with its own position."""
    stats = ProducerStats()
    now = now or datetime.now(UTC)
    async with job_session(ctx.sessions) as session:
        stats.campaign_events = await campaign_status_events(session)
    async with job_session(ctx.sessions) as session:
        stats.budget_low = await budget_low_events(session)
    async with job_session(ctx.sessions) as session:
        stats.rewarded = await rewarded_events(session, now - COMMIT_LAG)
    async with job_session(ctx.sessions) as session:
        stats.claimed = await claimed_events(session, ctx.settings.confirmations)
    return stats


async def campaign_status_events(session: AsyncSession) -> int:
    changed = (
        await session.scalars(
            select(Campaign)
            .where(Campaign.notified_status.is_distinct_from(Campaign.status))
            .with_for_update(skip_locked=True)
        )
    ).all()
    sent = 0
    for campaign in changed:
        event_type = STATUS_EVENTS.get(campaign.status)
        if event_type is not None:
            await enqueue_event(session, campaign.product_id, event_type, _campaign_data(campaign))
            sent += 1
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(notified_status=campaign.status)
        )
    return sent


async def budget_low_events(session: AsyncSession) -> int:
    """Capped campaigns past the threshold, and those with an open alert (to resolve it)."""
    threshold = budget_low_bps()
    open_subjects = select(Alert.subject).where(
        Alert.code == CAMPAIGN_BUDGET_LOW, Alert.resolved_at.is_(None)
    )
    candidates = (
        await session.scalars(
            select(Campaign).where(
                Campaign.budget_cap > 0,
                or_(
                    Campaign.used_budget * 10_000 >= Campaign.budget_cap * threshold,
                    func.concat("campaign:", Campaign.id).in_(open_subjects),
                ),
            )
        )
    ).all()
    fired = 0
    for campaign in candidates:
        fired += int(await check_budget_low(session, campaign, threshold))
    return fired


async def rewarded_events(session: AsyncSession, before: datetime) -> int:
    cursor = await _cursor(session, "rewards")
    rows = (
        await session.execute(
            select(
                Reward.id,
                Reward.interaction_id,
                Reward.product_id,
                Reward.campaign_id,
                Reward.wallet,
                Reward.level,
                Reward.token,
                Reward.amount,
                Reward.status,
            )
            .where(Reward.id > cursor.position, Reward.created_at < before)
            .order_by(Reward.id)
            .limit(PAGE)
        )
    ).all()
    if not rows:
        return 0
    listening = await _subscribed(session, events.INTERACTION_REWARDED)
    by_interaction: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.product_id in listening:
            by_interaction[(row.product_id, row.interaction_id)].append(
                {
                    "id": row.id,
                    "campaign_id": str(row.campaign_id),
                    "wallet": row.wallet,
                    "level": row.level,
                    "token": row.token,
                    "amount": str(row.amount),
                    # as read now: `held` waits for the product's fraud review (docs/fraud.md)
                    "status": row.status,
                }
            )
    for (product_id, interaction_id), rewards in by_interaction.items():
        await enqueue_event(
            session,
            product_id,
            events.INTERACTION_REWARDED,
            {"interaction_id": interaction_id, "rewards": rewards},
        )
    cursor.position = rows[-1].id
    return len(by_interaction)


async def claimed_events(session: AsyncSession, confirmations: int) -> int:
    indexed_to = await session.scalar(select(func.min(IndexerCheckpoint.block_number)))
    if indexed_to is None:
        return 0
    safe_block = int(indexed_to) - confirmations
    cursor = await _cursor(session, "chain_events")
    rows = (
        await session.scalars(
            select(ChainEvent)
            .where(ChainEvent.id > cursor.position)
            .order_by(ChainEvent.id)
            .limit(PAGE)
        )
    ).all()
    listening = await _subscribed(session, events.REWARDS_CLAIMED)
    sent = 0
    for event in rows:
        if event.block_number > safe_block:
            break  # not final yet: resume here next time
        cursor.position = event.id
        if event.event != "RewardClaimed" or not event.wallet or not event.token:
            continue
        products = (
            await session.scalars(
                select(Reward.product_id)
                .where(
                    func.lower(Reward.wallet) == event.wallet.lower(),
                    func.lower(Reward.token) == event.token.lower(),
                    Reward.status == RewardStatus.PUSHED,
                )
                .distinct()
            )
        ).all()
        for product_id in products:
            if product_id in listening:
                await enqueue_event(
                    session,
                    product_id,
                    events.REWARDS_CLAIMED,
                    {
                        "wallet": event.wallet,
                        "token": event.token,
                        "amount": str(event.amount or 0),
                        "tx_hash": event.tx_hash,
                        "block_number": event.block_number,
                    },
                )
                sent += 1
    return sent


async def _cursor(session: AsyncSession, name: str) -> NotificationCursor:
    await session.execute(
        insert(NotificationCursor).values(name=name, position=0).on_conflict_do_nothing()
    )
    cursor = await session.scalar(
        select(NotificationCursor).where(NotificationCursor.name == name).with_for_update()
    )
    assert cursor is not None
    return cursor


async def _subscribed(session: AsyncSession, event_type: str) -> set[str]:
    """Products with an enabled endpoint for `event_type` (others need no outbox rows)."""
    rows = await session.scalars(
        select(WebhookEndpoint.product_id).where(
            WebhookEndpoint.enabled.is_(True), WebhookEndpoint.events.contains([event_type])
        )
    )
    return set(rows)


def _campaign_data(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "status": campaign.status,
        "reason": campaign.status_reason,
        "token": campaign.token,
        "budget_cap": str(campaign.budget_cap),
        "used_budget": str(campaign.used_budget),
        "ends_at": campaign.ends_at.isoformat() if campaign.ends_at else None,
    }
