"""The refund_history rule: a purchase whose buyer already had N refunded orders on the
product is held (read for the whole batch in one statement), shown as evidence in the
review queue, and editable through the API with bounded parameters (the dashboard:
tests/dashboard/test_fraud_pages.py)."""

from __future__ import annotations

import pytest

from backend.fraud.models import FraudRule, FraudSettings
from backend.interactions import orders
from tests.evaluator.helpers import drain, store
from tests.factories import make_campaign, make_product, wallet
from tests.fraud.helpers import statements
from tests.interactions.helpers import bearer, count, rows


def _url(product_id: str, tail: str = "") -> str:
    return f"/api/business/products/{product_id}/fraud{tail}"


async def _rule(db_session, product_id: str, least: int) -> None:
    db_session.add(
        FraudSettings(
            product_id=product_id,
            review_after_seconds=3600,
            default_decision="reject",
            signal_retention_days=30,
        )
    )
    db_session.add(
        FraudRule(
            product_id=product_id,
            kind="refund_history",
            action="hold",
            reason_code="refunder",
            params={"min_refunded_orders": least},
        )
    )
    await db_session.commit()


async def _refunded_twice(clean_db, client, key: str, product_id: str, buyer: str) -> None:
    """Two purchases paid, then refunded by the shop (the real refund path)."""
    for order in ("r-1", "r-2"):
        await store(client, key, product_id, buyer, "purchase.completed", order_id=order)
    await drain(clean_db)
    async with clean_db.sessions() as session:
        for order in ("r-1", "r-2"):
            await orders.refund(session, product_id, order, "refunded", "test")
        await session.commit()


@pytest.mark.parametrize(("least", "held"), [(2, True), (3, False)])
async def test_evaluate__buyer_with_two_refunded_orders__held_from_n_2_not_at_n_3(
    client, db_session, clean_db, least, held
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product)  # pays purchase.completed
    refunder, clean = wallet(), wallet()
    await _refunded_twice(clean_db, client, key, product.id, refunder)
    await _rule(db_session, product.id, least)

    await store(client, key, product.id, refunder, "purchase.completed", order_id="r-3")
    await store(client, key, product.id, clean, "purchase.completed", order_id="c-1")
    with statements(clean_db, "o.status = 'refunded'") as reads:
        await drain(clean_db)

    found = await rows(
        db_session,
        "SELECT i.order_id, r.status, r.hold_reasons FROM rewards AS r "
        "JOIN interactions AS i ON i.id = r.interaction_id "
        "WHERE i.order_id IN ('r-3', 'c-1') ORDER BY i.order_id",
    )
    assert [(x.order_id, x.status, x.hold_reasons) for x in found] == [
        ("c-1", "pending", None),
        ("r-3", "held", ["refunder"]) if held else ("r-3", "pending", None),
    ]
    assert len(reads) == 1  # both buyers' refund history in one statement
    refunds = await rows(db_session, "SELECT status FROM rewards WHERE status = 'cancelled'")
    assert len(refunds) == 2  # the refunded orders' own rewards, cancelled by the refund


async def test_evaluate__buyer_without_refunds__never_held_even_at_n_1(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product)
    buyer = wallet()
    await _rule(db_session, product.id, 1)

    for order in ("a-1", "a-2", "a-3"):
        await store(client, key, product.id, buyer, "purchase.completed", order_id=order)
    await drain(clean_db)

    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'pending'") == 3
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status <> 'pending'") == 0


async def test_review_queue__held_for_refunds__shows_the_referees_refunded_orders(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product)
    buyer = wallet()
    await _refunded_twice(clean_db, client, key, product.id, buyer)
    await _rule(db_session, product.id, 2)
    await store(client, key, product.id, buyer, "purchase.completed", order_id="r-3")
    await drain(clean_db)

    response = await client.get(_url(product.id, "/held"), headers=bearer(key))

    assert response.status_code == 200, response.text
    [group] = response.json()["groups"]
    [reward] = group["rewards"]
    assert reward["reasons"] == ["refunder"]
    assert reward["referee_refunded_orders"] == 2


async def test_rules_api__refund_history__created_and_edited_by_a_campaign_manager(
    client, db_session
):
    product, key = await make_product(db_session)
    rule = {
        "kind": "refund_history",
        "action": "hold",
        "reason_code": "refunder",
        "params": {"min_refunded_orders": 2},
    }

    created = await client.post(_url(product.id, "/rules"), json=rule, headers=bearer(key))
    assert created.status_code == 201, created.text
    patched = await client.patch(
        _url(product.id, f"/rules/{created.json()['id']}"),
        json={"action": "reject", "params": {"min_refunded_orders": 3}},
        headers=bearer(key),
    )

    assert patched.status_code == 200, patched.text
    stored = await rows(
        db_session, "SELECT action, params FROM fraud_rules WHERE kind = 'refund_history'"
    )
    assert [(x.action, x.params) for x in stored] == [("reject", {"min_refunded_orders": 3})]
    audit = await rows(db_session, "SELECT action FROM audit_log ORDER BY id")
    assert [a.action for a in audit] == ["fraud_rule.create", "fraud_rule.update"]


@pytest.mark.parametrize(
    "params",
    [
        {"min_refunded_orders": 0},
        {"min_refunded_orders": -1},
        {"min_refunded_orders": 10**30},
        {"min_refunded_orders": "2 or more"},
        {"min_refunded_orders": "1" + "0" * 30},
        {"min_refunded_orders": True},
        {"min_refunded_orders": [2]},
        {"min_refunded_orders": "two"},
        {"min_refunded_orders": 2.5},
        {},
        {"min_refunded_orders": 2, "min_amount": "5"},
    ],
)
async def test_rules_api__refund_history_hostile_params__422_with_a_code_nothing_written(
    client, db_session, params
):
    product, key = await make_product(db_session)
    body = {"kind": "refund_history", "action": "hold", "reason_code": "r", "params": params}

    response = await client.post(_url(product.id, "/rules"), json=body, headers=bearer(key))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"]
    assert await count(db_session, "SELECT count(*) FROM fraud_rules") == 0
    assert await count(db_session, "SELECT count(*) FROM audit_log") == 0


async def test_rules_api__refund_history_patch_with_hostile_params__422_rule_unchanged(
    client, db_session
):
    product, key = await make_product(db_session)
    rule = {
        "kind": "refund_history",
        "action": "hold",
        "reason_code": "refunder",
        "params": {"min_refunded_orders": 2},
    }
    created = await client.post(_url(product.id, "/rules"), json=rule, headers=bearer(key))
    rule_url = _url(product.id, f"/rules/{created.json()['id']}")

    for value in (0, -5, 10**30, "lots"):
        response = await client.patch(
            rule_url, json={"params": {"min_refunded_orders": value}}, headers=bearer(key)
        )
        assert response.status_code == 422, (value, response.text)
        assert response.json()["error"]["code"]

    stored = await rows(db_session, "SELECT params FROM fraud_rules WHERE kind = 'refund_history'")
    assert [x.params for x in stored] == [{"min_refunded_orders": 2}]
