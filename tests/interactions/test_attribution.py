"""Who an order pays: the shop's signed word, or a browser claim bound by the order's token.

Deliveries are signed exactly as the vendors sign them: base64 HMAC-SHA256 of the
raw body (Shopify, WooCommerce), Standard Webhooks for custom shops.
"""

from __future__ import annotations

import json

from backend.interactions.signatures import order_reference
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, WAIT, count, make_session, rows, send
from tests.interactions.test_webhooks import (
    CUSTOM_SECRET,
    SECRETS,
    SHOPIFY_ORDER,
    WOO_ORDER,
    WOO_SECRET,
    _b64_hmac,
    _custom_headers,
    _shopify,
)

SHOPIFY_ID = str(SHOPIFY_ORDER["id"])


async def _shop(db_session):
    product, key = await make_product(db_session, webhook_secrets=SECRETS)
    await make_campaign(db_session, product)
    return product, key


async def _claim(client, db_session, product_id, order_id, order_token=None, who=None):
    """A browser (listener session) says its wallet is buying `order_id`."""
    who = who or wallet()
    session_token = await make_session(db_session, who)
    data = {"order_id": order_id}
    if order_token is not None:
        data["order_token"] = order_token
    response = await send(client, session_token, product_id, who, "purchase.started", data)
    assert response.status_code == 202, response.text
    return who, response.json()


async def _woo(client, product_id, order, delivery):
    body = json.dumps(order).encode()
    return await client.post(
        f"/api/external/webhooks/{product_id}/woocommerce",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Delivery-ID": delivery,
            "X-WC-Webhook-Signature": _b64_hmac(WOO_SECRET, body),
            **WAIT,
        },
    )


async def _custom(client, product_id, data, kind="purchase.completed"):
    body = json.dumps({"type": kind, "data": data}).encode()
    return await client.post(
        f"/api/external/webhooks/{product_id}/custom", content=body, headers=_custom_headers(body)
    )


async def _order(db_session, order_id):
    [order] = await rows(
        db_session,
        "SELECT wallet, status, attribution, attribution_flag FROM orders WHERE order_id = :o",
        o=order_id,
    )
    return order


async def _paid_wallets(db_session):
    found = await rows(db_session, "SELECT DISTINCT wallet FROM rewards")
    return {r.wallet for r in found}


async def _claim_flags(db_session, order_id):
    found = await rows(
        db_session,
        "SELECT wallet, flag FROM interactions WHERE type = 'purchase.started' "
        "AND order_id = :o ORDER BY id",
        o=order_id,
    )
    return [(r.wallet, r.flag) for r in found]


async def test_custom__session_pre_claim__loses_to_the_wallet_in_the_signed_webhook(
    client, db_session
):
    product, _ = await _shop(db_session)
    thief, buyer = wallet(), wallet()
    await _claim(client, db_session, product.id, "C-7", who=thief)

    response = await _custom(client, product.id, {"order_id": "C-7", "wallet": buyer})

    assert response.status_code == 200, response.text
    assert [r["wallet"] for r in response.json()["rewards"]] == [buyer]
    assert await _paid_wallets(db_session) == {buyer}
    order = await _order(db_session, "C-7")
    assert (order.wallet, order.attribution, order.attribution_flag) == (buyer, "shop", "disputed")
    assert await _claim_flags(db_session, "C-7") == [(thief, "attribution_disputed")]


async def test_woocommerce__guessed_sequential_order_id__earns_nothing(client, db_session):
    product, _ = await _shop(db_session)
    thief = wallet()
    # the thief claims the next ids before their buyers do, one with a made-up order key
    await _claim(client, db_session, product.id, "727", who=thief)
    await _claim(client, db_session, product.id, "727", "wc_order_guessed", who=thief)
    buyer, _ = await _claim(client, db_session, product.id, "727", WOO_ORDER["order_key"])

    response = await _woo(client, product.id, WOO_ORDER, "d-727")
    late = await _claim(client, db_session, product.id, "727", who=thief)

    assert [r["wallet"] for r in response.json()["rewards"]] == [buyer]
    assert late[1]["flag"] == "attribution_disputed" and late[1]["rewards"] == []
    assert await _paid_wallets(db_session) == {buyer}
    order = await _order(db_session, "727")
    assert (order.wallet, order.attribution, order.attribution_flag) == (
        buyer,
        "order_token",
        "disputed",
    )


async def test_woocommerce__only_a_guessed_claim__pays_nobody_and_the_order_says_why(
    client, db_session
):
    product, _ = await _shop(db_session)
    thief = wallet()
    await _claim(client, db_session, product.id, "728", who=thief)
    order = {**WOO_ORDER, "id": 728, "number": "728", "order_key": "wc_order_Zx81kPq0aTT"}

    response = await _woo(client, product.id, order, "d-728")
    after = await _claim(client, db_session, product.id, "728", "wc_order_Zx81kPq0aTX", who=thief)

    assert response.json()["status"] == "waiting_for_wallet"
    assert after[1]["flag"] == "order_token_mismatch"
    assert await count(db_session, "SELECT count(*) FROM rewards") == 0
    stored = await _order(db_session, "728")
    assert (stored.wallet, stored.attribution_flag) == (None, "unbound")
    assert await _claim_flags(db_session, "728") == [
        (thief, "order_token_mismatch"),
        (thief, "order_token_mismatch"),
    ]


async def test_woocommerce__buyer_claims_after_the_webhook_with_the_order_key__is_paid(
    client, db_session
):
    product, _ = await _shop(db_session)
    thief = wallet()
    await _claim(client, db_session, product.id, "727", who=thief)
    await _woo(client, product.id, WOO_ORDER, "d-1")

    buyer, answer = await _claim(client, db_session, product.id, "727", WOO_ORDER["order_key"])

    assert answer["flag"] is None
    assert [(r["wallet"], int(r["amount"])) for r in answer["rewards"]] == [(buyer, 10 * E18)]
    order = await _order(db_session, "727")
    assert (order.wallet, order.attribution, order.attribution_flag) == (
        buyer,
        "order_token",
        "disputed",
    )


async def test_shopify__claim_without_the_checkout_token__is_recorded_not_paid(client, db_session):
    product, _ = await _shop(db_session)
    claimant, _ = await _claim(client, db_session, product.id, SHOPIFY_ID)

    response = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER)

    assert response.json()["status"] == "waiting_for_wallet"
    assert await count(db_session, "SELECT count(*) FROM rewards") == 0
    assert await _claim_flags(db_session, SHOPIFY_ID) == [(claimant, "order_token_mismatch")]
    assert (await _order(db_session, SHOPIFY_ID)).attribution_flag == "unbound"


async def test_shopify__two_claims__the_one_with_the_cart_token_is_paid(client, db_session):
    product, _ = await _shop(db_session)
    thief, _ = await _claim(client, db_session, product.id, SHOPIFY_ID, "not-the-token")
    buyer, _ = await _claim(client, db_session, product.id, SHOPIFY_ID, SHOPIFY_ORDER["cart_token"])

    response = await _shopify(client, product.id, "orders/paid", SHOPIFY_ORDER)

    assert [r["wallet"] for r in response.json()["rewards"]] == [buyer]
    assert await _claim_flags(db_session, SHOPIFY_ID) == [
        (thief, "attribution_disputed"),
        (buyer, None),
    ]


async def test_custom__signed_order_reference__binds_a_browser_claim(client, db_session):
    product, _ = await _shop(db_session)
    reference = order_reference(CUSTOM_SECRET, "C-9")  # made by the shop's server for its page
    thief, forged = await _claim(client, db_session, product.id, "C-9", "Zm9yZ2VkIHJlZg==")
    buyer, _ = await _claim(client, db_session, product.id, "C-9", reference)

    response = await _custom(client, product.id, {"order_id": "C-9", "amount": "20.00"})

    assert [r["wallet"] for r in response.json()["rewards"]] == [buyer]
    assert await _paid_wallets(db_session) == {buyer}
    order = await _order(db_session, "C-9")
    assert (order.attribution, order.attribution_flag) == ("order_token", "disputed")
    assert forged["flag"] is None  # judged when the shop completes the order, not before
    assert await _claim_flags(db_session, "C-9") == [(thief, "attribution_disputed"), (buyer, None)]


async def test_api_key_completion__names_the_buyer__over_a_browser_pre_claim(client, db_session):
    product, key = await _shop(db_session)
    thief, _ = await _claim(client, db_session, product.id, "S-1")
    buyer = wallet()

    response = await send(
        client, key, product.id, buyer, "purchase.completed", {"order_id": "S-1", "amount": "5"}
    )

    assert response.json()["flag"] is None
    assert [r["wallet"] for r in response.json()["rewards"]] == [buyer]
    order = await _order(db_session, "S-1")
    assert (order.wallet, order.attribution, order.attribution_flag) == (buyer, "shop", "disputed")


async def test_api_key_started__is_the_shop_speaking__and_pays_on_the_webhook(client, db_session):
    """A server-side purchase.started (API key) needs no order token: the key is the shop's."""
    product, key = await _shop(db_session)
    buyer = wallet()
    started = await send(client, key, product.id, buyer, "purchase.started", {"order_id": "727"})
    order = {key_: value for key_, value in WOO_ORDER.items() if key_ != "order_key"}

    response = await _woo(client, product.id, order, "d-server")

    assert started.json()["flag"] is None
    assert [r["wallet"] for r in response.json()["rewards"]] == [buyer]
    assert (await _order(db_session, "727")).attribution == "shop"
