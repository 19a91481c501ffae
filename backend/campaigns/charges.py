"""What an evaluation reads and writes on campaigns, around the pure engine.

`lock_snapshots` row-locks the active campaigns a batch may pay (in id order, the
order every writer of a campaign's budget uses) and reads them once; `load_limits`
reads the per-user and period counters of the limited ones under those locks;
`apply` writes an `Outcome` in one statement: each campaign charged once
with its summed amount, counters incremented, reward rows inserted in bulk.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.engine import Limits, Outcome
from backend.campaigns.snapshots import _COLUMNS, _FROM, CampaignRule, period_start

SNAPSHOTS_SQL = text(
    f"SELECT {_COLUMNS} {_FROM} "
    "WHERE c.product_id = ANY(CAST(:products AS varchar[])) "
    "AND c.trigger = ANY(CAST(:triggers AS varchar[])) AND c.status = 'active' "
    "ORDER BY c.id FOR UPDATE OF c"
)
USER_COUNTS_SQL = text(
    "SELECT u.campaign_id, u.wallet, u.reward_count FROM campaign_user_rewards AS u "
    "JOIN unnest(CAST(:ids AS uuid[]), CAST(:wallets AS varchar[])) AS k(c, w) "
    "ON u.campaign_id = k.c AND u.wallet = k.w"
)
PERIOD_USAGE_SQL = text(
    "SELECT campaign_id, period_start, used FROM campaign_period_usage "
    "WHERE campaign_id = ANY(:ids) AND period_start = ANY(:starts)"
)
REWARDED_SQL = text(
    "SELECT DISTINCT interaction_id, campaign_id FROM rewards "
    "WHERE interaction_id = ANY(CAST(:ids AS bigint[]))"
)

# Every write of a batch in one round trip. Data-modifying CTEs run to completion
# whether or not they are read; increments are safe because the rows are locked.
APPLY_SQL = text(
    """
    WITH budget AS (
        UPDATE campaigns AS c
        SET used_budget = c.used_budget + v.charged, status = v.status,
            status_reason = COALESCE(v.reason, c.status_reason),
            chain_refused = c.chain_refused AND v.reason IS NULL, updated_at = now()
        FROM unnest(CAST(:c_ids AS uuid[]), CAST(:c_charged AS numeric[]),
                    CAST(:c_status AS varchar[]), CAST(:c_reason AS text[]))
             AS v(id, charged, status, reason)
        WHERE c.id = v.id
        RETURNING c.id
    ), users AS (
        INSERT INTO campaign_user_rewards AS u (campaign_id, wallet, reward_count, total_amount)
        SELECT * FROM unnest(CAST(:u_ids AS uuid[]), CAST(:u_wallets AS varchar[]),
                             CAST(:u_counts AS int[]), CAST(:u_amounts AS numeric[]))
        ON CONFLICT (campaign_id, wallet) DO UPDATE
        SET reward_count = u.reward_count + EXCLUDED.reward_count,
            total_amount = u.total_amount + EXCLUDED.total_amount, updated_at = now()
        RETURNING 1
    ), periods AS (
        INSERT INTO campaign_period_usage AS p (campaign_id, period_start, used)
        SELECT * FROM unnest(CAST(:p_ids AS uuid[]), CAST(:p_starts AS timestamptz[]),
                             CAST(:p_used AS numeric[]))
        ON CONFLICT (campaign_id, period_start) DO UPDATE SET used = p.used + EXCLUDED.used
        RETURNING 1
    )
    INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, level, token, amount,
                         available_at, created_at)
    SELECT v.product_id, v.campaign_id, v.interaction_id, v.wallet, v.level, v.token, v.amount,
           now() + make_interval(secs => v.lockup), clock_timestamp()
    FROM unnest(CAST(:r_products AS varchar[]), CAST(:r_campaigns AS uuid[]),
                CAST(:r_interactions AS bigint[]), CAST(:r_wallets AS varchar[]),
                CAST(:r_levels AS smallint[]), CAST(:r_tokens AS varchar[]),
                CAST(:r_amounts AS numeric[]), CAST(:r_lockups AS int[]))
         AS v(product_id, campaign_id, interaction_id, wallet, level, token, amount, lockup)
    """
)


async def lock_snapshots(
    session: AsyncSession, products: Collection[str], triggers: Collection[str]
) -> dict[uuid.UUID, CampaignRule]:
    """The active campaigns of `products` on `triggers`, row-locked until commit."""
    if not products or not triggers:
        return {}
    rows = await session.execute(
        SNAPSHOTS_SQL, {"products": sorted(products), "triggers": sorted(triggers)}
    )
    rules = (CampaignRule.from_row(row) for row in rows)
    return {rule.id: rule for rule in rules}


async def load_limits(
    session: AsyncSession,
    snapshots: Mapping[uuid.UUID, CampaignRule],
    wallets: Iterable[tuple[uuid.UUID, str]],
    now: datetime,
) -> Limits:
    """Per-user counts of the (campaign, wallet) pairs a batch may pay, and the current
    period's usage, for the campaigns that limit them (read under their locks)."""
    limited = {cid for cid, rule in snapshots.items() if rule.max_rewards_per_user}
    pairs = sorted({(cid, wallet) for cid, wallet in wallets if cid in limited})
    user_counts: dict[tuple[uuid.UUID, str], int] = {}
    if pairs:
        rows = await session.execute(
            USER_COUNTS_SQL,
            {"ids": [cid for cid, _ in pairs], "wallets": [wallet for _, wallet in pairs]},
        )
        user_counts = {(row.campaign_id, row.wallet): row.reward_count for row in rows}
    periodic = [cid for cid, rule in snapshots.items() if rule.has_period_cap]
    period_used: dict[tuple[uuid.UUID, datetime], int] = {}
    if periodic:
        starts = sorted({period_start(snapshots[cid].budget_period, now) for cid in periodic})
        rows = await session.execute(PERIOD_USAGE_SQL, {"ids": periodic, "starts": starts})
        period_used = {(row.campaign_id, row.period_start): int(row.used) for row in rows}
    return Limits(user_counts, period_used)


async def already_rewarded(
    session: AsyncSession, interaction_ids: Collection[int]
) -> dict[int, set[uuid.UUID]]:
    """Campaigns that already rewarded these interactions (an interaction queued again)."""
    if not interaction_ids:
        return {}
    rows = await session.execute(REWARDED_SQL, {"ids": list(interaction_ids)})
    found: dict[int, set[uuid.UUID]] = {}
    for row in rows:
        found.setdefault(row.interaction_id, set()).add(row.campaign_id)
    return found


async def apply(session: AsyncSession, outcome: Outcome) -> None:
    """Write a batch's outcome: charges, counters and reward rows (one statement)."""
    if not outcome.campaigns and not outcome.payouts:
        return
    payouts = outcome.payouts
    await session.execute(
        APPLY_SQL,
        {
            "c_ids": [c.campaign_id for c in outcome.campaigns],
            "c_charged": [c.charged for c in outcome.campaigns],
            "c_status": [c.status for c in outcome.campaigns],
            "c_reason": [c.reason for c in outcome.campaigns],
            "u_ids": [cid for cid, _ in outcome.users],
            "u_wallets": [wallet for _, wallet in outcome.users],
            "u_counts": [count for count, _ in outcome.users.values()],
            "u_amounts": [amount for _, amount in outcome.users.values()],
            "p_ids": [cid for cid, _ in outcome.periods],
            "p_starts": [start for _, start in outcome.periods],
            "p_used": list(outcome.periods.values()),
            "r_products": [p.product_id for p in payouts],
            "r_campaigns": [p.campaign_id for p in payouts],
            "r_interactions": [p.interaction_id for p in payouts],
            "r_wallets": [p.wallet for p in payouts],
            "r_levels": [p.level for p in payouts],
            "r_tokens": [p.token for p in payouts],
            "r_amounts": [p.amount for p in payouts],
            "r_lockups": [p.lockup_seconds for p in payouts],
        },
    )
