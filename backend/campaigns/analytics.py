"""The campaign analytics read model: a few SQL aggregates, as JSON or CSV.

Interactions are the product's, per UTC day and type, from the daily counts the
evaluator keeps (`interaction_days`: evaluated, unflagged), never a scan of the raw
interactions. The window is whole UTC days: from the day of starts_at (or creation)
to the day of ends_at (a campaign ending at midnight excludes that day) or today.
Reward figures come from the totals the trigger on `rewards` keeps (migration 0019,
backend.rewards.totals): per status a few change rows to sum, per wallet one row, so
their cost follows the campaign's wallets, not its rewards. The fraud breakdown comes
from the fraud totals the same way (migration 0022): per day, reason and outcome.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.campaigns.models import Campaign
from backend.campaigns.service import load_campaign

COMPLETED_PURCHASE = "purchase.completed"
TOP_REFERRERS = 10


class DayCount(msgspec.Struct):
    day: str
    type: str
    count: int


class Tally(msgspec.Struct):
    count: int
    amount: str


class ClaimedTally(msgspec.Struct):
    count: int
    amount: str
    available: bool  # false until the indexer reports claims; then the figures are real
    note: str


class RewardTotals(msgspec.Struct):
    pending: Tally  # not yet on-chain (pending and batched rows)
    pushed: Tally  # credited on-chain, claimable by the users
    cancelled: Tally
    claimed: ClaimedTally
    held: Tally = msgspec.field(default_factory=lambda: Tally(0, "0"))  # waiting for review


class FraudDay(msgspec.Struct):
    """Rewards a fraud rule held or refused, per UTC day of the reward and reason code.

    `held`: rewards the rule held (whatever the review decided later); `rejected`: rewards
    refused by the rule at evaluation, or rejected after it held them (by a reviewer or
    the product's default decision)."""

    day: str
    reason: str
    outcome: str  # held | rejected
    count: int
    amount: str


class Fraud(msgspec.Struct):
    days: list[FraudDay]
    held_share_bps: int  # rewards ever held, per 10,000 rewards of the campaign


class Budget(msgspec.Struct):
    unlimited: bool
    cap: str
    used: str
    left: str | None  # None when unlimited


class Referrer(msgspec.Struct):
    wallet: str
    rewards: int
    amount: str


class CampaignAnalytics(msgspec.Struct):
    campaign_id: str
    window_start: datetime
    window_end: datetime | None
    interactions: list[DayCount]
    rewards: RewardTotals
    budget: Budget
    top_referrers: list[Referrer]
    rewarded_wallets: int
    completed_purchases: int
    rewards_total: str  # pending + pushed: what the campaign has committed to pay
    cost_per_acquisition: str | None  # rewards_total // completed_purchases; None without any
    fraud: Fraud = msgspec.field(default_factory=lambda: Fraud([], 0))


_INTERACTIONS = text(
    """
    SELECT to_char(day, 'YYYY-MM-DD') AS day, type, count AS n
    FROM interaction_days
    WHERE product_id = :product_id AND day >= :first
      AND (CAST(:after AS date) IS NULL OR day < :after) AND count > 0
    ORDER BY 1, 2
    """
)
_REWARDS = text(
    """
    SELECT CASE WHEN status IN ('pending', 'batched') THEN 'pending' ELSE status END AS s,
           sum(n) AS n, sum(amount) AS total, sum(held) AS held
    FROM reward_totals WHERE campaign_id = :campaign_id
    GROUP BY 1
    """
)
# Held and refused rewards per day, reason and outcome: the totals the trigger keeps
# (migration 0022 holds the rule), summed over the campaign's change rows.
_FRAUD = text(
    """
    SELECT to_char(day, 'YYYY-MM-DD') AS day, reason, outcome, sum(n) AS n,
           sum(amount) AS total
    FROM reward_fraud_totals WHERE campaign_id = :campaign_id
    GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
    """
)
# wallets with a reward not cancelled
_WALLETS = text(
    """
    SELECT count(*) FROM reward_wallet_totals WHERE campaign_id = :campaign_id AND live > 0
    """
)
_REFERRERS = text(
    """
    SELECT wallet, referred AS n, referred_amount AS total FROM reward_wallet_totals
    WHERE campaign_id = :campaign_id AND referred > 0
    ORDER BY n DESC, total DESC, wallet LIMIT :limit
    """
)


async def campaign_analytics(
    session: AsyncSession, principal: Principal, campaign_id: str
) -> CampaignAnalytics:
    """Interactions, rewards, budget, top referrers and cost per purchase of a campaign."""
    campaign = await load_campaign(session, principal, campaign_id, None)
    return await compute(session, campaign)


async def compute(session: AsyncSession, campaign: Campaign) -> CampaignAnalytics:
    keys = {"campaign_id": campaign.id}
    start = campaign.starts_at or campaign.created_at
    window = {
        "product_id": campaign.product_id,
        "first": start.astimezone(UTC).date(),
        "after": _day_after(campaign.ends_at),
    }
    days = [
        DayCount(row.day, row.type, int(row.n))
        for row in await session.execute(_INTERACTIONS, window)
    ]
    by_status: dict[str, tuple[int, int]] = {}
    held_ever = 0  # rewards ever held (the total is the sum of the counts)
    for row in await session.execute(_REWARDS, keys):
        by_status[row.s] = (int(row.n), int(row.total))
        held_ever += int(row.held)
    pending, pushed = by_status.get("pending", (0, 0)), by_status.get("pushed", (0, 0))
    cancelled = by_status.get("cancelled", (0, 0))
    wallets = int(await session.scalar(_WALLETS, keys) or 0)
    referrers = [
        Referrer(row.wallet, int(row.n), str(int(row.total)))
        for row in await session.execute(_REFERRERS, {**keys, "limit": TOP_REFERRERS})
    ]
    fraud_days = [
        FraudDay(row.day, row.reason, row.outcome, int(row.n), str(int(row.total)))
        for row in await session.execute(_FRAUD, keys)
    ]
    total = sum(n for n, _ in by_status.values())
    held = by_status.get("held", (0, 0))
    purchases = sum(d.count for d in days if d.type == COMPLETED_PURCHASE)
    committed = pending[1] + pushed[1]
    cap, used = campaign.budget_cap, campaign.used_budget
    return CampaignAnalytics(
        campaign_id=str(campaign.id),
        window_start=start,
        window_end=campaign.ends_at,
        interactions=days,
        rewards=RewardTotals(
            pending=Tally(pending[0], str(pending[1])),
            pushed=Tally(pushed[0], str(pushed[1])),
            cancelled=Tally(cancelled[0], str(cancelled[1])),
            claimed=ClaimedTally(
                0, "0", False, "claims are not indexed yet; 0 until the indexer reports them"
            ),
            held=Tally(held[0], str(held[1])),
        ),
        budget=Budget(
            unlimited=cap == 0,
            cap=str(cap),
            used=str(used),
            left=None if cap == 0 else str(max(0, cap - used)),
        ),
        top_referrers=referrers,
        rewarded_wallets=wallets,
        completed_purchases=purchases,
        rewards_total=str(committed),
        cost_per_acquisition=str(committed // purchases) if purchases else None,
        fraud=Fraud(
            fraud_days,
            held_ever * 10_000 // total if total else 0,
        ),
    )


def _day_after(end: datetime | None) -> date | None:
    """The first UTC day the window leaves out: ends_at's day, or the next one when
    ends_at falls inside it."""
    if end is None:
        return None
    end = end.astimezone(UTC)
    day = end.date()
    return day if end == datetime.combine(day, time(), UTC) else day + timedelta(days=1)


CSV_COLUMNS = ("metric", "day", "type", "wallet", "count", "amount")
# fraud rows: metric fraud_held / fraud_rejected, `type` = the rule's reason code


def to_csv(report: CampaignAnalytics) -> str:
    """The same figures, one per row: metric,day,type,wallet,count,amount."""
    rows: list[dict[str, Any]] = [
        {"metric": "interactions", "day": d.day, "type": d.type, "count": d.count}
        for d in report.interactions
    ]
    for name in ("pending", "pushed", "cancelled", "claimed", "held"):
        tally = getattr(report.rewards, name)
        rows.append({"metric": f"rewards_{name}", "count": tally.count, "amount": tally.amount})
    rows.append({"metric": "budget_cap", "amount": report.budget.cap})
    rows.append({"metric": "budget_used", "amount": report.budget.used})
    rows.append({"metric": "budget_left", "amount": report.budget.left or ""})
    rows.extend(
        {"metric": "top_referrer", "wallet": r.wallet, "count": r.rewards, "amount": r.amount}
        for r in report.top_referrers
    )
    rows.append({"metric": "rewarded_wallets", "count": report.rewarded_wallets})
    rows.append({"metric": "completed_purchases", "count": report.completed_purchases})
    rows.append({"metric": "rewards_total", "amount": report.rewards_total})
    rows.append({"metric": "cost_per_acquisition", "amount": report.cost_per_acquisition or ""})
    rows.extend(
        {
            "metric": f"fraud_{f.outcome}",
            "day": f.day,
            "type": f.reason,
            "count": f.count,
            "amount": f.amount,
        }
        for f in report.fraud.days
    )
    rows.append({"metric": "fraud_held_share_bps", "count": report.fraud.held_share_bps})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
