"""One evaluation batch: claim queued interactions, decide what they pay, write it, commit.

Everything of a batch happens in one transaction, so an interaction is evaluated
exactly when the transaction that deletes its queue row commits (a crash anywhere
before leaves it queued, untouched):

1. claim: products at the queue's head that this evaluator can lock (a
   transaction-level advisory lock per product, so a product's interactions are
   evaluated by one evaluator at a time, in arrival order), then their oldest queue
   rows, as many of each product's as the batch holds
   (`FOR UPDATE SKIP LOCKED`), joined with the interactions and, for purchases,
   their orders;
2. load: the active campaigns those interactions may trigger, row-locked and read
   once (backend.campaigns.charges);
3. referrals: claimed edges decided in arrival order against the stored graph
   (backend.referrals.graph), recorded; each interaction's chain as of its arrival;
4. decide: per-user and period counters read once, then the pure engine
   (backend.campaigns.engine.evaluate) says what is paid;
5. apply and mark: one statement writes charges, counters and reward rows, one adds the
   batch to the daily interaction counts (backend.interactions.days), one deletes the
   queue rows and notifies waiting processes; commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.campaigns import charges, engine
from backend.campaigns.snapshots import CampaignRule, invalidate_product_campaigns
from backend.core import pg_events
from backend.core.transient import RETRIES, is_transient
from backend.evaluation import metrics
from backend.evaluation.faults import crash_point
from backend.fraud import screening
from backend.interactions import days
from backend.referrals import graph
from backend.referrals import service as referrals
from backend.referrals.tokens import TokenError, read_token
from backend.rewards.calculator import MAX_LEVELS

log = logging.getLogger(__name__)

BATCH_SIZE = 1_000
REFERRED = "referral.referred"
COMPLETED = "purchase.completed"
# advisory lock namespace of "this product's queue is being evaluated" (two-key form)
PRODUCT_LOCK_SPACE = 0x45564131

# One statement claims a batch (or a part of it, see _claim): the products of the queue's
# :scan oldest rows that this evaluator can lock (a transaction-level advisory lock each,
# taken once per product; :taken are products this batch already holds), then their
# oldest queue rows. Rows another transaction holds are skipped; rows an evaluator deleted
# after this statement's snapshot are skipped too (FOR UPDATE finds them gone), so nothing
# is evaluated twice, and a product's rows are only ever taken by its lock's holder.
CLAIM_SQL = text(
    """
    WITH head AS (
        SELECT interaction_id, product_id FROM evaluation_queue
        WHERE CAST(:only AS varchar[]) IS NULL
           OR product_id = ANY(CAST(:only AS varchar[]))
        ORDER BY interaction_id LIMIT :scan
    ), mine AS MATERIALIZED (
        SELECT product_id FROM (
            SELECT product_id, min(interaction_id) AS first_id FROM head GROUP BY product_id
        ) AS candidates
        WHERE product_id <> ALL(CAST(:taken AS varchar[]))
          AND pg_try_advisory_xact_lock(:space, hashtext(product_id))
    ), share AS (
        SELECT CAST(ceil(CAST(:limit AS numeric) / GREATEST(count(*), 1)) AS bigint) AS rows
        FROM mine
    ), claimed AS (
        -- each product's oldest rows through its (product_id, interaction_id) index, at most
        -- its share of the batch: never a walk of the whole queue for a product whose rows
        -- are fewer than the batch
        SELECT x.interaction_id, x.product_id, x.received_at
        FROM mine CROSS JOIN share
        CROSS JOIN LATERAL (
            SELECT e.interaction_id, e.product_id, e.received_at FROM evaluation_queue AS e
            WHERE e.product_id = mine.product_id
            ORDER BY e.interaction_id LIMIT share.rows
            FOR UPDATE SKIP LOCKED
        ) AS x
        ORDER BY x.interaction_id LIMIT :limit
    )
    SELECT q.interaction_id, q.product_id, i.id IS NOT NULL AS stored, i.wallet, i.type,
           CASE WHEN i.type = 'referral.referred' THEN i.data END AS data, i.flag,
           q.received_at, o.amount AS order_amount,
           COALESCE(o.status = 'completed' AND o.completed_interaction_id = i.id, false)
               AS order_paid,
           EXISTS (SELECT 1 FROM rewards AS r WHERE r.interaction_id = q.interaction_id)
               AS rewarded_before
    FROM claimed AS q
    -- LATERAL ... LIMIT 1 (not pulled up into a join): a primary-key lookup per claimed row,
    -- whatever the statistics of a young or huge table would make the planner try (a hash
    -- of the whole interactions table per batch); received_at prunes it to one month
    LEFT JOIN LATERAL (
        SELECT * FROM interactions AS x
        WHERE x.id = q.interaction_id AND x.received_at = q.received_at
        LIMIT 1
    ) AS i ON true
    LEFT JOIN LATERAL (
        SELECT * FROM orders AS y
        WHERE i.type = 'purchase.completed' AND y.product_id = i.product_id
          AND y.order_id = i.order_id
        LIMIT 1
    ) AS o ON true
    ORDER BY q.interaction_id
    """
)
MARK_SQL = text(
    """
    WITH done AS (
        DELETE FROM evaluation_queue WHERE interaction_id = ANY(CAST(:ids AS bigint[]))
        RETURNING interaction_id
    )
    SELECT count(*) AS evaluated,
           pg_notify(:evaluated_channel, :products) AS notified,
           CASE WHEN :edges <> '' THEN pg_notify(:cache_channel, :edges) END AS edges
    FROM done
    """
)


@dataclass
class Report:
    """What one batch did (empty when there was nothing this evaluator could claim)."""

    evaluated: int = 0
    rewards: int = 0
    products: set[str] = field(default_factory=set)
    lags_s: list[float] = field(default_factory=list)
    closed_products: set[str] = field(default_factory=set)  # a campaign stopped paying
    new_edges: dict[str, list[str]] = field(default_factory=dict)  # product -> wallets


@dataclass(frozen=True)
class _Row:
    interaction_id: int
    product_id: str
    wallet: str
    type: str
    data: dict[str, Any]
    flag: str | None
    received_at: datetime
    order_amount: int | None
    order_paid: bool
    rewarded_before: bool = False  # queued again after an evaluation (never paid twice)


async def evaluate_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    secret: str,
    products: Collection[str] | None = None,
    limit: int = BATCH_SIZE,
    local: Callable[[Report], None] | None = None,
) -> Report:
    """Evaluate one batch (of `products` only, when given); retried on a deadlock.

    Once it is durable, this process's caches and waiters learn of it through `local`
    (default: at once, here); an evaluator on its own thread passes one that hands the
    report to the app's event loop, where those caches live.
    """
    for attempt in range(RETRIES):
        try:
            async with sessions() as session:
                report = await _evaluate(session, secret, products, limit)
        except DBAPIError as exc:
            if not is_transient(exc) or attempt == RETRIES - 1:
                raise
            continue
        if report.evaluated:
            _count(report)
            (local or apply_locally)(report)
        return report
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


async def _evaluate(
    session: AsyncSession, secret: str, only: Collection[str] | None, limit: int
) -> Report:
    now = datetime.now(UTC)
    claimed = await _claim(session, only, limit)
    crash_point("evaluation.claimed")
    if not claimed:
        await session.rollback()
        return Report()
    live = [row for row in claimed if row.flag is None]
    snapshots = await charges.lock_snapshots(
        session, {r.product_id for r in live}, {r.type for r in live}
    )
    crash_point("evaluation.loaded")

    claims, invalid = _referral_claims(live, secret)
    matching = _matching(live, snapshots)
    depth_needed = {
        r.interaction_id: max(
            (snapshots[c].max_depth for c in matching[r.interaction_id]), default=0
        )
        for r in live
    }
    starts = {(r.product_id, r.wallet) for r in live if depth_needed[r.interaction_id]}
    for claim_product, claim in claims:
        starts |= {(claim_product, claim.wallet), (claim_product, claim.referrer)}
    depth = graph.ANCESTOR_LIMIT if claims else max(depth_needed.values(), default=0)
    parents = await referrals.ancestry(session, starts, min(depth, graph.ANCESTOR_LIMIT))
    graphs = {
        product: graph.Graph(parents.get(product, {})) for product in {r.product_id for r in live}
    }
    decisions: dict[int, str | None] = dict.fromkeys(invalid, graph.INVALID_REFERRAL)
    for product, product_graph in graphs.items():
        decisions.update(graph.decide(product_graph, [c for p, c in claims if p == product]))
    referrer_of = {c.interaction_id: c.referrer for _, c in claims}
    received_at = {r.interaction_id: r.received_at for r in live}
    await referrals.record(
        session,
        [
            (iid, received_at[iid], referrer_of.get(iid), flag)
            for iid, flag in sorted(decisions.items())
        ],
    )
    crash_point("evaluation.edges_recorded")

    payable = [
        r
        for r in live
        if decisions.get(r.interaction_id) is None and (r.type != COMPLETED or r.order_paid)
    ]
    items = [
        engine.EvaluationInput(
            r.interaction_id,
            r.product_id,
            r.wallet,
            r.type,
            order_amount_e18=r.order_amount if r.type == COMPLETED else None,
        )
        for r in payable
    ]
    chains = {
        r.interaction_id: graphs[r.product_id].chain(
            r.wallet, before=r.interaction_id, depth=min(depth_needed[r.interaction_id], MAX_LEVELS)
        )
        for r in payable
        if depth_needed[r.interaction_id]
    }
    limits = await charges.load_limits(
        session,
        snapshots,
        [(cid, r.wallet) for r in payable for cid in matching[r.interaction_id]],
        now,
    )
    already = await charges.already_rewarded(
        session,
        [r.interaction_id for r in payable if r.rewarded_before and matching[r.interaction_id]],
    )
    outcome = engine.evaluate(
        items, snapshots, chains, limits, secret=secret, now=now, already=already
    )
    await charges.apply(session, outcome)
    # Fraud rules, inside this transaction: a held or refused reward is never visible as a
    # payable row (refusing gives its budget back through the refund path).
    await screening.screen(
        session,
        outcome,
        {
            r.interaction_id: screening.Paying(
                r.interaction_id,
                r.wallet,
                r.type,
                r.order_amount if r.type == COMPLETED else None,
                chains.get(r.interaction_id, ()),
            )
            for r in payable
        },
    )
    crash_point("evaluation.applied")

    # the analytics' daily counts, in the transaction that takes the batch off the queue
    await days.count_evaluated(session, [(r.interaction_id, r.received_at) for r in claimed])
    products = sorted({r.product_id for r in claimed})
    edges = sorted({p for p, c in claims if decisions.get(c.interaction_id) is None})
    row = (
        await session.execute(
            MARK_SQL,
            {
                "ids": [r.interaction_id for r in claimed],
                "evaluated_channel": pg_events.EVALUATED,
                "products": pg_events.joined(products),
                "cache_channel": pg_events.CACHE,
                "edges": pg_events.joined(edges, "edges") if edges else "",
            },
        )
    ).one()
    crash_point("evaluation.marked")
    await session.commit()
    crash_point("evaluation.committed")
    done = datetime.now(UTC)
    new_edges: dict[str, list[str]] = {}
    for product, claim in claims:
        if decisions.get(claim.interaction_id) is None:
            new_edges.setdefault(product, []).append(claim.wallet)
    return Report(
        evaluated=int(row.evaluated),
        rewards=len(outcome.payouts),
        products=set(products),
        lags_s=[(done - r.received_at).total_seconds() for r in claimed],
        closed_products=outcome.closed_products(),
        new_edges=new_edges,
    )


# A batch first takes the products of the queue's oldest limit // HEAD_SHARE rows and
# up to a batch of their rows: when products have several rows queued (a backlog over many
# products), a batch then touches ~1/HEAD_SHARE as many products, and each product's
# campaigns, limits and daily counts are locked, read and written once for all its rows
# (bench/scale.py --only evaluator: 10,000 campaigns went from 0.55 to 1.05 of the one
# campaign rate). When those products had fewer rows than a batch (traffic spread thin, or
# a few products' runs), the batch is filled from the next products of a longer head in
# the same transaction, so it does not shrink to a tenth.
HEAD_SHARE = 10


async def _claim(session: AsyncSession, only: Collection[str] | None, limit: int) -> list[_Row]:
    """Lock the products this evaluator may work on and their oldest queued rows."""
    narrow = max(limit // HEAD_SHARE, 1)
    rows = list(await _claim_rows(session, only, narrow, limit, []))
    if narrow <= len(rows) < limit:
        # a long queue whose head products had fewer rows than a batch: the rest of the
        # batch from the next products (a product's later rows wait for a later batch)
        taken = sorted({row.product_id for row in rows})
        rows += await _claim_rows(session, only, limit, limit - len(rows), taken)
        rows.sort(key=lambda row: row.interaction_id)
    return _rows(rows)


async def _claim_rows(
    session: AsyncSession, only: Collection[str] | None, scan: int, limit: int, taken: list[str]
) -> list[Any]:
    result = await session.execute(
        CLAIM_SQL,
        {
            "only": sorted(only) if only is not None else None,
            "scan": scan,
            "limit": limit,
            "taken": taken,
            "space": PRODUCT_LOCK_SPACE,
        },
    )
    return list(result)


def _rows(rows: Sequence[Any]) -> list[_Row]:
    """CLAIM_SQL's rows as records. Unpacked by position, in the SELECT's column order: a
    SQLAlchemy Row's attribute access costs about a microsecond a column, which made this
    loop a fifth of the evaluator's CPU (py-spy, 50,000 queued interactions)."""
    claimed: list[_Row] = []
    now = datetime.now(UTC)
    for (
        interaction_id,
        product_id,
        stored,
        wallet,
        type_,
        data,
        flag,
        received_at,
        order_amount,
        order_paid,
        rewarded_before,
    ) in rows:
        if not stored:  # its interaction is gone (product deleted): nothing to evaluate
            claimed.append(_Row(interaction_id, product_id, "", "", {}, "gone", now, None, False))
            continue
        claimed.append(
            _Row(
                interaction_id,
                product_id,
                wallet,
                type_,
                data or {},
                flag,
                received_at,
                None if order_amount is None else int(order_amount),
                bool(order_paid),
                bool(rewarded_before),
            )
        )
    return claimed


def _referral_claims(
    rows: Sequence[_Row], secret: str
) -> tuple[list[tuple[str, graph.Claim]], list[int]]:
    """The referrer each stored referral.referred claims (checked at ingestion: a plain
    checksummed address, or a signed token read again here as of its arrival)."""
    claims: list[tuple[str, graph.Claim]] = []
    invalid: list[int] = []
    for row in rows:
        if row.type != REFERRED:
            continue
        referrer = row.data.get("referrer")
        if not isinstance(referrer, str):
            try:
                referrer = read_token(
                    secret, str(row.data.get("referrer_token")), now=row.received_at
                ).referrer
            except TokenError:
                invalid.append(row.interaction_id)
                continue
        claims.append((row.product_id, graph.Claim(row.interaction_id, row.wallet, referrer)))
    return claims, invalid


def _matching(
    rows: Sequence[_Row], snapshots: dict[uuid.UUID, CampaignRule]
) -> dict[int, list[uuid.UUID]]:
    by_trigger: dict[tuple[str, str], list[uuid.UUID]] = {}
    for cid, rule in snapshots.items():
        by_trigger.setdefault((rule.product_id, rule.trigger), []).append(cid)
    return {r.interaction_id: by_trigger.get((r.product_id, r.type), []) for r in rows}


def _count(report: Report) -> None:
    metrics.EVALUATED.inc(report.evaluated)
    metrics.BATCH_SIZE.observe(report.evaluated)
    for lag in report.lags_s:
        metrics.LAG.observe(max(lag, 0.0))


def apply_locally(report: Report) -> None:
    """What a durable batch changes in this process: caches that could now be stale, and
    the requests waiting for these interactions (on the thread that owns them)."""
    for product in report.closed_products:
        invalidate_product_campaigns(product)
    for product, wallets in report.new_edges.items():
        referrals.edges_committed(product, wallets)
    pg_events.dispatch(pg_events.EVALUATED, ",".join(sorted(report.products)))
