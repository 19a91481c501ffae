"""The evaluator against the real database: one transaction per batch, set-wise, in order,
replica-safe, observable."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import event, text

from backend.core import pg_events
from backend.evaluation.batch import PRODUCT_LOCK_SPACE, evaluate_once
from backend.referrals import service as referral_service
from tests.conftest import TEST_SECRET
from tests.evaluator.helpers import age_interactions, drain, sample, store
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, bearer, count, rows, send


async def _statements_of_one_batch(ctx, size: int, client, key, product_id) -> int:
    for _ in range(size):
        await store(client, key, product_id, wallet(), "webshop.open")
    executed: list[str] = []

    def record(conn, cursor, statement, *args):
        executed.append(statement)

    event.listen(ctx.engine.sync_engine, "before_cursor_execute", record)
    try:
        report = await evaluate_once(ctx.sessions, secret=TEST_SECRET)
    finally:
        event.remove(ctx.engine.sync_engine, "before_cursor_execute", record)
    assert report.evaluated == size
    return len(executed)


async def test_batch__110_or_300_interactions__same_statements_and_one_charge(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, trigger="webshop.open")

    # both past the head a batch reads first (a tenth of a batch), so both fill from it
    small = await _statements_of_one_batch(clean_db, 110, client, key, product.id)
    large = await _statements_of_one_batch(clean_db, 300, client, key, product.id)

    assert small == large <= 11  # set-wise: nothing per interaction
    assert await count(db_session, "SELECT count(*) FROM rewards") == 410
    used = "SELECT used_budget FROM campaigns WHERE id = :id"
    assert await count(db_session, used, id=campaign.id) == 410 * 10 * E18
    assert await count(db_session, "SELECT count(*) FROM evaluation_queue") == 0


async def test_batch__referral_then_purchase_in_one_batch__pays_the_referrer(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product)
    referrer, buyer, early = wallet(), wallet(), wallet()
    # `early` buys before it is referred: the chain at its purchase is empty
    await store(client, key, product.id, early, "purchase.completed", order_id="early")
    await store(client, key, product.id, early, "referral.referred", referrer=referrer)
    await store(client, key, product.id, buyer, "referral.referred", referrer=referrer)
    await store(client, key, product.id, buyer, "purchase.completed", order_id="o-1")

    [report] = await drain(clean_db)

    assert report.evaluated == 4
    paid = await rows(
        db_session,
        "SELECT r.wallet, r.level, r.amount, i.order_id FROM rewards AS r "
        "JOIN interactions AS i ON i.id = r.interaction_id ORDER BY i.id, r.level",
    )
    assert [(r.order_id, r.wallet, r.level, int(r.amount)) for r in paid] == [
        ("early", early, 0, 10 * E18),
        ("o-1", buyer, 0, 5 * E18),
        ("o-1", referrer, 1, 5 * E18),
    ]
    edges = await rows(
        db_session,
        "SELECT wallet, referrer_wallet, flag FROM interactions "
        "WHERE type = 'referral.referred' ORDER BY id",
    )
    assert [(e.wallet, e.referrer_wallet, e.flag) for e in edges] == [
        (early, referrer, None),
        (buyer, referrer, None),
    ]


async def test_batch__two_claims_for_one_wallet_in_one_batch__first_wins(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    user, first, second = wallet(), wallet(), wallet()
    one = await store(client, key, product.id, user, "referral.referred", referrer=first)
    two = await store(client, key, product.id, user, "referral.referred", referrer=second)

    await drain(clean_db)

    answers = await send(client, key, product.id, user, "referral.referred", {"referrer": first})
    stored = await rows(
        db_session, "SELECT id, referrer_wallet, flag FROM interactions ORDER BY id"
    )
    assert [(s.id, s.referrer_wallet, s.flag) for s in stored[:2]] == [
        (one, first, None),
        (two, second, "already_referred"),
    ]
    edges = await rows(
        db_session, "SELECT wallet, referrer_wallet, interaction_id FROM referral_edges"
    )
    assert [(e.wallet, e.referrer_wallet, e.interaction_id) for e in edges] == [(user, first, one)]
    assert answers.json()["referral"] == {"recorded": False, "reason": "already_referred"}


async def test_batch__product_locked_by_another_evaluator__skipped_others_evaluated(
    client, db_session, clean_db
):
    busy, busy_key = await make_product(db_session)
    free, free_key = await make_product(db_session)
    for product, key in ((busy, busy_key), (free, free_key)):
        await make_campaign(db_session, product, trigger="webshop.open")
        await store(client, key, product.id, wallet(), "webshop.open")

    async with clean_db.engine.connect() as other:  # another evaluator holds `busy`
        await other.execute(
            text("SELECT pg_advisory_xact_lock(:s, hashtext(:p))"),
            {"s": PRODUCT_LOCK_SPACE, "p": busy.id},
        )
        report = await evaluate_once(clean_db.sessions, secret=TEST_SECRET)
        await other.rollback()

    assert (report.evaluated, report.products) == (1, {free.id})
    queued = await rows(db_session, "SELECT product_id FROM evaluation_queue")
    assert [q.product_id for q in queued] == [busy.id]


async def test_batch__four_evaluators_at_once__each_interaction_evaluated_once(
    client, db_session, clean_db
):
    products = [await make_product(db_session) for _ in range(3)]
    campaigns = [
        await make_campaign(db_session, product, trigger="webshop.open", budget_cap=1000 * E18)
        for product, _ in products
    ]
    for n in range(300):
        product, key = products[n % 3]
        await store(client, key, product.id, wallet(), "webshop.open")

    async def evaluator() -> int:
        done = 0
        while True:
            report = await evaluate_once(clean_db.sessions, secret=TEST_SECRET, limit=25)
            if not report.evaluated:
                async with clean_db.sessions() as own:
                    if not await count(own, "SELECT count(*) FROM evaluation_queue"):
                        return done
                await asyncio.sleep(0.01)
            done += report.evaluated

    done = await asyncio.gather(*(evaluator() for _ in range(4)))

    assert sum(done) == 300
    assert await count(db_session, "SELECT count(*) FROM rewards") == 300
    once = (
        "SELECT count(*) FROM (SELECT interaction_id FROM rewards GROUP BY 1 HAVING count(*) > 1) d"
    )
    assert await count(db_session, once) == 0
    for campaign in campaigns:
        used = "SELECT used_budget FROM campaigns WHERE id = :id"
        assert await count(db_session, used, id=campaign.id) == 100 * 10 * E18


async def test_batch__refund_before_evaluation__never_paid(client, db_session, clean_db):
    from tests.interactions.test_webhooks import CUSTOM_SECRET, _custom_headers

    product, key = await make_product(db_session, webhook_secrets={"custom": [CUSTOM_SECRET]})
    campaign = await make_campaign(db_session, product)
    buyer = wallet()
    completed = await store(client, key, product.id, buyer, "purchase.completed", order_id="R-1")
    body = b'{"type": "purchase.refunded", "data": {"order_id": "R-1"}}'

    refund = await client.post(
        f"/api/external/webhooks/{product.id}/custom", content=body, headers=_custom_headers(body)
    )
    await drain(clean_db)

    assert refund.status_code == 200 and refund.json()["cancelled_rewards"] == []
    assert await count(db_session, "SELECT count(*) FROM rewards") == 0
    flag = await rows(db_session, "SELECT flag FROM interactions WHERE id = :i", i=completed)
    assert flag[0].flag == "order_refunded"
    used = "SELECT used_budget FROM campaigns WHERE id = :id"
    assert await count(db_session, used, id=campaign.id) == 0


async def test_metrics__one_batch_of_3__evaluated_batch_size_and_lag_move(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    for _ in range(3):
        await store(client, key, product.id, wallet(), "webshop.open")
    await age_interactions(db_session, 2)
    before = {
        name: sample(name)
        for name in (
            "cascade_interactions_evaluated_total",
            "cascade_evaluation_batch_size_count",
            "cascade_evaluation_batch_size_sum",
            "cascade_evaluation_lag_seconds_count",
            "cascade_evaluation_lag_seconds_sum",
        )
    }

    await drain(clean_db)

    def moved(name: str) -> float:
        return sample(name) - before[name]

    assert moved("cascade_interactions_evaluated_total") == 3
    assert (
        moved("cascade_evaluation_batch_size_count"),
        moved("cascade_evaluation_batch_size_sum"),
    ) == (1, 3)
    assert moved("cascade_evaluation_lag_seconds_count") == 3
    assert 6.0 <= moved("cascade_evaluation_lag_seconds_sum") < 6.0 + 3 * 30


async def test_health_ready__queued_interactions__lag_in_the_evaluation_details(client, db_session):
    product, key = await make_product(db_session)
    for _ in range(2):
        await store(client, key, product.id, wallet(), "webshop.open")
    await age_interactions(db_session, 3)

    body = (await client.get("/health/ready")).json()

    details = body["checks"]["evaluation"]
    assert (details["ok"], details["queued"], details["gating"]) == (True, 2, False)
    assert 3.0 <= details["lag_s"] < 60


async def test_prefer_wait__not_asked__stored_answer_then_rewards_once_evaluated(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    user = wallet()

    started = time.perf_counter()
    stored = await send(client, key, product.id, user, "webshop.open", wait=False, dedup_key="d")
    took = time.perf_counter() - started
    await drain(clean_db)
    again = await send(client, key, product.id, user, "webshop.open", wait=False, dedup_key="d")

    assert stored.status_code == 202 and "preference-applied" not in stored.headers
    assert stored.json() == {
        "interaction_id": stored.json()["interaction_id"],
        "duplicate": False,
        "evaluated": False,
        "rewards": [],
        "flag": None,
    }
    assert took < 5
    # a duplicate answers with what its original earned, once known
    assert again.json()["duplicate"] is True and again.json()["evaluated"] is True
    assert [r["amount"] for r in again.json()["rewards"]] == [str(10 * E18)]


async def test_prefer_wait__above_the_bound__waits_10_s_at_most(client, db_session):
    product, key = await make_product(db_session)
    body = {"product_id": product.id, "wallet": wallet(), "type": "webshop.open"}

    response = await client.post(
        "/api/external/interactions",
        json=body,
        headers={**bearer(key, wait=False), "Prefer": "respond-async, wait=3600"},
    )

    assert response.status_code == 202
    assert response.headers["preference-applied"] == "wait=10"
    assert response.json()["evaluated"] is True  # evaluated (nothing to pay) well before


async def test_batch__new_edges_on_130_products__one_batch_and_every_cache_told(
    client, db_session, clean_db
):
    # 130 product ids do not fit in one notification (8,000 bytes): before, PostgreSQL
    # refused the batch's transaction, and the evaluator retried it for ever
    for _ in range(130):
        product, key = await make_product(db_session)
        await store(client, key, product.id, wallet(), "referral.referred", referrer=wallet())

    report = await evaluate_once(clean_db.sessions, secret=TEST_SECRET, limit=500)

    assert report.evaluated == 130
    assert len(report.products) == 130
    assert await count(db_session, "SELECT count(*) FROM evaluation_queue") == 0


def test_notification_payload__too_long__names_every_key_instead():
    products = [f"0x{n:064x}" for n in range(130)]

    assert pg_events.joined(products[:3], "edges") == ",".join(f"edges:{p}" for p in products[:3])
    assert pg_events.joined(products, "edges") == "edges:*"
    assert pg_events.joined(products) == "*"
    assert pg_events.each(pg_events.joined(products, "edges"), "edges") == [pg_events.EVERY]


def test_referral_cache__told_every_product__drops_every_chain():
    cache = referral_service.chain_cache
    cache.clear()
    product = "0x" + "11" * 32
    cache.put(product, "0x" + "aa" * 20, ("0x" + "bb" * 20,), cache.generation(product))
    assert cache.get("0x" + "11" * 32, "0x" + "aa" * 20) is not None

    referral_service._on_cache_change("edges:*")

    assert cache.get("0x" + "11" * 32, "0x" + "aa" * 20) is None


async def test_batch__products_with_a_backlog__a_batch_takes_each_products_rows_together(
    client, db_session, clean_db
):
    products = [await make_product(db_session) for _ in range(3)]
    for product, _ in products:
        await make_campaign(db_session, product, trigger="webshop.open")
    for _ in range(20):  # interleaved arrivals: p0, p1, p2, p0, ...
        for product, key in products:
            await store(client, key, product.id, wallet(), "webshop.open")

    report = await evaluate_once(clean_db.sessions, secret=TEST_SECRET, limit=20)

    # the head's first 20 // 10 rows name two products: ten rows of each, not 7/7/6 of three
    assert report.evaluated == 20
    assert report.products == {products[0][0].id, products[1][0].id}
    assert len(await drain(clean_db, limit=20)) == 2  # the other 40 in two more batches
    assert await count(db_session, "SELECT count(*) FROM rewards") == 60


async def test_batch__traffic_spread_thin__the_batch_is_filled_from_other_products(
    client, db_session, clean_db
):
    products = [await make_product(db_session) for _ in range(30)]
    for product, key in products:
        await make_campaign(db_session, product, trigger="webshop.open")
        await store(client, key, product.id, wallet(), "webshop.open")

    report = await evaluate_once(clean_db.sessions, secret=TEST_SECRET, limit=20)

    # the head's two products had one row each: 18 more from the next products in line
    assert report.evaluated == 20 and len(report.products) == 20
    assert report.products == {product.id for product, _ in products[:20]}
