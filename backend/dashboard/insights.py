"""Time series the campaign charts need beyond the analytics report's totals.

backend.campaigns.analytics answers totals (and interactions per day); the
charts also need rewards per day by stage, and rewards per referral level.
These are read-only aggregates over the campaign's own reward rows; callers
load the campaign through the campaigns service first (which authorizes).

A claim is per (wallet, token), not per campaign: a reward counts as claimed on
the day of the wallet's first RewardClaimed of that token at or after its push,
the same attribution the wallet history uses (a claim takes all that is pending).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.models import Campaign

MAX_DAYS = 60  # charts show at most the last 60 days of a campaign
BURN_RATE_DAYS = 7  # the projection uses the average spend of the last week

_PER_DAY = text(
    """
    WITH mine AS (
        SELECT r.id, r.wallet, r.token, r.amount, r.created_at, r.pushed_at
        FROM rewards r
        WHERE r.product_id = :product_id AND r.campaign_id = :campaign_id
          AND r.status <> 'cancelled'
    ), claims AS (
        SELECT m.id, (
            SELECT min(to_timestamp(e.block_timestamp)) FROM chain_events e
            WHERE e.event = 'RewardClaimed' AND e.chain_id = :chain_id
              AND e.wallet = m.wallet AND e.token = m.token
              AND to_timestamp(e.block_timestamp) >= date_trunc('second', m.pushed_at)
        ) AS claimed_at
        FROM mine m WHERE m.pushed_at IS NOT NULL
    )
    SELECT 'earned' AS stage, (m.created_at AT TIME ZONE 'UTC')::date AS day,
           sum(m.amount) AS total
    FROM mine m GROUP BY 2
    UNION ALL
    SELECT 'pushed', (m.pushed_at AT TIME ZONE 'UTC')::date, sum(m.amount)
    FROM mine m WHERE m.pushed_at IS NOT NULL GROUP BY 2
    UNION ALL
    SELECT 'claimed', (c.claimed_at AT TIME ZONE 'UTC')::date, sum(m.amount)
    FROM claims c JOIN mine m ON m.id = c.id WHERE c.claimed_at IS NOT NULL GROUP BY 2
    """
)
_LEVELS = text(
    """
    SELECT level, count(*) AS n FROM rewards
    WHERE product_id = :product_id AND campaign_id = :campaign_id AND status <> 'cancelled'
    GROUP BY level ORDER BY level
    """
)


@dataclass
class RewardSeries:
    """Cumulative amounts at the end of each day: queued (earned, not pushed), pushed, claimed."""

    days: list[date] = field(default_factory=list)
    earned: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    pushed: list[int] = field(default_factory=list)
    claimed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class BurnDown:
    days: list[date]
    remaining: list[int]  # cap minus cumulative spend, per day
    daily_rate: int  # average spend per day over the last week (base units)
    exhausted_on: date | None  # projected; None when nothing is being spent


def day_range(start: datetime, end: datetime | None = None) -> list[date]:
    """Every UTC day from the campaign's start to today (or its end), the last MAX_DAYS."""
    today = datetime.now(UTC).date()
    last = min(end.astimezone(UTC).date(), today) if end else today
    first = max(start.astimezone(UTC).date(), last - timedelta(days=MAX_DAYS - 1))
    if first > last:
        return [last]
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def reward_series(session: AsyncSession, campaign: Campaign, chain_id: int) -> RewardSeries:
    keys = {"product_id": campaign.product_id, "campaign_id": campaign.id, "chain_id": chain_id}
    per_day: dict[str, dict[date, int]] = {"earned": {}, "pushed": {}, "claimed": {}}
    for row in await session.execute(_PER_DAY, keys):
        per_day[row.stage][row.day] = int(row.total)
    days = day_range(campaign.starts_at or campaign.created_at, campaign.ends_at)
    series = RewardSeries(days=days)
    totals = {
        stage: sum(v for d, v in values.items() if d < days[0]) for stage, values in per_day.items()
    }
    for day in days:
        for stage in totals:
            totals[stage] += per_day[stage].get(day, 0)
        series.earned.append(totals["earned"])
        series.pushed.append(totals["pushed"])
        series.claimed.append(totals["claimed"])
        series.queued.append(max(0, totals["earned"] - totals["pushed"]))
    return series


def burn_down(campaign: Campaign, series: RewardSeries) -> BurnDown | None:
    """Remaining budget per day and when, at last week's pace, it runs out (capped only)."""
    cap = campaign.budget_cap
    if not cap:
        return None
    remaining = [max(0, cap - spent) for spent in series.earned]
    window = series.earned[-BURN_RATE_DAYS:]
    before = series.earned[-BURN_RATE_DAYS - 1] if len(series.earned) > BURN_RATE_DAYS else 0
    days_counted = max(1, len(window))
    rate = (window[-1] - before) // days_counted if window else 0
    left = remaining[-1] if remaining else cap
    exhausted: date | None = None
    if left == 0:
        exhausted = series.days[-1]
    elif rate > 0:
        exhausted = series.days[-1] + timedelta(days=-(-left // rate))
    return BurnDown(series.days, remaining, rate, exhausted)


async def rewards_by_level(session: AsyncSession, campaign: Campaign) -> list[tuple[int, int]]:
    """(level, rewards): 0 is the acting user, n the n-th referrer up the chain."""
    keys = {"product_id": campaign.product_id, "campaign_id": campaign.id}
    found = {int(row.level): int(row.n) for row in await session.execute(_LEVELS, keys)}
    deepest = max([campaign.max_depth, *found]) if found else campaign.max_depth
    return [(level, found.get(level, 0)) for level in range(deepest + 1)]
