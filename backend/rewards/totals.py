"""Folding the reward totals the triggers on `rewards` append.

Migration 0019 holds the trigger, the one writer of `reward_totals` and
`reward_wallet_totals` (migration 0022's trigger writes `reward_fraud_totals`, folded
alike): every statement that inserts, updates or deletes rewards
appends its net change per (campaign, status) and adjusts the per-wallet figures. The
campaign analytics sum a campaign's change rows, so their count is what a read costs;
`compact` folds each campaign that has gathered more than a few into one row per
status. It only deletes rows it sums in the same statement, so a change appended
meanwhile is never lost, and two compactions at once fold each row once.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

KEEP_ROWS = 16  # a campaign with more change rows than this is folded
CAMPAIGNS_PER_PASS = 1_000

COMPACT_SQL = text(
    """
    WITH busy AS (
        SELECT campaign_id FROM reward_totals
        GROUP BY campaign_id HAVING count(*) > :keep
        ORDER BY campaign_id LIMIT :campaigns
    ), gone AS (
        DELETE FROM reward_totals AS t USING busy WHERE t.campaign_id = busy.campaign_id
        RETURNING t.campaign_id, t.status, t.n, t.amount, t.held
    ), folded AS (
        INSERT INTO reward_totals (campaign_id, status, n, amount, held)
        SELECT campaign_id, status, sum(n), sum(amount), sum(held) FROM gone
        GROUP BY 1, 2
        HAVING sum(n) <> 0 OR sum(amount) <> 0 OR sum(held) <> 0
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) AS folded, (SELECT count(*) FROM folded) AS kept
    """
)

COMPACT_FRAUD_SQL = text(
    """
    WITH busy AS (
        SELECT campaign_id FROM reward_fraud_totals
        GROUP BY campaign_id HAVING count(*) > :keep
        ORDER BY campaign_id LIMIT :campaigns
    ), gone AS (
        DELETE FROM reward_fraud_totals AS t USING busy WHERE t.campaign_id = busy.campaign_id
        RETURNING t.campaign_id, t.day, t.reason, t.outcome, t.n, t.amount
    ), folded AS (
        INSERT INTO reward_fraud_totals (campaign_id, day, reason, outcome, n, amount)
        SELECT campaign_id, day, reason, outcome, sum(n), sum(amount) FROM gone
        GROUP BY 1, 2, 3, 4
        HAVING sum(n) <> 0 OR sum(amount) <> 0
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) AS folded, (SELECT count(*) FROM folded) AS kept
    """
)


async def compact(session: AsyncSession, keep: int = KEEP_ROWS) -> tuple[int, int]:
    """Fold busy campaigns' change rows, per-status and fraud; (rows folded, rows they
    became). The caller commits."""
    params = {"keep": keep, "campaigns": CAMPAIGNS_PER_PASS}
    folded = kept = 0
    for statement in (COMPACT_SQL, COMPACT_FRAUD_SQL):
        row = (await session.execute(statement, params)).one()
        folded, kept = folded + int(row.folded), kept + int(row.kept)
    return folded, kept
