"""POST /api/external/interactions/batch: up to 1,000 items, each answered on its own."""

from __future__ import annotations

from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, bearer, count


async def _batch(client, key, items):
    return await client.post(
        "/api/external/interactions/batch", json={"interactions": items}, headers=bearer(key)
    )


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
