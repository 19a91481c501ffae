"""POST /api/external/interactions: stored once, evaluated, answered with its rewards."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from backend.products.models import Product, Role
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import (
    E18,
    bearer,
    count,
    make_session,
    rows,
    send,
)


async def test_interaction__api_key_and_fixed_campaign__stores_and_rewards(client, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, trigger="webshop.open")
    user = wallet()

    response = await send(client, key, product.id, user, "webshop.open", {"page": "/"})

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["duplicate"] is False
    assert body["flag"] is None
    assert body["rewards"] == [
        {
            "id": body["rewards"][0]["id"],
            "wallet": user,
            "level": 0,
            "amount": str(10 * E18),
            "token": campaign.token,
            "campaign_id": str(campaign.id),
        }
    ]
    assert body["evaluated"] is True
    stored = await rows(
        db_session,
        "SELECT wallet, type, source FROM interactions WHERE id = :id",
        id=body["interaction_id"],
    )
    assert stored[0].wallet == user and stored[0].source == "api_key"
    assert await count(db_session, "SELECT count(*) FROM evaluation_queue") == 0
    assert await count(db_session, "SELECT used_budget FROM campaigns") == 10 * E18


async def test_interaction__lowercase_wallet__is_422_naming_wallet(client, db_session):
    product, key = await make_product(db_session)

    response = await send(client, key, product.id, wallet().lower(), "webshop.open")

    assert response.status_code == 422
    assert "wallet" in response.json()["error"]["message"]
    assert await count(db_session, "SELECT count(*) FROM interactions") == 0


async def test_interaction__unknown_field__is_422(client, db_session):
    product, key = await make_product(db_session)

    response = await send(client, key, product.id, wallet(), "webshop.open", surprise=1)

    assert response.status_code == 422


async def test_interaction__unknown_type__is_422(client, db_session):
    product, key = await make_product(db_session)

    response = await send(client, key, product.id, wallet(), "webshop.teleport")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_type"


async def test_interaction__custom_type__is_accepted(client, db_session):
    product, key = await make_product(db_session)

    response = await send(client, key, product.id, wallet(), "custom.quiz_done")

    assert response.status_code == 202


async def test_interaction__key_of_another_product__is_404(client, db_session):
    product, _ = await make_product(db_session)
    _, other_key = await make_product(db_session)

    response = await send(client, other_key, product.id, wallet(), "webshop.open")

    assert response.status_code == 404
    assert await count(db_session, "SELECT count(*) FROM interactions") == 0


async def test_interaction__key_without_interaction_role__is_403(client, db_session):
    product, key = await make_product(db_session, roles=Role.CAMPAIGN_MANAGER)

    response = await send(client, key, product.id, wallet(), "webshop.open")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_role"


async def test_interaction__no_credentials__is_401(client, db_session):
    product, _ = await make_product(db_session)

    response = await client.post(
        "/api/external/interactions",
        json={"product_id": product.id, "wallet": wallet(), "type": "webshop.open"},
    )

    assert response.status_code == 401


async def test_interaction__session_for_own_wallet__is_accepted(client, db_session):
    product, _ = await make_product(db_session)
    user = wallet()
    token = await make_session(db_session, user)

    response = await send(client, token, product.id, user, "press.read_article")

    assert response.status_code == 202
    stored = "SELECT count(*) FROM interactions WHERE source = 'session'"
    assert await count(db_session, stored) == 1


async def test_interaction__session_for_other_wallet__is_403_wallet_mismatch(client, db_session):
    product, _ = await make_product(db_session)
    token = await make_session(db_session, wallet())

    response = await send(client, token, product.id, wallet(), "webshop.open")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wallet_mismatch"


async def test_interaction__session_sending_purchase_completed__is_403(client, db_session):
    product, _ = await make_product(db_session)
    user = wallet()
    token = await make_session(db_session, user)

    response = await send(client, token, product.id, user, "purchase.completed", {"order_id": "1"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "type_not_allowed"


async def test_dedup__same_key_inside_window__stored_once_with_original_id(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    user = wallet()

    first = await send(client, key, product.id, user, "webshop.open", dedup_key="k1")
    second = await send(client, key, product.id, user, "webshop.open", dedup_key="k1")
    other_key = await send(client, key, product.id, user, "webshop.open", dedup_key="k2")

    assert second.status_code == 202
    assert second.json()["duplicate"] is True
    assert second.json()["interaction_id"] == first.json()["interaction_id"]
    assert second.json()["rewards"] == first.json()["rewards"]
    assert other_key.json()["duplicate"] is False
    assert await count(db_session, "SELECT count(*) FROM interactions") == 2
    assert await count(db_session, "SELECT count(*) FROM rewards") == 2


async def test_dedup__window_passed__stores_again(client, db_session):
    product, key = await make_product(db_session, dedup_window_s=0)
    user = wallet()

    first = await send(client, key, product.id, user, "webshop.open", dedup_key="k1")
    second = await send(client, key, product.id, user, "webshop.open", dedup_key="k1")

    assert second.json()["duplicate"] is False
    assert second.json()["interaction_id"] != first.json()["interaction_id"]


async def test_rate_limit__over_the_hourly_limit__is_429_with_retry_after(client, db_session):
    product, key = await make_product(db_session, rate_limit_per_hour=3)
    user = wallet()

    answers = [await send(client, key, product.id, user, "webshop.open") for _ in range(4)]
    other_wallet = await send(client, key, product.id, wallet(), "webshop.open")

    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[3].json()["error"]["code"] == "rate_limited"
    assert 1 <= int(answers[3].headers["retry-after"]) <= 3601
    assert other_wallet.status_code == 202
    assert await count(db_session, "SELECT count(*) FROM interactions") == 4


async def test_rate_limit__duplicate__is_answered_even_at_the_limit(client, db_session):
    product, key = await make_product(db_session, rate_limit_per_hour=1)
    user = wallet()

    first = await send(client, key, product.id, user, "webshop.open", dedup_key="same")
    again = await send(client, key, product.id, user, "webshop.open", dedup_key="same")

    assert again.status_code == 202
    assert again.json()["interaction_id"] == first.json()["interaction_id"]


async def test_rate_limit__per_source_ip__is_429_for_sessions(client, db_session, monkeypatch):
    from backend.interactions.ratelimit import ip_limiter

    monkeypatch.setattr(ip_limiter, "limit", 2)
    product, _ = await make_product(db_session)
    user = wallet()
    token = await make_session(db_session, user)

    answers = [await send(client, token, product.id, user, "webshop.open") for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert int(answers[2].headers["retry-after"]) >= 1


async def test_purchase_completed__same_order_twice__rewarded_once_ever(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product)
    user = wallet()
    data = {"order_id": "A-1", "amount": "25.00", "currency": "EUR"}

    first = await send(client, key, product.id, user, "purchase.completed", data)
    second = await send(client, key, product.id, user, "purchase.completed", data)

    assert len(first.json()["rewards"]) == 1
    assert second.status_code == 202
    assert second.json()["rewards"] == []
    assert second.json()["flag"] == "order_already_completed"
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1
    order = await rows(db_session, "SELECT status, wallet, amount FROM orders")
    assert (order[0].status, order[0].wallet, int(order[0].amount)) == ("completed", user, 25 * E18)


async def test_purchase_started_then_completed_by_server__links_and_rewards(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product)
    user = wallet()
    token = await make_session(db_session, user)

    started = await send(client, token, product.id, user, "purchase.started", {"order_id": 77})
    done = await send(client, key, product.id, user, "purchase.completed", {"order_id": "77"})
    thief = await send(client, key, product.id, wallet(), "purchase.completed", {"order_id": "77"})

    assert started.status_code == 202
    assert len(done.json()["rewards"]) == 1
    assert thief.json()["flag"] == "order_already_completed"


async def test_interaction__deleted_product__is_404(client, db_session):
    from datetime import UTC, datetime

    product, key = await make_product(db_session)
    await db_session.execute(
        update(Product).where(Product.id == product.id).values(deleted_at=datetime.now(UTC))
    )
    await db_session.commit()

    response = await client.post(
        "/api/external/interactions",
        json={"product_id": product.id, "wallet": wallet(), "type": "webshop.open"},
        headers=bearer(key),
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    "per_user",
    [None, 0, 9],
    ids=["no-campaign", "inline-statement", "locked-path"],  # how both types are stored
)
async def test_dedup__same_key_other_type__both_stored_same_type__once(
    client, db_session, per_user
):
    product, key = await make_product(db_session)
    if per_user is not None:
        for trigger in ("webshop.open", "content.shared"):
            await make_campaign(
                db_session, product, trigger=trigger, max_rewards_per_user=per_user or None
            )
    user = wallet()

    opened = await send(client, key, product.id, user, "webshop.open", dedup_key="same")
    shared = await send(client, key, product.id, user, "content.shared", dedup_key="same")
    opened_again = await send(client, key, product.id, user, "webshop.open", dedup_key="same")
    shared_again = await send(client, key, product.id, user, "content.shared", dedup_key="same")

    assert [r.json()["duplicate"] for r in (opened, shared, opened_again, shared_again)] == [
        False,
        False,
        True,
        True,
    ]
    assert shared.json()["interaction_id"] != opened.json()["interaction_id"]
    assert opened_again.json()["interaction_id"] == opened.json()["interaction_id"]
    assert shared_again.json()["interaction_id"] == shared.json()["interaction_id"]
    stored = await rows(db_session, "SELECT type FROM interactions ORDER BY id")
    assert [r.type for r in stored] == ["webshop.open", "content.shared"]


async def test_dedup__batch__same_key_other_type__both_stored_same_type__once(client, db_session):
    product, key = await make_product(db_session)
    user = wallet()
    item = {"product_id": product.id, "wallet": user, "dedup_key": "same"}
    items = [
        {**item, "type": "webshop.open"},
        {**item, "type": "content.shared"},
        {**item, "type": "webshop.open"},  # a duplicate inside the batch
    ]

    first = await client.post(
        "/api/external/interactions/batch", json={"interactions": items}, headers=bearer(key)
    )
    second = await client.post(
        "/api/external/interactions/batch", json={"interactions": items[1:2]}, headers=bearer(key)
    )

    results = first.json()["results"]
    assert [r["duplicate"] for r in results] == [False, False, True]
    assert results[2]["interaction_id"] == results[0]["interaction_id"]
    assert results[1]["interaction_id"] != results[0]["interaction_id"]
    assert second.json()["results"][0]["duplicate"] is True
    assert second.json()["results"][0]["interaction_id"] == results[1]["interaction_id"]
    assert await count(db_session, "SELECT count(*) FROM interactions") == 2
