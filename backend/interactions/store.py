"""Storing interactions: the statements of the request path, and the evaluation queue.

A stored interaction and its queue row are written together; the evaluator
(backend.evaluation) turns queued rows into rewards later. Dedup windows and the
hourly per-wallet limit are decided here, exactly: the lock of the caller's (product,
wallet) is taken first, then the checks read a fresh snapshot. The single
endpoint does all of that in one round trip (`cascade_store_interaction`, a
function created by migration 0006, because a plain statement's snapshot would
predate its own lock); a batch takes its wallets' locks in order, then reads and
inserts with a handful of set-based statements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from asyncpg.exceptions import InterfaceError, PostgresConnectionError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.core import pg_events
from backend.core.db import connection_gone

_json = msgspec.json.Encoder()

STORE_SQL = text(
    """
    SELECT interaction_id AS id, duplicate_of, oldest, now_at AS now
    FROM cascade_store_interaction(
        :product_id, :wallet, :type, CAST(:data AS jsonb), :dedup_key, :referrer, :order_id,
        :flag, :source, :source_ref, CAST(:client_ip AS inet), :session_id, :client_id,
        CAST(:occurred_at AS timestamptz), :window, :limit, :lock_key, :queue)
    """
)
# The same call for the driver itself (asyncpg numbers its parameters).
STORE_DRIVER_SQL = (
    "SELECT interaction_id AS id, duplicate_of, oldest, now_at AS now "
    "FROM cascade_store_interaction($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, "
    "$11::text::inet, $12, $13, $14::timestamptz, $15, $16, $17, $18)"
)
LOCK_SQL = text(
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
)
# One index range scan per (product, wallet) (ix_interactions_product_wallet_received),
# whatever the planner would guess for a join against a growing table.
USAGE_SQL = text(
    """
    SELECT k.p AS product_id, k.w AS wallet, u.used, u.oldest
    FROM unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[])) AS k(p, w)
    CROSS JOIN LATERAL (
        SELECT count(*) AS used, min(i.received_at) AS oldest FROM interactions AS i
        WHERE i.product_id = k.p AND i.wallet = k.w
          AND i.received_at > now() - interval '1 hour'
    ) AS u
    WHERE u.used > 0
    """
)
DEDUP_SQL = text(
    """
    SELECT k.p AS product_id, k.w AS wallet, k.t AS type, k.d AS dedup_key, o.id
    FROM unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[]),
                CAST(:types AS varchar[]), CAST(:keys AS varchar[]), CAST(:windows AS int[]))
         AS k(p, w, t, d, s)
    CROSS JOIN LATERAL (
        SELECT i.id FROM interactions AS i
        WHERE i.product_id = k.p AND i.wallet = k.w AND i.type = k.t AND i.dedup_key = k.d
          AND i.received_at > now() - make_interval(secs => k.s)
        ORDER BY i.received_at LIMIT 1
    ) AS o
    """
)
IDS_SQL = text(
    "SELECT nextval(pg_get_serial_sequence('interactions', 'id')) FROM generate_series(1, :n)"
)
BULK_INSERT_SQL = text(
    """
    WITH stored AS (
        INSERT INTO interactions (id, product_id, wallet, type, data, dedup_key, referrer_wallet,
                                  flag, source, source_ref, client_ip, analytics_session_id,
                                  analytics_client_id, occurred_at)
        SELECT v.id, v.product_id, v.wallet, v.type, CAST(v.data AS jsonb), v.dedup_key,
               v.referrer, v.flag, :source, :source_ref, CAST(:client_ip AS inet),
               v.session_id, v.client_id, COALESCE(v.occurred_at, now())
        FROM unnest(CAST(:ids AS bigint[]), CAST(:products AS varchar[]),
                    CAST(:wallets AS varchar[]), CAST(:types AS varchar[]),
                    CAST(:datas AS text[]), CAST(:keys AS varchar[]),
                    CAST(:referrers AS varchar[]), CAST(:flags AS varchar[]),
                    CAST(:session_ids AS varchar[]), CAST(:client_ids AS varchar[]),
                    CAST(:occurred AS timestamptz[]))
             AS v(id, product_id, wallet, type, data, dedup_key, referrer, flag, session_id,
                  client_id, occurred_at)
        RETURNING id, product_id, received_at
    )
    INSERT INTO evaluation_queue (interaction_id, product_id, received_at)
    SELECT id, product_id, received_at FROM stored
    """
)


def lock_key(product_id: str, wallet: str) -> int:
    """The advisory lock of one wallet on one product (stable across processes).

    One lock per wallet, not per bucket of wallets: two batches of one product with
    different wallets never wait for each other. With 256 buckets a product's batch of
    500 wallets held nearly all of them, and its concurrent batches ran one at a time
    (bench/ingest.py: 10,300 interactions/s, then 15,000/s with a lock per wallet).
    A batch holds at most 1,000 such locks; backend.interactions.batch bounds how many
    batches hold them at once (PostgreSQL's lock table is shared and finite).
    """
    digest = hashlib.blake2b(f"ingest:{product_id}:{wallet}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True)
class Stored:
    """What the store statement did: stored (id), found a duplicate, or hit the limit."""

    id: int | None
    duplicate_of: int | None
    oldest: datetime | None
    now: datetime


async def store_one(
    session: AsyncSession,
    *,
    product_id: str,
    item: Any,
    source: str,
    source_ref: str | None,
    client_ip: str | None,
    window_s: int,
    limit: int | None,
    queue: bool = True,
) -> Stored:
    """Dedup, limit, store and queue one interaction (`item`: a prepared interaction)."""
    guarded = limit is not None or item.dedup_key is not None
    row = (
        await session.execute(
            STORE_SQL,
            {
                "product_id": product_id,
                "wallet": item.wallet,
                "type": item.type,
                "data": _json.encode(item.data).decode(),
                "dedup_key": item.dedup_key,
                "referrer": item.referrer if item.flag is not None else None,
                "order_id": item.order_id,
                "flag": item.flag,
                "source": source,
                "source_ref": source_ref,
                "client_ip": client_ip,
                "session_id": item.analytics_session_id,
                "client_id": item.analytics_client_id,
                "occurred_at": item.occurred_at,
                "window": window_s,
                "limit": limit,
                "lock_key": lock_key(product_id, item.wallet) if guarded else None,
                "queue": queue,
            },
        )
    ).one()
    return Stored(row.id, row.duplicate_of, row.oldest, row.now)


async def store_one_autocommit(
    engine: AsyncEngine,
    *,
    product_id: str,
    item: Any,
    source: str,
    source_ref: str | None,
    client_ip: str | None,
    window_s: int,
    limit: int | None,
) -> Stored:
    """`store_one` as its own transaction, straight on the pool's driver connection.

    The single endpoint's hot path: one round trip and no ORM session, transaction
    or parameter compilation around it (a few hundred microseconds of CPU each). A
    connection that turns out dead is invalidated, so the pool never hands it out
    again, and the error reaches the API's handlers (503).
    """
    guarded = limit is not None or item.dedup_key is not None
    pooled = await engine.raw_connection()  # the pool's connection, without a Connection
    try:
        driver = pooled.driver_connection
        assert driver is not None  # a checked-out connection has its asyncpg connection
        row = await driver.fetchrow(
            STORE_DRIVER_SQL,
            product_id,
            item.wallet,
            item.type,
            _json.encode(item.data).decode(),
            item.dedup_key,
            item.referrer if item.flag is not None else None,
            item.order_id,
            item.flag,
            source,
            source_ref,
            client_ip,
            item.analytics_session_id,
            item.analytics_client_id,
            item.occurred_at,
            window_s,
            limit,
            lock_key(product_id, item.wallet) if guarded else None,
            True,
        )
    except (PostgresConnectionError, InterfaceError, OSError):
        pooled.invalidate()
        raise
    except Exception as exc:
        if not connection_gone(exc):
            raise
        # The server cut the connection mid-statement (asyncpg's protocol is stuck):
        # the same disconnect the ORM path reports, so the caller gets a 503.
        pooled.invalidate()
        raise OperationalError(None, None, exc, connection_invalidated=True) from exc
    finally:
        pooled.close()  # back to the pool (no transaction was begun: nothing to reset)
    return Stored(row["id"], row["duplicate_of"], row["oldest"], row["now"])


async def lock_wallets(session: AsyncSession, pairs: Iterable[tuple[str, str]]) -> None:
    """Take the (product, wallet) locks of a batch, in order (no deadlock)."""
    keys = sorted({lock_key(product_id, wallet) for product_id, wallet in pairs})
    if keys:
        await session.execute(LOCK_SQL, {"keys": keys})


async def usage(
    session: AsyncSession, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, datetime]]:
    """Interactions stored in the last hour per (product, wallet), and the oldest of them."""
    if not pairs:
        return {}
    rows = await session.execute(
        USAGE_SQL, {"products": [p for p, _ in pairs], "wallets": [w for _, w in pairs]}
    )
    return {(r.product_id, r.wallet): (r.used, r.oldest) for r in rows}


async def originals(
    session: AsyncSession, keyed: Sequence[tuple[str, str, str, str, int]]
) -> dict[tuple[str, str, str, str], int]:
    """Interactions inside their dedup window per (product, wallet, type, key); keyed
    items are (product, wallet, type, key, window seconds)."""
    if not keyed:
        return {}
    rows = await session.execute(
        DEDUP_SQL,
        {
            "products": [k[0] for k in keyed],
            "wallets": [k[1] for k in keyed],
            "types": [k[2] for k in keyed],
            "keys": [k[3] for k in keyed],
            "windows": [k[4] for k in keyed],
        },
    )
    return {(r.product_id, r.wallet, r.type, r.dedup_key): r.id for r in rows}


async def store_many(
    session: AsyncSession,
    items: Sequence[tuple[str, Any]],
    *,
    source: str,
    source_ref: str | None,
    client_ip: str | None,
) -> list[int]:
    """Insert and queue (product id, prepared item) pairs in order; their ids, in order."""
    if not items:
        return []
    # ids drawn first, in order: arrival order is id order, item by item
    ids = list((await session.scalars(IDS_SQL, {"n": len(items)})).all())
    await session.execute(
        BULK_INSERT_SQL,
        {
            "source": source,
            "source_ref": source_ref,
            "client_ip": client_ip,
            "ids": ids,
            "products": [product_id for product_id, _ in items],
            "wallets": [p.wallet for _, p in items],
            "types": [p.type for _, p in items],
            "datas": [_json.encode(p.data).decode() for _, p in items],
            "keys": [p.dedup_key for _, p in items],
            "referrers": [p.referrer if p.flag is not None else None for _, p in items],
            "flags": [p.flag for _, p in items],
            "session_ids": [p.analytics_session_id for _, p in items],
            "client_ids": [p.analytics_client_id for _, p in items],
            "occurred": [p.occurred_at for _, p in items],
        },
    )
    return ids


async def dequeue(session: AsyncSession, interaction_ids: Sequence[int]) -> list[int]:
    """Take interactions off the queue before they are evaluated (a refund got there
    first); waits for an evaluator that holds them, so afterwards their rewards are final.
    Returns the ids that were still queued."""
    if not interaction_ids:
        return []
    rows = await session.scalars(
        text(
            "DELETE FROM evaluation_queue WHERE interaction_id = ANY(CAST(:ids AS bigint[])) "
            "RETURNING interaction_id"
        ),
        {"ids": list(interaction_ids)},
    )
    return list(rows.all())


# --- wake-ups -----------------------------------------------------------------------------


def queued(product_ids: Iterable[str]) -> None:
    """Call after the commit that queued interactions: wakes this process's evaluator."""
    for product_id in sorted(set(product_ids)):
        pg_events.dispatch(pg_events.QUEUED_HERE, product_id)
