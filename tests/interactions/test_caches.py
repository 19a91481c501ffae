"""The request path's caches: bounded (LRU), read-only for API keys, invalidated by NOTIFY."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text

from backend.core import pg_events
from backend.core.lru import LruCache
from backend.interactions import callers
from backend.referrals.service import ChainCache
from tests.factories import make_product, wallet
from tests.interactions.helpers import count, rows, send


def test_lru__over_capacity__drops_the_least_recently_used_not_everything():
    cache: LruCache[str, int] = LruCache(3, live_ttl_s=60, dead_ttl_s=60)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        cache.put(key, value)
    assert cache.get("a") == 1  # "a" is now the most recent

    cache.put("d", 4)

    assert [cache.get(k) for k in "abcd"] == [1, None, 3, 4]
    assert (len(cache), cache.evicted) == (3, 1)


def test_lru__invalidated_while_reading__the_stale_value_is_not_kept():
    cache: LruCache[str, int] = LruCache(10, live_ttl_s=60, dead_ttl_s=60)
    before = cache.generation

    cache.pop("k")  # a notification arrives while the database read is in flight
    cache.put("k", 1, since=before)

    assert cache.get("k") is None


def test_chain_cache__over_capacity__evicts_one_chain_not_all():
    chains = ChainCache(max_entries=2)
    product = "0x" + "ab" * 32
    a, b, c = wallet(), wallet(), wallet()
    for who in (a, b):
        chains.put(product, who, (wallet(),), chains.generation(product))
    chains.get(product, a)

    chains.put(product, c, (), chains.generation(product))

    assert chains.get(product, a) is not None and chains.get(product, c) == ()
    assert chains.get(product, b) is None and len(chains) == 2


@contextmanager
def _statements(ctx) -> Iterator[list[str]]:
    """Every statement the app's pooled connections send while the block runs, whether
    through SQLAlchemy or straight on the driver (asyncpg's query logger sees both)."""
    executed: list[str] = []
    watched: list[Any] = []

    def record(query: Any) -> None:
        executed.append(query.query)

    def checkout(dbapi_connection, record_, proxy) -> None:
        driver = dbapi_connection.driver_connection
        if driver not in watched:
            driver.add_query_logger(record)
            watched.append(driver)

    event.listen(ctx.engine.sync_engine.pool, "checkout", checkout)
    try:
        yield executed
    finally:
        event.remove(ctx.engine.sync_engine.pool, "checkout", checkout)
        for driver in watched:
            driver.remove_query_logger(record)


def _driver_introspection(sql: str) -> bool:
    """asyncpg's own queries: the first use of a type (the store's arrays) on a connection
    reads its codec from the catalogue, once per connection."""
    return "typeinfo_tree" in sql or "set_config('jit'" in sql or "current_setting(" in sql


async def test_ingest__keys_and_products_cached__one_statement_and_no_key_write(
    client, db_session, clean_db
):
    shops = [await make_product(db_session) for _ in range(20)]
    for product, key in shops:  # first contact: key and product are read once
        response = await send(client, key, product.id, wallet(), "webshop.open", wait=False)
        assert response.status_code == 202
    with _statements(clean_db) as executed:
        for product, key in shops * 2:
            await send(client, key, product.id, wallet(), "webshop.open", wait=False)
    never = "SELECT count(*) FROM api_keys WHERE last_used_at IS NOT NULL"
    unwritten = await count(db_session, never)
    flushed = await callers.flush_usage(clean_db.sessions)

    ours = [s for s in executed if not _driver_introspection(s)]
    assert len([s for s in ours if "cascade_store_interactions(" in s]) == 40
    assert len(ours) == 40  # nothing but the store: no key read, no key write
    assert unwritten == 0
    assert flushed == 20
    assert await count(db_session, never) == 20


async def test_revoked_key__notification_reaches_the_cache__refused_within_a_second(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    listener = pg_events.Listener(clean_db.database_url)
    listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        assert (await send(client, key, product.id, wallet(), "webshop.open")).status_code == 202
        await db_session.execute(
            text("UPDATE api_keys SET revoked_at = now() WHERE product_id = :p"), {"p": product.id}
        )
        await db_session.commit()
        started = time.monotonic()
        while (
            answer := await send(client, key, product.id, wallet(), "webshop.open")
        ).status_code == 202:
            assert time.monotonic() - started < 1.0, "still accepted after 1 s"
            await asyncio.sleep(0.02)
    finally:
        await listener.stop()

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"


async def test_product_limits_changed__notification_drops_the_cached_settings(
    client, db_session, clean_db
):
    product, key = await make_product(db_session, rate_limit_per_hour=100)
    user = wallet()
    listener = pg_events.Listener(clean_db.database_url)
    listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        assert (await send(client, key, product.id, user, "webshop.open")).status_code == 202
        await db_session.execute(
            text("UPDATE products SET rate_limit_per_hour = 1 WHERE id = :p"), {"p": product.id}
        )
        await db_session.commit()
        started = time.monotonic()
        accepted = 1
        while (
            answer := await send(client, key, product.id, user, "webshop.open")
        ).status_code == 202:  # the old limit, cached until the notification arrives
            accepted += 1
            assert time.monotonic() - started < 1.0, "old limit still applied after 1 s"
            await asyncio.sleep(0.02)
    finally:
        await listener.stop()

    assert answer.status_code == 429
    stored = await rows(db_session, "SELECT count(*) AS n FROM interactions")
    assert stored[0].n == accepted  # each 202 stored one, the refusal nothing
