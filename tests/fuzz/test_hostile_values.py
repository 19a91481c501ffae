"""Hostile values, aimed at every field that reaches Decimal, PostgreSQL or a JSON parser.

Schemathesis draws values from the OpenAPI schema, and the schema says
`data` is "any object" and `amount` "a string": it never tried `1e999000`, a
NUL, a lone surrogate or JSON nested ten thousand deep, which is how a reader
found 500s and a 30-second event-loop stall. These strategies do, through the
real app on the real database, signing shop payloads exactly as the vendors do.

Every answer must be below 500 and fast; a refusal must carry a machine code and
must not have written a row. FUZZ_HOSTILE_EXAMPLES (default 200, ~5 s) bounds the run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy import text, update

from backend.api.app import create_app
from backend.core.context import AppContext
from backend.interactions.ratelimit import ip_limiter
from backend.interactions.signatures import standard_signature
from backend.products.models import Product
from tests.factories import wallet
from tests.fuzz.conftest import World

EXAMPLES = int(os.environ.get("FUZZ_HOSTILE_EXAMPLES", "200"))
SHOPIFY_SECRET = "shpss_fuzz-0123456789"
CUSTOM_SECRET = "whsec_" + base64.b64encode(b"fuzz-custom-secret-bytes-0123456").decode()
TABLES = ("interactions", "orders", "rewards", "inbound_webhooks")
SLOW_S = 2.0  # a sanity bound: the real answers take milliseconds
DEEP = "\x00DEEP\x00"  # placeholder replaced by raw nested JSON after encoding


# --- hostile values -----------------------------------------------------------------------

huge_exponents = st.builds(
    lambda mantissa, sign, exponent: f"{mantissa}e{sign}{exponent}",
    st.sampled_from(["1", "9.99", "0.1", "123456789"]),
    st.sampled_from(["", "+", "-"]),
    st.integers(300, 10**9),
)
long_digits = st.integers(80, 20_000).map(lambda n: "9" * n)
with_nul = st.text(max_size=20).map(lambda t: f"{t}\x00{t}")
lone_surrogates = st.builds(
    lambda head, s, tail: f"{head}{s}{tail}",
    st.text(max_size=5),
    st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]),
    st.text(max_size=5),
)
very_long = st.integers(300, 300_000).map(lambda n: "x" * n)
deep_json = st.integers(33, 50_000).map(lambda depth: ("deep", depth))

HOSTILE = st.one_of(huge_exponents, long_digits, with_nul, lone_surrogates, very_long, deep_json)


def _encode(payload: Any) -> bytes:
    """JSON as a careless client writes it: lone surrogates escaped, `deep` markers spliced in
    as raw nesting (json.dumps itself would refuse to go that deep)."""
    deep: list[int] = []

    def mark(value: Any) -> Any:
        if isinstance(value, tuple) and value[:1] == ("deep",):
            deep.append(value[1])
            return DEEP
        if isinstance(value, dict):
            return {mark(k) if isinstance(k, tuple) else k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    body = json.dumps(mark(payload))
    for depth in deep:
        body = body.replace(json.dumps(DEEP), "[" * depth + "]" * depth, 1)
    return body.encode()


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else "[" * value[1] + "]" * value[1]


# --- the app and its database -------------------------------------------------------------


@dataclass
class Target:
    client: TestClient[Any]
    world: World
    product_id: str
    api_key: str

    def counts(self) -> dict[str, int]:
        async def read(context: AppContext) -> dict[str, int]:
            async with context.sessions() as session:
                found = {}
                for table in TABLES:
                    found[table] = int(await session.scalar(text(f"SELECT count(*) FROM {table}")))
                return found

        return self.world.run(read)


@pytest.fixture(scope="module")
def target(world: World, database_url: str, rpc_url: str) -> Iterator[Target]:
    seed = world.seed

    async def shop_secrets(context: AppContext) -> None:
        async with context.sessions() as session:
            await session.execute(
                update(Product)
                .where(Product.id == seed.product_id)
                .values(webhook_secrets={"shopify": [SHOPIFY_SECRET], "custom": [CUSTOM_SECRET]})
            )
            await session.commit()

    world.run(shop_secrets)
    # no evaluator: it would write rewards of earlier accepted items while a refused one is
    # being checked for "nothing written"
    app = create_app(world.settings, database_url=database_url, rpc_url=rpc_url, evaluator="none")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Target(client, world, seed.product_id, seed.api_key)


# --- where the values go ------------------------------------------------------------------


def _interaction(t: Target, field: str, value: Any) -> tuple[str, str, bytes, dict[str, str]]:
    item: dict[str, Any] = {"product_id": t.product_id, "wallet": wallet(), "type": "webshop.open"}
    if field.startswith("data."):
        item["type"] = "purchase.completed"
        item["data"] = {"order_id": f"o-{time.time_ns()}", field.removeprefix("data."): value}
    elif field == "data-key":
        item["data"] = {_as_text(value)[:1000]: 1}
    elif field == "data":
        item["data"] = {"anything": value}
    else:
        item[field] = value
    headers = {"Authorization": f"Bearer {t.api_key}", "Content-Type": "application/json"}
    return "POST", "/api/external/interactions", _encode(item), headers


def _batch(t: Target, field: str, value: Any) -> tuple[str, str, bytes, dict[str, str]]:
    method, _, body, headers = _interaction(t, field, value)
    return method, "/api/external/interactions/batch", b'{"interactions": [' + body + b"]}", headers


def _estimate(t: Target, _: str, value: Any) -> tuple[str, str, bytes, dict[str, str]]:
    # a URL has room for about 30,000 characters; a lone surrogate goes as the (invalid)
    # UTF-8 bytes a careless client would percent-encode
    amount = quote(_as_text(value)[:30_000].encode("utf-8", "surrogatepass"), safe="")
    query = f"wallet={wallet()}&type=purchase.completed&amount={amount}"
    return "GET", f"/api/external/products/{t.product_id}/estimate?{query}", b"", {}


def _shopify(t: Target, field: str, value: Any) -> tuple[str, str, bytes, dict[str, str]]:
    order = {
        "id": time.time_ns(),
        "financial_status": "paid",
        "total_price": "10.00",
        "currency": "EUR",
        "checkout_token": "bd5a8aa1ecd019dd3520ff791ee3a24c",
        field: value,
    }
    body = _encode(order)
    signature = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest())
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Hmac-Sha256": signature.decode(),
        "X-Shopify-Webhook-Id": f"fuzz-{time.time_ns()}",
    }
    return "POST", f"/api/external/webhooks/{t.product_id}/shopify", body, headers


def _custom(t: Target, field: str, value: Any) -> tuple[str, str, bytes, dict[str, str]]:
    data = {"order_id": f"c-{time.time_ns()}", "amount": "1.00", field: value}
    body = _encode({"type": "purchase.completed", "data": data})
    msg_id, timestamp = f"msg_{time.time_ns()}", str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": standard_signature(CUSTOM_SECRET, msg_id, timestamp, body),
    }
    return "POST", f"/api/external/webhooks/{t.product_id}/custom", body, headers


ROUTES = {
    "interaction": (
        _interaction,
        [
            "data",
            "data-key",
            "data.amount",
            "data.currency",
            "data.order_id",
            "data.order_token",
            "dedup_key",
            "analytics_session_id",
            "analytics_client_id",
            "device_id",
        ],
    ),
    "batch": (_batch, ["data", "data.amount", "dedup_key", "analytics_client_id", "device_id"]),
    "estimate": (_estimate, ["amount"]),
    "shopify": (_shopify, ["total_price", "currency", "id", "note", "checkout_token"]),
    "custom": (_custom, ["amount", "currency", "order_id", "wallet", "note"]),
}
AIMS = st.sampled_from(
    [(route, field) for route, (_, fields) in ROUTES.items() for field in fields]
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(aim=AIMS, value=HOSTILE)
def test_hostile_value__any_route__4xx_with_a_code_nothing_written_never_5xx(
    target: Target, aim: tuple[str, str], value: Any
) -> None:
    route, field = aim
    build, _ = ROUTES[route]
    method, path, body, headers = build(target, field, value)
    ip_limiter.reset()
    before = target.counts()

    started = time.perf_counter()
    response = target.client.request(method, path, content=body or None, headers=headers)
    took = time.perf_counter() - started

    assert response.status_code < 500, (route, field, response.text[:500])
    assert took < SLOW_S, (route, field, took)
    if response.status_code >= 400:
        assert response.json()["error"]["code"], response.text[:500]
        assert target.counts() == before, (route, field, response.status_code)
    elif route == "batch":
        [result] = response.json()["results"]
        assert result["status"] < 500, result
        if result["status"] >= 400:
            assert result["error"]["code"], result
            assert target.counts() == before, (route, field, result["status"])
