"""Campaign engine: matching, windows, limits and budgets, including under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from backend.campaigns.snapshots import invalidate_product_campaigns, period_start
from backend.campaigns.transitions import expire_campaigns
from backend.evaluation.batch import evaluate_once
from backend.rewards.calculator import parse_reward_config, range_amount, range_seed
from tests.conftest import TEST_SECRET
from tests.factories import make_campaign, make_product, make_token, wallet
from tests.interactions.helpers import E18, bearer, count, refer, reset_caches, rows, send


@pytest.fixture(autouse=True)
def _fresh_caches():
    reset_caches()
    yield
    reset_caches()


async def _buy(client, key, product_id, buyer=None, order=None, amount=None):
    data = {"order_id": order or wallet()}
    if amount is not None:
        data["amount"] = amount
    return await send(client, key, product_id, buyer or wallet(), "purchase.completed", data)


async def test_budget__50_parallel_purchases_room_for_10__pays_exactly_10(client, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, budget_cap=100 * E18)

    answers = await asyncio.gather(
        *(_buy(client, key, product.id, order=f"order-{i}") for i in range(50))
    )

    assert all(a.status_code == 202 for a in answers), [a.text for a in answers][:3]
    assert sum(1 for a in answers if a.json()["rewards"]) == 10
    assert await count(db_session, "SELECT count(*) FROM rewards") == 10
    assert await count(db_session, "SELECT sum(amount) FROM rewards") == 100 * E18
    state = await rows(
        db_session, "SELECT used_budget, status FROM campaigns WHERE id = :id", id=campaign.id
    )
    assert (int(state[0].used_budget), state[0].status) == (100 * E18, "budget_exhausted")


async def test_budget__parallel_batches_room_for_10__pays_exactly_10(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open", budget_cap=100 * E18)

    async def batch():
        items = [
            {"product_id": product.id, "wallet": wallet(), "type": "webshop.open"}
            for _ in range(20)
        ]
        return await client.post(
            "/api/external/interactions/batch", json={"interactions": items}, headers=bearer(key)
        )

    answers = await asyncio.gather(*(batch() for _ in range(5)))

    assert all(a.status_code == 202 for a in answers)
    paid = sum(1 for a in answers for item in a.json()["results"] if item["rewards"])
    assert paid == 10
    assert await count(db_session, "SELECT sum(amount) FROM rewards") == 100 * E18


async def test_per_user_limit__parallel_interactions__holds(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open", max_rewards_per_user=3)
    user = wallet()

    answers = await asyncio.gather(
        *(send(client, key, product.id, user, "webshop.open") for _ in range(15))
    )

    assert sum(1 for a in answers if a.json()["rewards"]) == 3
    assert (
        await count(
            db_session, "SELECT reward_count FROM campaign_user_rewards WHERE wallet = :w", w=user
        )
        == 3
    )
    other = await send(client, key, product.id, wallet(), "webshop.open")
    assert other.json()["rewards"]


async def test_budget__exhausted__whole_reward_or_nothing(client, db_session):
    product, key = await make_product(db_session)
    referrer, user = wallet(), wallet()
    await send(client, key, product.id, referrer, "referral.link_creation")
    await refer(client, key, product.id, user, referrer)
    # 15 tokens of budget: one full 10-token reward (5 + 5) fits, a second one does not
    campaign = await make_campaign(db_session, product, budget_cap=15 * E18)
    invalidate_product_campaigns(product.id)  # what the business API does

    first = await _buy(client, key, product.id, buyer=user)
    second = await _buy(client, key, product.id, buyer=user)

    assert [int(r["amount"]) for r in first.json()["rewards"]] == [5 * E18, 5 * E18]
    assert second.json()["rewards"] == []
    state = await rows(
        db_session, "SELECT used_budget, status FROM campaigns WHERE id = :id", id=campaign.id
    )
    assert (int(state[0].used_budget), state[0].status) == (10 * E18, "budget_exhausted")


async def test_period_cap__daily__stops_for_the_day_but_stays_active(client, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(
        db_session, product, trigger="webshop.open", budget_period="daily", period_cap=20 * E18
    )

    answers = [await send(client, key, product.id, wallet(), "webshop.open") for _ in range(3)]

    assert [bool(a.json()["rewards"]) for a in answers] == [True, True, False]
    usage = await rows(db_session, "SELECT period_start, used FROM campaign_period_usage")
    assert int(usage[0].used) == 20 * E18
    assert usage[0].period_start == period_start("daily", datetime.now(UTC))
    status = await rows(db_session, "SELECT status FROM campaigns WHERE id = :id", id=campaign.id)
    assert status[0].status == "active"


def test_period_start__weekly_and_monthly__are_iso_week_and_first_day():
    moment = datetime(2026, 11, 19, 15, 30, tzinfo=UTC)  # a Thursday

    assert period_start("daily", moment) == datetime(2026, 11, 19, tzinfo=UTC)
    assert period_start("weekly", moment) == datetime(2026, 11, 16, tzinfo=UTC)
    assert period_start("monthly", moment) == datetime(2026, 11, 1, tzinfo=UTC)


async def test_window__not_started__pays_nothing(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(
        db_session,
        product,
        trigger="webshop.open",
        starts_at=datetime.now(UTC) + timedelta(days=1),
    )

    response = await send(client, key, product.id, wallet(), "webshop.open")

    assert response.json()["rewards"] == []


async def test_window__past_ends_at__expires_at_evaluation(client, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(
        db_session,
        product,
        trigger="webshop.open",
        starts_at=datetime.now(UTC) - timedelta(days=2),
        ends_at=datetime.now(UTC) - timedelta(seconds=1),
    )

    response = await send(client, key, product.id, wallet(), "webshop.open")

    assert response.json()["rewards"] == []
    status = await rows(db_session, "SELECT status FROM campaigns WHERE id = :id", id=campaign.id)
    assert status[0].status == "expired"


async def test_expire_campaigns__job__expires_only_past_campaigns(db_session):
    product, _ = await make_product(db_session)
    past = await make_campaign(
        db_session,
        product,
        starts_at=datetime.now(UTC) - timedelta(days=2),
        ends_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    current = await make_campaign(
        db_session, product, ends_at=datetime.now(UTC) + timedelta(days=1)
    )

    expired = await expire_campaigns(db_session)

    assert expired == 1
    found = dict(
        (r.id, r.status) for r in await rows(db_session, "SELECT id, status FROM campaigns")
    )
    assert found == {past.id: "expired", current.id: "active"}


async def test_requires_referral__no_referrer__pays_nothing(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, requires_referral=True)

    response = await _buy(client, key, product.id)

    assert response.json()["rewards"] == []
    assert await count(db_session, "SELECT used_budget FROM campaigns") == 0


async def test_lockup__reward_available_after_lockup(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, lockup_seconds=3600)

    await _buy(client, key, product.id)

    lag = await rows(
        db_session, "SELECT extract(epoch FROM available_at - created_at) AS s FROM rewards"
    )
    assert 3599 <= float(lag[0].s) <= 3601


async def test_percent_of_purchase__six_decimal_token__uses_token_units(client, db_session):
    product, key = await make_product(db_session)
    await make_token(db_session, product, decimals=6)
    await make_campaign(
        db_session,
        product,
        reward_type="percent_of_purchase",
        reward_config={"bps": 250, "cap": str(4 * 10**6)},
    )

    small = await _buy(client, key, product.id, amount="100.00")
    large = await _buy(client, key, product.id, amount="1000.00")
    unknown = await _buy(client, key, product.id)

    assert [r["amount"] for r in small.json()["rewards"]] == [str(25 * 10**5)]
    assert [r["amount"] for r in large.json()["rewards"]] == [str(4 * 10**6)]  # capped
    assert unknown.json()["rewards"] == []


async def test_tiered__order_amount__picks_the_reached_tier(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(
        db_session,
        product,
        reward_type="tiered",
        reward_config={
            "tiers": [
                {"min_amount": "0", "amount": str(1 * E18)},
                {"min_amount": str(100 * E18), "amount": str(5 * E18)},
            ]
        },
    )

    low = await _buy(client, key, product.id, amount="99.99")
    high = await _buy(client, key, product.id, amount="150")

    assert [r["amount"] for r in low.json()["rewards"]] == [str(E18)]
    assert [r["amount"] for r in high.json()["rewards"]] == [str(5 * E18)]


async def test_range__draw__is_reproducible_from_secret_and_interaction(client, db_session):
    product, key = await make_product(db_session)
    config = {"start": str(E18), "end": str(100 * E18), "beta_bps": 30_000}
    campaign = await make_campaign(
        db_session, product, trigger="webshop.open", reward_type="range", reward_config=config
    )

    response = await send(client, key, product.id, wallet(), "webshop.open")

    body = response.json()
    seed = range_seed(TEST_SECRET, campaign.id, body["interaction_id"])
    parsed = parse_reward_config("range", config)
    expected = range_amount(parsed.start, parsed.end, parsed.beta_bps, seed)
    assert [int(r["amount"]) for r in body["rewards"]] == [expected]
    assert E18 <= expected <= 100 * E18


async def test_reevaluate__same_interaction__never_pays_twice(client, db_session, clean_db):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    user = wallet()
    first = await send(client, key, product.id, user, "webshop.open")
    second_campaign = await make_campaign(db_session, product, trigger="webshop.open")
    invalidate_product_campaigns(product.id)

    # queued again (an operator re-evaluating after adding a campaign): the same path runs
    await db_session.execute(
        text(
            "INSERT INTO evaluation_queue (interaction_id, product_id, received_at) "
            "SELECT id, product_id, received_at FROM interactions WHERE id = :i"
        ),
        {"i": first.json()["interaction_id"]},
    )
    await db_session.commit()
    report = await evaluate_once(clean_db.sessions, secret=TEST_SECRET)

    assert report.evaluated == 1 and report.rewards == 1
    again = await rows(
        db_session,
        "SELECT campaign_id FROM rewards WHERE interaction_id = :i ORDER BY id",
        i=first.json()["interaction_id"],
    )
    assert [r.campaign_id for r in again][1:] == [second_campaign.id]
    assert await count(db_session, "SELECT count(*) FROM rewards") == 2


async def test_paused_after_caching__is_rechecked_under_the_lock(client, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, trigger="webshop.open")
    await send(client, key, product.id, wallet(), "webshop.open")  # caches the campaign
    await db_session.execute(
        text("UPDATE campaigns SET status = 'paused' WHERE id = :id"), {"id": campaign.id}
    )
    await db_session.commit()

    response = await send(client, key, product.id, wallet(), "webshop.open")

    assert response.json()["rewards"] == []


async def test_invalid_reward_config__pays_nothing(client, db_session):
    product, key = await make_product(db_session)
    await make_campaign(
        db_session, product, trigger="webshop.open", reward_config={"amount": "ten"}
    )

    response = await send(client, key, product.id, wallet(), "webshop.open")

    assert response.status_code == 202
    assert response.json()["rewards"] == []


async def test_estimate__chain_of_two__shows_user_and_referrer_shares(client, db_session):
    product, key = await make_product(db_session)
    a, b, user = wallet(), wallet(), wallet()
    await send(client, key, product.id, a, "referral.link_creation")
    await refer(client, key, product.id, b, a)
    await refer(client, key, product.id, user, b)
    campaign = await make_campaign(db_session, product)
    invalidate_product_campaigns(product.id)

    response = await client.get(
        f"/api/external/products/{product.id}/estimate",
        params={"wallet": user, "type": "purchase.completed"},
    )

    assert response.status_code == 200
    [found] = response.json()["campaigns"]
    assert found["campaign_id"] == str(campaign.id)
    assert found["eligible"] is True
    assert (found["base"], found["user"]) == (str(10 * E18), str(5 * E18))
    assert found["referrers"] == [
        {"level": 1, "wallet": b, "amount": str(4 * E18)},
        {"level": 2, "wallet": a, "amount": str(1 * E18)},
    ]
    assert await count(db_session, "SELECT count(*) FROM rewards") == 0


async def test_origins__domains__https_plus_http_for_local_hosts(client, db_session):
    product, _ = await make_product(
        db_session, domain="shop.example", domains=["shop.example", "localhost:3000"]
    )

    response = await client.get(f"/api/external/products/{product.id}/origins")

    assert response.json() == {
        "origins": ["https://shop.example", "https://localhost:3000", "http://localhost:3000"]
    }
    unknown = await client.get(f"/api/external/products/0x{'00' * 32}/origins")
    assert unknown.status_code == 404
