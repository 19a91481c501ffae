"""Fraud rules inside the evaluator's batch: held or refused in the transaction that writes
the rewards, with the budget of a refused reward given back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.fraud import service
from backend.fraud.models import FraudRule, FraudSettings
from backend.notifications.producers import produce_events
from tests.evaluator.helpers import drain
from tests.factories import make_campaign, make_product, wallet
from tests.fraud.helpers import act
from tests.interactions.helpers import E18, count, rows
from tests.notifications.conftest import make_endpoint


async def test_evaluate__sybil_ring_on_one_device__every_reward_held(client, db_session, clean_db):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, trigger="referral.referred")
    ring = [wallet() for _ in range(20)]
    for member in ring:  # every wallet visits the shop from the same phone
        await act(clean_db, client, key, product.id, member, "webshop.open", device="phone-1")
    for index, member in enumerate(ring):  # each refers the next; the last closes a cycle
        await act(
            clean_db,
            client,
            key,
            product.id,
            ring[(index + 1) % 20],
            "referral.referred",
            device="phone-1",
            referrer=member,
        )

    await drain(clean_db)

    statuses = await rows(
        db_session, "SELECT status, hold_reasons, count(*) AS n FROM rewards GROUP BY 1, 2"
    )
    assert [(s.status, s.hold_reasons) for s in statuses] == [("held", ["shared_device"])]
    held = await count(db_session, "SELECT count(DISTINCT interaction_id) FROM rewards")
    assert held == 19  # the cycle-closing referral earns nothing at all
    # held rewards keep their budget reserved until a review decides
    used = await count(
        db_session, "SELECT used_budget FROM campaigns WHERE id = :id", id=campaign.id
    )
    assert used == 19 * 10 * E18
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'pending'") == 0


async def test_evaluate__honest_four_level_chain_on_four_devices__never_held(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="referral.referred")
    await make_campaign(db_session, product, trigger="webshop.open")
    a, b, c, d = (wallet() for _ in range(4))
    for member, device in ((a, "a-laptop"), (b, "b-phone"), (c, "c-tablet"), (d, "d-phone")):
        await act(clean_db, client, key, product.id, member, "webshop.open", device=device)
    await act(
        clean_db, client, key, product.id, b, "referral.referred", device="b-phone", referrer=a
    )
    await act(
        clean_db, client, key, product.id, c, "referral.referred", device="c-tablet", referrer=b
    )
    await act(
        clean_db, client, key, product.id, d, "referral.referred", device="d-phone", referrer=c
    )
    await act(clean_db, client, key, product.id, d, "webshop.open", device="d-phone")

    await drain(clean_db)

    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status <> 'pending'") == 0
    # d's last visit pays d and its three referrers: all four levels are payable
    levels = await rows(
        db_session,
        "SELECT level, wallet FROM rewards WHERE wallet = ANY(:w) AND level > 0 "
        "ORDER BY interaction_id DESC, level LIMIT 3",
        w=[a, b, c],
    )
    assert [(x.level, x.wallet) for x in levels] == [(1, c), (2, b), (3, a)]


async def test_evaluate__reject_rule__reward_cancelled_with_reason_and_budget_given_back(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    campaign = await make_campaign(
        db_session, product, trigger="webshop.open", budget_cap=100 * E18
    )
    denied, honest = wallet(), wallet()
    db_session.add(
        FraudSettings(
            product_id=product.id,
            review_after_seconds=3600,
            default_decision="reject",
            signal_retention_days=30,
        )
    )
    db_session.add(
        FraudRule(
            product_id=product.id,
            kind="deny_list",
            action="reject",
            reason_code="denied",
            params={"wallets": [denied]},
        )
    )
    await db_session.commit()
    await act(clean_db, client, key, product.id, denied, "webshop.open", device=None)
    await act(clean_db, client, key, product.id, honest, "webshop.open", device=None)

    await drain(clean_db)

    found = await rows(
        db_session, "SELECT wallet, status, cancelled_reason FROM rewards ORDER BY id"
    )
    assert [(x.wallet, x.status, x.cancelled_reason) for x in found] == [
        (denied, "cancelled", "fraud: denied"),
        (honest, "pending", None),
    ]
    # only the honest reward is charged; the refused one's per-user count is given back
    used = await count(
        db_session, "SELECT used_budget FROM campaigns WHERE id = :id", id=campaign.id
    )
    assert used == 10 * E18
    counted = await count(
        db_session,
        "SELECT COALESCE(sum(reward_count), 0) FROM campaign_user_rewards WHERE wallet = :w",
        w=denied,
    )
    assert counted == 0


async def test_evaluate__held_reward__interaction_rewarded_webhook_says_held(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="referral.referred")
    await make_endpoint(
        db_session, product, "https://hooks.example/x", events=("interaction.rewarded",)
    )
    farmer, sock = wallet(), wallet()
    await act(clean_db, client, key, product.id, farmer, "webshop.open", device="phone")
    await act(
        clean_db,
        client,
        key,
        product.id,
        sock,
        "referral.referred",
        device="phone",
        referrer=farmer,
    )
    await drain(clean_db)

    await produce_events(clean_db, now=datetime.now(UTC) + timedelta(minutes=1))

    sent = await rows(db_session, "SELECT payload FROM webhook_deliveries")
    assert [
        sorted((r["wallet"], r["status"]) for r in d.payload["data"]["rewards"]) for d in sent
    ] == [sorted([(sock, "held"), (farmer, "held")])]


async def test_refuse_held_only__row_approved_meanwhile__left_pending_budget_kept(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, trigger="referral.referred")
    farmer, sock = wallet(), wallet()
    await act(clean_db, client, key, product.id, farmer, "webshop.open", device="phone")
    await act(
        clean_db,
        client,
        key,
        product.id,
        sock,
        "referral.referred",
        device="phone",
        referrer=farmer,
    )
    await drain(clean_db)
    ids = [r.id for r in await rows(db_session, "SELECT id FROM rewards ORDER BY id")]
    async with clean_db.sessions() as session:
        await service.review(
            session, product_id=product.id, reward_ids=ids[:1], decision="approve", actor="a"
        )
        await session.commit()

    # a rejection that read the row as held before the approval committed
    async with clean_db.sessions() as session:
        cancelled = await service.refuse(session, ids=ids, reason="late", held_only=True)
        await session.commit()

    assert [c.id for c in cancelled] == ids[1:]
    found = await rows(db_session, "SELECT status FROM rewards ORDER BY id")
    assert [r.status for r in found] == ["pending", "cancelled"]
    used = await count(
        db_session, "SELECT used_budget FROM campaigns WHERE id = :id", id=campaign.id
    )
    kept = await count(db_session, "SELECT amount FROM rewards WHERE id = :id", id=ids[0])
    assert used == kept
