"""Storing interactions: the statements of the request path, and the evaluation queue.

A stored interaction and its queue row are written together; the evaluator
(backend.evaluation) turns queued rows into rewards later. Dedup windows and the
hourly per-wallet limit are decided in one place, exactly: `cascade_store_interactions`
(migration 0023) takes a group in arrival order, locks its (product, wallet) pairs in
key order, then checks them against a fresh snapshot (a plain statement's snapshot
would predate its own locks) and stores and queues what passes, in one call. Single
requests reach it in groups (backend.interactions.coalesce, one round trip on the
driver); a batch calls it inside its transaction for each run of plain interactions,
after taking all of its wallets' locks in order; a purchase, for itself.
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

# One group of interactions in arrival order (migration 0023): locks, dedup, hourly limit,
# insert and queue in one call; one row per item, in order.
GROUP_SQL = text(
    """
    SELECT n, interaction_id AS id, duplicate_of, oldest, now_at AS now
    FROM cascade_store_interactions(
        CAST(:products AS varchar[]), CAST(:wallets AS varchar[]), CAST(:types AS varchar[]),
        CAST(:datas AS text[]), CAST(:dedup_keys AS varchar[]), CAST(:referrers AS varchar[]),
        CAST(:order_ids AS varchar[]), CAST(:flags AS varchar[]),
        CAST(:session_ids AS varchar[]), CAST(:client_ids AS varchar[]),
        CAST(:occurred AS timestamptz[]), CAST(:windows AS integer[]),
        CAST(:limits AS integer[]), CAST(:lock_keys AS bigint[]), CAST(:sources AS varchar[]),
        CAST(:source_refs AS varchar[]), CAST(:client_ips AS inet[]), :queue)
    """
)
# The same call for the driver itself (asyncpg numbers its parameters, in GROUP_FIELDS order).
GROUP_DRIVER_SQL = (
    "SELECT n, interaction_id AS id, duplicate_of, oldest, now_at AS now "
    "FROM cascade_store_interactions($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
    "$14, $15, $16, $17::text[]::inet[], $18)"
)
GROUP_FIELDS = (
    "products", "wallets", "types", "datas", "dedup_keys", "referrers", "order_ids", "flags",
    "session_ids", "client_ids", "occurred", "windows", "limits", "lock_keys",
    "sources", "source_refs", "client_ips", "queue",
)  # fmt: skip
LOCK_SQL = text(
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
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
    """What the store call did with one item: stored (id), found a duplicate, or hit the
    limit (`oldest`: the oldest interaction it counted)."""

    id: int | None
    duplicate_of: int | None
    oldest: datetime | None
    now: datetime


@dataclass(frozen=True)
class Entry:
    """One item of a group: a prepared interaction, the rules of its product for its
    caller, and where it came from."""

    product_id: str
    item: Any  # backend.interactions.preparation.Prepared
    window_s: int
    limit: int | None  # the caller's hourly per-wallet limit (None: not limited)
    source: str
    source_ref: str | None = None
    client_ip: str | None = None

    @property
    def lock_key(self) -> int | None:
        """Its wallet's lock, when a check needs one (a limit or a dedup key)."""
        if self.limit is None and self.item.dedup_key is None:
            return None
        return lock_key(self.product_id, self.item.wallet)


def group_params(entries: Sequence[Entry]) -> dict[str, Any]:
    """The store call's parameters, by name (GROUP_FIELDS)."""
    items = [e.item for e in entries]
    return {
        "products": [e.product_id for e in entries],
        "wallets": [i.wallet for i in items],
        "types": [i.type for i in items],
        "datas": [_json.encode(i.data).decode() for i in items],
        "dedup_keys": [i.dedup_key for i in items],
        "referrers": [i.referrer if i.flag is not None else None for i in items],
        "order_ids": [i.order_id for i in items],
        "flags": [i.flag for i in items],
        "session_ids": [i.analytics_session_id for i in items],
        "client_ids": [i.analytics_client_id for i in items],
        "occurred": [i.occurred_at for i in items],
        "windows": [e.window_s for e in entries],
        "limits": [e.limit for e in entries],
        "lock_keys": [e.lock_key for e in entries],
        "sources": [e.source for e in entries],
        "source_refs": [e.source_ref for e in entries],
        "client_ips": [e.client_ip for e in entries],
        "queue": True,  # every stored interaction waits for the evaluator
    }


def _stored(rows: Sequence[Any], count: int) -> list[Stored]:
    assert len(rows) == count, "the store call answers every item"
    return [Stored(r["id"], r["duplicate_of"], r["oldest"], r["now"]) for r in rows]


async def store_in(session: AsyncSession, entries: Sequence[Entry]) -> list[Stored]:
    """Dedup, limit, store and queue a group, in order, inside the session's transaction;
    its wallets' locks are held until that commits."""
    if not entries:
        return []
    rows = (await session.execute(GROUP_SQL, group_params(entries))).mappings().all()
    return _stored(rows, len(entries))


async def store_one(session: AsyncSession, entry: Entry) -> Stored:
    """`store_in` for one interaction."""
    return (await store_in(session, [entry]))[0]


async def store_group(engine: AsyncEngine, entries: Sequence[Entry]) -> list[Stored]:
    """Dedup, limit, store and queue a group, in order, as its own transaction: one round
    trip, straight on the pool's driver connection.

    The single endpoint's hot path (backend.interactions.coalesce): no ORM session,
    transaction or parameter compilation around it (a few hundred microseconds of CPU
    each). A connection that turns out dead is invalidated, so the pool never hands it
    out again, and the error reaches the API's handlers (503).
    """
    params = group_params(entries)
    pooled = await engine.raw_connection()  # the pool's connection, without a Connection
    try:
        driver = pooled.driver_connection
        assert driver is not None  # a checked-out connection has its asyncpg connection
        rows = await driver.fetch(GROUP_DRIVER_SQL, *(params[name] for name in GROUP_FIELDS))
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
    return _stored(rows, len(entries))


async def lock_wallets(session: AsyncSession, entries: Iterable[Entry]) -> None:
    """Take the (product, wallet) locks a batch's entries need, in order (no deadlock)."""
    keys = sorted({key for entry in entries if (key := entry.lock_key) is not None})
    if keys:
        await session.execute(LOCK_SQL, {"keys": keys})


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
