"""Hostile values get a fast 422 with a machine code and write nothing, on every way in.

Huge exponents and digit strings (Decimal would overflow or spin for seconds),
NUL and lone surrogates (PostgreSQL and UTF-8 refuse them), over-long
currencies, deeply nested JSON.
"""

from __future__ import annotations

import json
import time

import pytest

from backend.core.errors import InvalidInput
from backend.interactions import values
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import bearer, count, send
from tests.interactions.test_webhooks import (
    SECRETS,
    SHOPIFY_ORDER,
    WOO_ORDER,
    WOO_SECRET,
    _b64_hmac,
    _custom_headers,
    _shopify,
)

# exponent that overflows Decimal, one that costs ~30 s, long digit strings (URL-sized)
HUGE_AMOUNTS = ["1e100000000", "1e999000", "9" * 20_000, "1" + "0" * 79, "0." + "1" * 5000]
HUGE_IDS = ["exp-overflow", "exp-slow", "digits", "above-uint256", "long-fraction"]
TABLES = ("interactions", "orders", "rewards", "inbound_webhooks")


async def _counts(db_session) -> dict[str, int]:
    return {table: await count(db_session, f"SELECT count(*) FROM {table}") for table in TABLES}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("49.90", 49_900_000_000_000_000_000), ("0", 0), (49, 49 * 10**18), (" 1.5 ", 15 * 10**17)],
)
def test_parse_amount__plain_decimals__scale_to_18_digits(raw, expected):
    assert values.parse_amount(raw, "amount") == expected


@pytest.mark.parametrize(
    "raw",
    [*HUGE_AMOUNTS, "1e3", "-1", "NaN", "Infinity", "1,5", "", "١٢", 1.5, True, 2**300],
    ids=[
        *HUGE_IDS,
        "exponent",
        "negative",
        "nan",
        "inf",
        "comma",
        "empty",
        "arabic",
        "float",
        "bool",
        "int-2^300",
    ],
)
def test_parse_amount__anything_else__is_invalid_amount_in_microseconds(raw):
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as caught:
        values.parse_amount(raw, "data.amount")

    assert caught.value.code == "invalid_amount"
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize("amount", HUGE_AMOUNTS[:3], ids=HUGE_IDS[:3])
async def test_estimate__huge_amount__anonymous_422_fast(client, db_session, amount):
    product, _ = await make_product(db_session)
    await make_campaign(db_session, product)

    started = time.perf_counter()
    response = await client.get(
        f"/api/external/products/{product.id}/estimate",
        params={"wallet": wallet(), "type": "purchase.completed", "amount": amount},
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_amount"
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("amount", HUGE_AMOUNTS[:3], ids=HUGE_IDS[:3])
async def test_purchase_completed__huge_amount__422_fast_nothing_written(
    client, db_session, amount
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product)
    before = await _counts(db_session)

    started = time.perf_counter()
    response = await send(
        client, key, product.id, wallet(), "purchase.completed", {"order_id": "1", "amount": amount}
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_amount"
    assert time.perf_counter() - started < 1.0
    assert await _counts(db_session) == before


@pytest.mark.parametrize(
    "extra",
    [
        {"data": {"page": "a\u0000b"}},
        {"data": {"k\u0000": 1}},
        {"data": {"list": [{"deep": ["\u0000"]}]}},
        {"dedup_key": "key\u0000"},
        {"analytics_session_id": "\u0000"},
        {"analytics_client_id": "c\u0000"},
    ],
    ids=["data-value", "data-key", "data-nested", "dedup_key", "session_id", "client_id"],
)
async def test_interaction__nul_anywhere__is_422_invalid_text_nothing_written(
    client, db_session, extra
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    user = wallet()

    single = await client.post(
        "/api/external/interactions",
        json={"product_id": product.id, "wallet": user, "type": "webshop.open", **extra},
        headers=bearer(key),
    )
    batch = await client.post(
        "/api/external/interactions/batch",
        json={
            "interactions": [
                {"product_id": product.id, "wallet": user, "type": "webshop.open", **extra}
            ]
        },
        headers=bearer(key),
    )

    assert single.status_code == 422, single.text
    assert single.json()["error"]["code"] == "invalid_text"
    assert batch.status_code == 202
    assert batch.json()["results"][0]["status"] == 422
    assert batch.json()["results"][0]["error"]["code"] == "invalid_text"
    assert await count(db_session, "SELECT count(*) FROM interactions") == 0


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\udc00b"])
async def test_interaction__lone_surrogate__is_4xx_nothing_written(client, db_session, escape):
    product, key = await make_product(db_session)
    body = (
        f'{{"product_id": "{product.id}", "wallet": "{wallet()}", "type": "webshop.open",'
        f' "data": {{"page": "{escape}"}}}}'
    )

    response = await client.post(
        "/api/external/interactions",
        content=body.encode(),
        headers={**bearer(key), "Content-Type": "application/json"},
    )

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"]
    assert await count(db_session, "SELECT count(*) FROM interactions") == 0


async def test_interaction__deeply_nested_data__is_422_json_too_deep(client, db_session):
    product, key = await make_product(db_session)
    deep: object = "leaf"
    for _ in range(values.MAX_JSON_DEPTH + 1):
        deep = [deep]

    response = await send(client, key, product.id, wallet(), "webshop.open", {"d": deep})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "json_too_deep"
    assert await count(db_session, "SELECT count(*) FROM interactions") == 0


async def test_referral_link__nul_in_url__is_422(client, db_session):
    product, key = await make_product(db_session, domain="shop-nul.example")

    response = await client.post(
        "/api/external/referral-links",
        json={
            "product_id": product.id,
            "wallet": wallet(),
            "url": "https://shop-nul.example/\u0000",
        },
        headers=bearer(key),
    )

    assert response.status_code == 422
    assert await count(db_session, "SELECT count(*) FROM interactions") == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/external/products/0x%00/origins",
        "/api/external/products/0x%00/estimate?wallet=0x0&type=webshop.open",
        "/listener?product=%00",
    ],
)
async def test_product_id__nul_in_url__is_404_not_500(client, path):
    response = await client.get(path)

    assert response.status_code in (404, 422), response.text


async def test_webhook__nul_in_product_id__is_404(client):
    response = await client.post("/api/external/webhooks/0x%00/shopify", content=b"{}")

    assert response.status_code == 404


# --- signed shop payloads ---------------------------------------------------------------


async def _woo(client, product_id, order):
    body = json.dumps(order).encode()
    return await client.post(
        f"/api/external/webhooks/{product_id}/woocommerce",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Delivery-ID": "d-hostile",
            "X-WC-Webhook-Signature": _b64_hmac(WOO_SECRET, body),
        },
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"currency": "E" * 17}, "validation_error"),
        ({"currency": "EU\u0000"}, "invalid_text"),
        ({"total_price": "1e100000000"}, "invalid_amount"),
        ({"total_price": "9" * 5000}, "invalid_amount"),
        ({"id": "82098\u0000"}, "invalid_text"),
        ({"id": "\ud800"}, "invalid_text"),
    ],
    ids=["long-currency", "nul-currency", "exponent", "digits", "nul-id", "surrogate-id"],
)
async def test_shopify__signed_but_unreadable_field__is_422_nothing_written(
    client, db_session, change, code
):
    product, _ = await make_product(db_session, webhook_secrets=SECRETS)
    await make_campaign(db_session, product)
    before = await _counts(db_session)

    started = time.perf_counter()
    response = await _shopify(client, product.id, "orders/paid", {**SHOPIFY_ORDER, **change})

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert time.perf_counter() - started < 1.0
    assert await _counts(db_session) == before


async def test_woocommerce__signed_over_long_currency__is_422_nothing_written(client, db_session):
    product, _ = await make_product(db_session, webhook_secrets=SECRETS)
    before = await _counts(db_session)

    response = await _woo(client, product.id, {**WOO_ORDER, "currency": "EURO" * 10})

    assert response.status_code == 422
    assert await _counts(db_session) == before


async def test_shopify__nul_or_surrogate_in_a_field_not_read__is_stored_replaced(
    client, db_session
):
    """A customer's note is kept for the record, not read: a stray NUL must not lose the order."""
    product, _ = await make_product(db_session, webhook_secrets=SECRETS)
    order = {**SHOPIFY_ORDER, "note": "gift\u0000wrap \ud83d", "note_attributes": [{"\u0000": 1}]}

    response = await _shopify(client, product.id, "orders/paid", order)

    assert response.status_code == 200, response.text
    stored = await count(
        db_session,
        "SELECT count(*) FROM orders WHERE completed_payload->>'note' = 'gift\ufffdwrap \ufffd'",
    )
    assert stored == 1


async def test_webhook__deeply_nested_signed_body__is_4xx_not_500(client, db_session):
    product, _ = await make_product(db_session, webhook_secrets=SECRETS)
    body = b'{"type": "purchase.completed", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    response = await client.post(
        f"/api/external/webhooks/{product.id}/custom", content=body, headers=_custom_headers(body)
    )

    assert 400 <= response.status_code < 500
    assert await _counts(db_session) == dict.fromkeys(TABLES, 0)
