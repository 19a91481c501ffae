"""Bodies above MAX_BODY_BYTES get 413 in the error format, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.app import create_app
from backend.auth.models import AuthChallenge
from backend.interactions.models import Interaction
from backend.products.models import Product
from tests.conftest import asgi_client
from tests.factories import make_product, wallet

LIMIT = 4096


@pytest.fixture
async def small_limit_client(settings, clean_db) -> AsyncIterator[httpx.AsyncClient]:
    limited = settings.model_copy(update={"max_body_bytes": LIMIT})
    app = create_app(
        limited, database_url=clean_db.database_url, rpc_url=clean_db.rpc_url, context=clean_db
    )
    async with asgi_client(app) as client:
        yield client


async def _count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _interaction(product_id: str, padding: int) -> bytes:
    body = {
        "product_id": product_id,
        "type": "webshop.open",
        "wallet": wallet(),
        "data": {"pad": "x" * padding},
    }
    return json.dumps(body).encode()


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


async def test_interaction__body_over_limit__413_error_body_and_no_row(
    small_limit_client, db_session
) -> None:
    product, key = await make_product(db_session)
    product_id = product.id
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    response = await small_limit_client.post(
        "/api/external/interactions", content=_interaction(product_id, LIMIT), headers=headers
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert await _count(db_session, Interaction) == 0


async def test_interaction__chunked_body_over_limit__413_and_no_row(
    small_limit_client, db_session
) -> None:
    """No Content-Length to trust: the limit holds while the body streams in."""
    product, key = await make_product(db_session)
    product_id = product.id
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    response = await small_limit_client.post(
        "/api/external/interactions",
        content=_chunks(_interaction(product_id, LIMIT)),
        headers=headers,
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert await _count(db_session, Interaction) == 0


async def test_interaction__body_under_limit__accepted(small_limit_client, db_session) -> None:
    product, key = await make_product(db_session)
    product_id = product.id
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    response = await small_limit_client.post(
        "/api/external/interactions", content=_interaction(product_id, 100), headers=headers
    )

    assert response.status_code == 202, response.text


async def test_shop_webhook__raw_body_over_limit__413_and_no_row(
    small_limit_client, db_session
) -> None:
    product, _ = await make_product(db_session)
    product_id = product.id
    body = json.dumps({"id": 1, "note": "x" * LIMIT}).encode()

    response = await small_limit_client.post(
        f"/api/external/webhooks/{product_id}/custom",
        content=body,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert await _count(db_session, Interaction) == 0


async def test_business_and_auth_routes__body_over_limit__413_and_no_row(
    small_limit_client, db_session
) -> None:
    _, key = await make_product(db_session)
    products_before = await _count(db_session, Product)
    big_name = {"name": "x" * LIMIT, "domains": ["big.example"]}

    created = await small_limit_client.post(
        "/api/business/products", json=big_name, headers={"Authorization": f"Bearer {key}"}
    )
    challenge = await small_limit_client.post(
        "/api/auth/wallet-challenge", json={"wallet": wallet(), "pad": "x" * LIMIT}
    )

    assert (created.status_code, challenge.status_code) == (413, 413)
    assert created.json()["error"]["code"] == "payload_too_large"
    assert await _count(db_session, Product) == products_before
    assert await _count(db_session, AuthChallenge) == 0
