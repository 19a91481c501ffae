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

# One busy campaign's change rows of `table` deleted and summed back per `keys` in the same
# statement; the rows that sum to nothing are not written back.
COMPACT = """
    WITH busy AS (
        SELECT campaign_id FROM {table}
        GROUP BY campaign_id HAVING count(*) > :keep
        ORDER BY campaign_id LIMIT :campaigns
    ), gone AS (
        DELETE FROM {table} AS t USING busy WHERE t.campaign_id = busy.campaign_id
        RETURNING t.campaign_id, {gone}
    ), folded AS (
        INSERT INTO {table} (campaign_id, {columns})
        SELECT campaign_id, {folded} FROM gone
        GROUP BY {groups}
        HAVING {nonzero}
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) AS folded, (SELECT count(*) FROM folded) AS kept
"""
COMPACT_SQL = text(
    COMPACT.format(
        table="reward_totals",
        gone="t.status, t.n, t.amount, t.held",
        columns="status, n, amount, held",
        folded="status, sum(n), sum(amount), sum(held)",
        groups="1, 2",
        nonzero="sum(n) <> 0 OR sum(amount) <> 0 OR sum(held) <> 0",
    )
)
COMPACT_FRAUD_SQL = text(
    COMPACT.format(
        table="reward_fraud_totals",
        gone="t.day, t.reason, t.outcome, t.n, t.amount",
        columns="day, reason, outcome, n, amount",
        folded="day, reason, outcome, sum(n), sum(amount)",
        groups="1, 2, 3, 4",
        nonzero="sum(n) <> 0 OR sum(amount) <> 0",
    )
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
