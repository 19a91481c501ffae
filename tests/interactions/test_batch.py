"""POST /api/external/interactions/batch: up to 1,000 items, each answered on its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.interactions import batch, store
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, bearer, count


async def _batch(client, key, items, *, wait=True):
    return await client.post(
        "/api/external/interactions/batch",
        json={"interactions": items},
        headers=bearer(key, wait=wait),
    )


@asynccontextmanager
async def _wallets_locked(
    engine: AsyncEngine, product_id: str, wallets: list[str]
) -> AsyncIterator[None]:
    """Another transaction holds these wallets' ingestion locks until the block ends."""
    async with engine.connect() as connection, connection.begin():
        await connection.execute(
            store.LOCK_SQL, {"keys": sorted({store.lock_key(product_id, w) for w in wallets})}
        )
        yield


async def _waiting_for_advisory_locks(engine: AsyncEngine, expected: int) -> None:
    for _ in range(200):
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            )
        if waiting == expected:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{waiting} transactions wait for an advisory lock, not {expected}")


async def test_batch__mixed_items__answers_each_in_order(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    user, referrer = wallet(), wallet()
    item = {"product_id": product.id, "wallet": user, "type": "webshop.open"}
    items = [
        {**item, "dedup_key": "a"},
        {**item, "dedup_key": "a"},  # duplicate inside the batch
        {**item, "wallet": user.lower()},  # not checksummed
        {**item, "type": "referral.link_creation", "wallet": referrer},
        {**item, "type": "referral.referred", "data": {"referrer": referrer}},
        {**item, "surprise": True},  # unknown field
        {**item, "type": "purchase.started", "data": {"order_id": "x"}},
    ]

    response = await _batch(client, key, items)

    assert response.status_code == 202
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert [r["status"] for r in results] == [202, 202, 422, 202, 202, 422, 202]
    assert results[1]["duplicate"] is True
    assert results[1]["interaction_id"] == results[0]["interaction_id"]
    assert [int(r["amount"]) for r in results[0]["rewards"]] == [10 * E18]
    assert "wallet" in results[2]["error"]["message"]
    assert results[4]["flag"] is None
    assert await count(db_session, "SELECT count(*) FROM interactions") == 4
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1


async def test_batch__duplicate_of_an_earlier_request__is_answered_duplicate(client, db_session):
    product, key = await make_product(db_session)
    item = {"product_id": product.id, "wallet": wallet(), "type": "webshop.open", "dedup_key": "z"}

    first = await _batch(client, key, [item])
    second = await _batch(client, key, [item])

    assert second.json()["results"][0]["duplicate"] is True
    assert (
        second.json()["results"][0]["interaction_id"]
        == first.json()["results"][0]["interaction_id"]
    )


async def test_batch__over_wallet_rate_limit__later_items_are_429(client, db_session):
    product, key = await make_product(db_session, rate_limit_per_hour=2)
    user = wallet()
    items = [{"product_id": product.id, "wallet": user, "type": "webshop.open"}] * 3

    response = await _batch(client, key, items)

    assert [r["status"] for r in response.json()["results"]] == [202, 202, 429]
    assert await count(db_session, "SELECT count(*) FROM interactions") == 2


async def test_batch__more_than_1000__is_422(client, db_session):
    product, key = await make_product(db_session)
    items = [{"product_id": product.id, "wallet": wallet(), "type": "webshop.open"}] * 1001

    response = await _batch(client, key, items)

    assert response.status_code == 422
    assert await count(db_session, "SELECT count(*) FROM interactions") == 0


async def test_batch__1000_items__all_stored_and_rewarded(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    items = [
        {"product_id": product.id, "wallet": wallet(), "type": "webshop.open"} for _ in range(1000)
    ]

    response = await _batch(client, key, items)

    assert response.status_code == 202
    assert all(r["status"] == 202 for r in response.json()["results"])
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1000
    assert await count(db_session, "SELECT used_budget FROM campaigns") == 1000 * 10 * E18


async def test_batch__other_wallets_locked__does_not_wait_for_them(client, db_session):
    # 2,000 wallets held by another transaction: with locks shared by buckets of wallets
    # they covered every bucket and this batch waited for that transaction to end
    product, key = await make_product(db_session)
    busy, mine = [wallet() for _ in range(2000)], wallet()
    item = {"product_id": product.id, "wallet": mine, "type": "webshop.open"}

    async with _wallets_locked(db_session.bind, product.id, busy):
        response = await asyncio.wait_for(_batch(client, key, [item], wait=False), 10)

    assert response.status_code == 202
    assert response.json()["results"][0]["status"] == 202


async def test_batch__its_wallet_locked__waits_then_stores(client, db_session):
    product, key = await make_product(db_session, rate_limit_per_hour=1)
    user = wallet()
    item = {"product_id": product.id, "wallet": user, "type": "webshop.open"}

    async with _wallets_locked(db_session.bind, product.id, [user]):
        pending = asyncio.create_task(_batch(client, key, [item], wait=False))
        await _waiting_for_advisory_locks(db_session.bind, 1)
        early = pending.done()
    response = await asyncio.wait_for(pending, 10)

    assert not early
    assert response.json()["results"][0]["status"] == 202
    assert await count(db_session, "SELECT count(*) FROM interactions") == 1


async def test_batch__gate_full__the_next_batch_waits_without_a_lock(client, db_session):
    product, key = await make_product(db_session)
    held, free = wallet(), wallet()

    def item(user: str) -> dict[str, str]:
        return {"product_id": product.id, "wallet": user, "type": "webshop.open"}

    async with _wallets_locked(db_session.bind, product.id, [held]):
        blocked = [
            asyncio.create_task(_batch(client, key, [item(held)], wait=False))
            for _ in range(batch.CONCURRENT_BATCHES)
        ]
        await _waiting_for_advisory_locks(db_session.bind, batch.CONCURRENT_BATCHES)
        behind = asyncio.create_task(_batch(client, key, [item(free)], wait=False))
        await asyncio.sleep(0.5)
        early = behind.done()
    answers = await asyncio.wait_for(asyncio.gather(*blocked, behind), 10)

    assert not early  # its wallet was free, but every place in the gate was taken
    assert [a.json()["results"][0]["status"] for a in answers] == [202] * (
        batch.CONCURRENT_BATCHES + 1
    )
    assert await count(db_session, "SELECT count(*) FROM interactions") == (
        batch.CONCURRENT_BATCHES + 1
    )


async def test_batch_and_single_in_parallel__one_wallet__store_exactly_its_limit(
    client, db_session
):
    product, key = await make_product(db_session, rate_limit_per_hour=5)
    user = wallet()
    item = {"product_id": product.id, "wallet": user, "type": "webshop.open"}
    singles = [
        client.post("/api/external/interactions", json=item, headers=bearer(key, wait=False))
        for _ in range(8)
    ]
    batches = [_batch(client, key, [item] * 3, wait=False) for _ in range(4)]

    answers = await asyncio.gather(*singles, *batches)

    statuses = [a.status_code for a in answers[:8]] + [
        r["status"] for a in answers[8:] for r in a.json()["results"]
    ]
    assert sorted(statuses) == [202] * 5 + [429] * 15
    assert await count(db_session, "SELECT count(*) FROM interactions") == 5
