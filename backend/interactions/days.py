"""Daily interaction counts (`interaction_days`): added once per evaluated interaction.

The rule, in one place: an interaction counts on (product, UTC day of received_at, type)
once it is evaluated (off the queue) and while it carries no flag. The evaluator adds a
batch's counts in the transaction that deletes the batch's queue rows, so a crash before
that commit adds nothing and a replay adds them once. Only a `purchase.started` claim can
be flagged after its evaluation (an order decided for another wallet,
backend.interactions.orders); `uncount` takes such claims off in that transaction.

Why the claims are read FOR SHARE: a claim being flagged right now (row locked, not
committed) makes the evaluator wait for that commit and then see the flag, so it is
counted by neither side; a claim the evaluator has locked first makes the flagging
UPDATE wait for the evaluator's commit, after which `uncount` sees it off the queue and
takes it off. Other types are never flagged later and are read without a lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CLAIM = "purchase.started"

# Groups are written in key order: two writers of one product's days never deadlock.
# Each interaction is read by its primary key (id, received_at), one lookup per row (a
# LATERAL subquery): a range of received_at across the partitioned table made the planner
# walk a whole (product_id, type, received_at) index instead, a batch of 50 costing 7 ms
# more at 24,000 stored rows and growing with the table (evaluation lag rising run by run).
COUNT_SQL = text(
    """
    WITH batch AS (
        SELECT k.id, k.at
        FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[])) AS k(id, at)
    ), claims AS (
        SELECT i.product_id, i.received_at, i.type FROM batch
        CROSS JOIN LATERAL (
            SELECT x.product_id, x.received_at, x.type FROM interactions AS x
            WHERE x.id = batch.id AND x.received_at = batch.at
              AND x.flag IS NULL AND x.type = 'purchase.started'
            FOR SHARE
        ) AS i
    ), others AS (
        SELECT i.product_id, i.received_at, i.type FROM batch
        CROSS JOIN LATERAL (
            SELECT x.product_id, x.received_at, x.type FROM interactions AS x
            WHERE x.id = batch.id AND x.received_at = batch.at
              AND x.flag IS NULL AND x.type <> 'purchase.started'
            LIMIT 1
        ) AS i
    )
    INSERT INTO interaction_days AS d (product_id, day, type, count)
    SELECT product_id, (received_at AT TIME ZONE 'UTC')::date, type, count(*)
    FROM (SELECT * FROM claims UNION ALL SELECT * FROM others) AS evaluated
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (product_id, day, type) DO UPDATE SET count = d.count + EXCLUDED.count
    """
)
# A fresh statement (not a CTE of the flagging UPDATE): its snapshot must see the queue as
# of after that UPDATE's waits, so an evaluation committed meanwhile is seen as done.
UNCOUNT_SQL = text(
    """
    UPDATE interaction_days AS d SET count = d.count - x.n
    FROM (
        SELECT i.product_id, (i.received_at AT TIME ZONE 'UTC')::date AS day, i.type,
               count(*) AS n
        FROM interactions AS i
        WHERE i.id = ANY(CAST(:ids AS bigint[]))
          AND NOT EXISTS (SELECT 1 FROM evaluation_queue AS q WHERE q.interaction_id = i.id)
        GROUP BY 1, 2, 3
    ) AS x
    WHERE d.product_id = x.product_id AND d.day = x.day AND d.type = x.type
    """
)


async def count_evaluated(
    session: AsyncSession, interactions: Sequence[tuple[int, datetime]]
) -> None:
    """Add these interactions, (id, received_at), being taken off the queue in this
    transaction, to their days (each read by its primary key)."""
    if interactions:
        await session.execute(
            COUNT_SQL,
            {"ids": [i for i, _ in interactions], "ats": [at for _, at in interactions]},
        )


async def uncount(session: AsyncSession, flagged_ids: Sequence[int]) -> None:
    """Take interactions flagged in this transaction off their days, if already counted."""
    if flagged_ids:
        await session.execute(UNCOUNT_SQL, {"ids": list(flagged_ids)})
