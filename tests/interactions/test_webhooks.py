"""Shop webhooks: signed real-format deliveries complete orders; tampered ones store nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from sqlalchemy import text

from backend.core.errors import Unauthorized
from backend.interactions.webhooks import standard_signature, verify_standard
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, WAIT, count, make_session, rows, send

SHOPIFY_SECRET = "shpss_0123456789abcdef"
WOO_SECRET = "woo-webhook-secret"
CUSTOM_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRETS = {"shopify": [SHOPIFY_SECRET], "woocommerce": [WOO_SECRET], "custom": [CUSTOM_SECRET]}

# Shapes of the vendors' documented examples (Shopify orders/paid, refunds/create;
# WooCommerce order.updated), trimmed to the fields a shop really sends us.
SHOPIFY_ORDER = {
    "id": 820982911946154508,
    "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    "email": "jon@example.com",
    "created_at": "2021-12-31T19:00:00-05:00",
    "currency": "EUR",
    "current_total_price": "199.00",
    "financial_status": "paid",
    "name": "#9999",
    "order_number": 1234,
    "subtotal_price": "189.00",
    "total_price": "199.00",
    "total_tax": "0.00",
    "checkout_token": "bd5a8aa1ecd019dd3520ff791ee3a24c",
    "cart_token": "68778783ad298f1c80c3bafcddeea02f",
    "line_items": [
        {"id": 866550311766439020, "title": "IPod Nano - 8GB", "price": "199.00", "quantity": 1}
    ],
}
SHOPIFY_REFUND = {
    "id": 890088186047892319,
    "order_id": 820982911946154508,
    "created_at": "2021-12-31T19:00:00-05:00",
    "note": "Things were damaged",
    "restock": True,
    "refund_line_items": [],
}
WOO_ORDER = {
    "id": 727,
    "parent_id": 0,
    "number": "727",
    "order_key": "wc_order_58d2d042d1d",
    "created_via": "rest-api",
    "status": "processing",
    "currency": "EUR",
    "total": "29.35",
    "total_tax": "1.35",
    "customer_id": 0,
    "billing": {"first_name": "John", "last_name": "Doe", "email": "john.doe@example.com"},
    "payment_method": "bacs",
    "line_items": [{"id": 315, "name": "Woo Single #1", "quantity": 2, "total": "6.00"}],
}


def _b64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def _shop(db_session):
    product, key = await make_product(db_session, webhook_secrets=SECRETS)
    campaign = await make_campaign(db_session, product)
    return product, key, campaign


async def _started(client, db_session, product_id, order_id, order_token=None, buyer=None):
    """The buyer's browser (a listener session) claims the order, with the order's token."""
    buyer = buyer or wallet()
    token = await make_session(db_session, buyer)
    data = {"order_id": order_id}
    if order_token is not None:
        data["order_token"] = order_token
    response = await send(client, token, product_id, buyer, "purchase.started", data)
    assert response.status_code == 202, response.text
    return buyer, response


async def _shopify(
    client, product_id, topic, payload, *, secret=SHOPIFY_SECRET, tamper=False, delivery=None
):
    """A delivery as Shopify makes it; `delivery=""` sends no X-Shopify-Webhook-Id."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": _b64_hmac(secret, body),
        "X-Shopify-Shop-Domain": "example.myshopify.com",
        **WAIT,  # the answer carries the rewards once evaluated
    }
    if delivery != "":
        headers["X-Shopify-Webhook-Id"] = delivery or f"b54557e4-{time.time_ns()}"
    if tamper:
        body = body.replace(b"199.00", b"999.00")
    return await client.post(
        f"/api/external/webhooks/{product_id}/shopify", content=body, headers=headers
    )


def _custom_headers(body: bytes, *, secret=CUSTOM_SECRET, msg_id=None, timestamp=None):
    msg_id = msg_id or f"msg_{time.time_ns()}"
    timestamp = str(timestamp if timestamp is not None else int(time.time()))
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
        **WAIT,
    }


def test_standard_webhooks__spec_example__verifies():
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }

    assert verify_standard(body, headers, [CUSTOM_SECRET], now=1614265330) == headers["webhook-id"]
    with pytest.raises(Unauthorized):
        verify_standard(body + b" ", headers, [CUSTOM_SECRET], now=1614265330)
    with pytest.raises(Unauthorized):
        verify_standard(body, headers, [CUSTOM_SECRET], now=1614265330 + 301)


def test_standard_webhooks__several_signatures_and_rotated_secrets__any_match_passes():
    body = b'{"type":"purchase.completed"}'
    old = "whsec_" + base64.b64encode(b"old-secret-bytes-0123456789").decode()
    headers = _custom_headers(body, secret=old)
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]

    assert verify_standard(body, headers, [CUSTOM_SECRET, old])


async def test_shopify__orders_paid_after_started__rewards_the_buyer(client, db_session):
    product, _, campaign = await _shop(db_session)
    buyer, _ = await _started(
        client, db_session, product.id, "820982911946154508", SHOPIFY_ORDER["checkout_token"]
    )

    response = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "rewarded"
    assert [(r["wallet"], r["amount"]) for r in body["rewards"]] == [(buyer, str(10 * E18))]
    order = await rows(db_session, "SELECT status, amount, currency, attribution FROM orders")
    assert (order[0].status, int(order[0].amount), order[0].currency) == (
        "completed",
        199 * E18,
        "EUR",
    )
    assert order[0].attribution == "order_token"


async def test_shopify__tampered_body__is_401_and_stores_nothing(client, db_session):
    product, _, _ = await _shop(db_session)

    response = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER, tamper=True)
    wrong_key = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER, secret="nope")
    missing = await client.post(
        f"/api/external/webhooks/{product.id}/shopify", content=json.dumps(SHOPIFY_ORDER)
    )

    assert [r.status_code for r in (response, wrong_key, missing)] == [401, 401, 401]
    assert response.json()["error"]["code"] == "invalid_signature"
    for table in ("orders", "interactions", "inbound_webhooks", "rewards"):
        assert await count(db_session, f"SELECT count(*) FROM {table}") == 0


async def test_shopify__retried_delivery__is_200_same_answer_and_applied_once(client, db_session):
    product, _, _ = await _shop(db_session)
    await _started(
        client, db_session, product.id, "820982911946154508", SHOPIFY_ORDER["checkout_token"]
    )

    first = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER, delivery="d-1")
    again = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER, delivery="d-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["duplicate"] is False
    assert again.json() == {**first.json(), "duplicate": True}
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1
    assert await count(db_session, "SELECT count(*) FROM interactions") == 2  # started, completed


async def test_shopify__retry_without_delivery_id__is_deduplicated_by_body(client, db_session):
    product, _, _ = await _shop(db_session)
    await _started(
        client, db_session, product.id, "820982911946154508", SHOPIFY_ORDER["checkout_token"]
    )

    first = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER, delivery="")
    again = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER, delivery="")
    other_body = await _shopify(
        client, product.id, "orders/paid", {**SHOPIFY_ORDER, "note": "x"}, delivery=""
    )

    assert [r.status_code for r in (first, again, other_body)] == [200, 200, 200]
    assert first.json()["status"] == "rewarded"
    assert again.json()["duplicate"] is True and again.json()["status"] == "rewarded"
    assert other_body.json()["duplicate"] is False  # another body is another delivery...
    assert other_body.json()["status"] == "order_already_completed"  # ...that pays nothing
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1
    assert await count(db_session, "SELECT count(*) FROM inbound_webhooks") == 2


async def test_shopify__paid_body_under_a_cancel_topic__is_not_cancelled(client, db_session):
    """The topic header is not signed: a captured orders/paid body re-sent as
    orders/cancelled or refunds/create must not take the buyer's reward back."""
    product, _, _ = await _shop(db_session)
    await _started(
        client, db_session, product.id, "820982911946154508", SHOPIFY_ORDER["checkout_token"]
    )
    await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER)

    cancel = await _shopify(client, product.id, "orders/cancelled", SHOPIFY_ORDER)
    refund = await _shopify(client, product.id, "refunds/create", SHOPIFY_ORDER)

    assert [r.status_code for r in (cancel, refund)] == [200, 200]
    assert [r.json()["event"] for r in (cancel, refund)] == ["completed", "completed"]
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'pending'") == 1
    assert await count(db_session, "SELECT count(*) FROM orders WHERE status = 'completed'") == 1


async def test_shopify__cancelled_body_under_a_paid_topic__is_cancelled(client, db_session):
    product, _, _ = await _shop(db_session)
    await _started(
        client, db_session, product.id, "820982911946154508", SHOPIFY_ORDER["checkout_token"]
    )
    await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER)
    cancelled = {
        **SHOPIFY_ORDER,
        "cancelled_at": "2022-01-01T10:00:00-05:00",
        "cancel_reason": "customer",
        "financial_status": "voided",
    }

    response = await _shopify(client, product.id, "orders/paid", cancelled)

    assert response.json()["event"] == "cancelled"
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'cancelled'") == 1


async def test_shopify__paid_before_started__waits_then_links_and_rewards(client, db_session):
    product, _, _ = await _shop(db_session)

    webhook = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER)
    buyer, started = await _started(
        client, db_session, product.id, "820982911946154508", SHOPIFY_ORDER["cart_token"]
    )

    assert webhook.json()["status"] == "waiting_for_wallet"
    assert [(r["wallet"], r["level"]) for r in started.json()["rewards"]] == [(buyer, 0)]
    completed = await rows(
        db_session, "SELECT wallet, source FROM interactions WHERE type = 'purchase.completed'"
    )
    assert [(c.wallet, c.source) for c in completed] == [(buyer, "webhook")]


async def test_shopify__refund__cancels_pending_rewards_and_returns_budget(client, db_session):
    product, _, campaign = await _shop(db_session)
    await _started(
        client, db_session, product.id, "820982911946154508", SHOPIFY_ORDER["checkout_token"]
    )
    await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER)

    response = await _shopify(client, product.id, "refunds/create", SHOPIFY_REFUND)

    assert response.status_code == 200
    assert len(response.json()["cancelled_rewards"]) == 1
    status = await rows(db_session, "SELECT status, cancelled_reason FROM rewards")
    assert (status[0].status, status[0].cancelled_reason) == ("cancelled", "order refunded")
    assert await count(db_session, "SELECT used_budget FROM campaigns") == 0
    assert await count(db_session, "SELECT reward_count FROM campaign_user_rewards") == 0
    again = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER)
    assert again.json()["status"] == "order_refunded"


async def test_shopify__cancel_after_settlement__is_recorded_not_undone(client, db_session):
    product, _, _ = await _shop(db_session)
    await _started(
        client, db_session, product.id, "820982911946154508", SHOPIFY_ORDER["checkout_token"]
    )
    await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER)
    await db_session.execute(text("UPDATE rewards SET status = 'pushed'"))
    await db_session.commit()
    cancelled = {**SHOPIFY_ORDER, "cancelled_at": "2022-01-01T10:00:00-05:00"}

    response = await _shopify(client, product.id, "orders/cancelled", cancelled)

    assert len(response.json()["settled_rewards"]) == 1
    settled = await rows(db_session, "SELECT status, refunded_after_settlement FROM rewards")
    assert (settled[0].status, settled[0].refunded_after_settlement) == ("pushed", True)
    assert await count(db_session, "SELECT used_budget FROM campaigns") == 10 * E18


async def test_woocommerce__processing_order__signed_is_rewarded_tampered_is_401(
    client, db_session
):
    product, _, _ = await _shop(db_session)
    buyer, _ = await _started(client, db_session, product.id, "727", WOO_ORDER["order_key"])
    body = json.dumps(WOO_ORDER).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Delivery-ID": "1f9b3c",
        "X-WC-Webhook-Signature": _b64_hmac(WOO_SECRET, body),
        **WAIT,
    }
    url = f"/api/external/webhooks/{product.id}/woocommerce"

    tampered = await client.post(url, content=body.replace(b"29.35", b"2935"), headers=headers)
    response = await client.post(url, content=body, headers=headers)

    assert tampered.status_code == 401
    assert response.status_code == 200
    assert [r["wallet"] for r in response.json()["rewards"]] == [buyer]
    refunded = {**WOO_ORDER, "status": "refunded"}
    refund_body = json.dumps(refunded).encode()
    refund = await client.post(
        url,
        content=refund_body,
        headers={
            **headers,
            "X-WC-Webhook-Delivery-ID": "2a8c4d",
            "X-WC-Webhook-Signature": _b64_hmac(WOO_SECRET, refund_body),
        },
    )
    assert len(refund.json()["cancelled_rewards"]) == 1


async def test_custom__standard_webhooks_purchase__rewards_and_answers_replay_200(
    client, db_session
):
    product, _, _ = await _shop(db_session)
    buyer = wallet()
    payload = {
        "type": "purchase.completed",
        "timestamp": "2026-11-21T10:00:00Z",
        "data": {"order_id": "C-1", "amount": "49.90", "currency": "EUR", "wallet": buyer},
    }
    body = json.dumps(payload).encode()
    headers = _custom_headers(body, msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
    url = f"/api/external/webhooks/{product.id}/custom"

    response = await client.post(url, content=body, headers=headers)
    replay = await client.post(url, content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert [r["wallet"] for r in response.json()["rewards"]] == [buyer]
    assert replay.status_code == 200
    assert replay.json() == {**response.json(), "duplicate": True}
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1


async def test_custom__tampered_or_stale__is_401_and_stores_nothing(client, db_session):
    product, _, _ = await _shop(db_session)
    body = json.dumps({"type": "purchase.completed", "data": {"order_id": "C-2"}}).encode()
    url = f"/api/external/webhooks/{product.id}/custom"

    tampered = await client.post(url, content=body + b" ", headers=_custom_headers(body))
    stale = await client.post(
        url, content=body, headers=_custom_headers(body, timestamp=int(time.time()) - 301)
    )
    unsigned = await client.post(url, content=body)

    assert [r.status_code for r in (tampered, stale, unsigned)] == [401, 401, 401]
    for table in ("orders", "interactions", "inbound_webhooks"):
        assert await count(db_session, f"SELECT count(*) FROM {table}") == 0


async def test_custom__purchase_refunded__cancels(client, db_session):
    product, _, _ = await _shop(db_session)
    buyer = wallet()
    url = f"/api/external/webhooks/{product.id}/custom"
    for kind in ("purchase.completed", "purchase.refunded"):
        body = json.dumps({"type": kind, "data": {"order_id": "C-3", "wallet": buyer}}).encode()
        response = await client.post(url, content=body, headers=_custom_headers(body))
        assert response.status_code == 200

    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'cancelled'") == 1
    assert await count(db_session, "SELECT used_budget FROM campaigns") == 0


async def test_webhook__unknown_product__is_404(client):
    response = await client.post(f"/api/external/webhooks/0x{'00' * 32}/shopify", content=b"{}")

    assert response.status_code == 404
