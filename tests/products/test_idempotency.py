"""Idempotency-Key on creating POSTs: replay, mismatch, in use, release on failure, expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from backend.campaigns.models import Campaign
from backend.core.idempotency import request_fingerprint
from backend.core.models import IdempotencyKey
from tests.campaigns.helpers import campaign_body
from tests.factories import make_product, make_token
from tests.products.fixtures import bearer


async def _shop(db_session):
    product, key = await make_product(db_session)
    await make_token(db_session, product)
    return product, key, f"/api/business/products/{product.id}/campaigns"


async def test_same_key_same_body__replays_the_stored_response(api, db_session):
    _, key, url = await _shop(db_session)
    headers = {**bearer(key), "Idempotency-Key": "create-1"}

    first = await api.post(url, json=campaign_body(), headers=headers)
    second = await api.post(url, json=campaign_body(), headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(list(await db_session.scalars(select(Campaign.id)))) == 1


async def test_same_key_different_body__is_422_mismatch(api, db_session):
    _, key, url = await _shop(db_session)
    headers = {**bearer(key), "Idempotency-Key": "create-2"}
    await api.post(url, json=campaign_body(), headers=headers)

    response = await api.post(url, json=campaign_body(name="Other"), headers=headers)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_mismatch"


async def test_same_key_while_the_first_is_running__is_409_in_use(api, db_session):
    product, key, url = await _shop(db_session)
    raw = json.dumps(campaign_body()).encode()
    keys = await api.get(f"/api/business/products/{product.id}/api-keys", headers=bearer(key))
    scope = "api_key:" + keys.json()[0]["id"]  # keys are scoped to the caller (principal.actor)
    db_session.add(
        IdempotencyKey(
            scope=scope,
            key="busy",
            request_hash=request_fingerprint("POST", url, raw),
            status="in_progress",
            expires_at=datetime.now(UTC) + timedelta(hours=24),
        )
    )
    await db_session.commit()

    response = await api.post(
        url,
        content=raw,
        headers={**bearer(key), "Idempotency-Key": "busy", "Content-Type": "application/json"},
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"


async def test_failed_request__releases_the_key_for_a_retry(api, db_session):
    _, key, url = await _shop(db_session)
    headers = {**bearer(key), "Idempotency-Key": "retry-me"}

    failed = await api.post(
        url, json=campaign_body(user_bps=5_000, token="0x" + "ab" * 20), headers=headers
    )
    fixed = await api.post(url, json=campaign_body(), headers=headers)

    assert failed.status_code == 422
    assert fixed.status_code == 201


async def test_expired_key__runs_the_request_again(api, db_session):
    _, key, url = await _shop(db_session)
    headers = {**bearer(key), "Idempotency-Key": "old"}
    first = await api.post(url, json=campaign_body(), headers=headers)
    await db_session.execute(
        update(IdempotencyKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db_session.commit()

    second = await api.post(url, json=campaign_body(), headers=headers)

    assert second.status_code == 201 and second.json()["id"] != first.json()["id"]


async def test_keys_are_scoped_per_caller(api, db_session):
    _, key, url = await _shop(db_session)
    _, other_key, other_url = await _shop(db_session)
    mine = await api.post(
        url, json=campaign_body(), headers={**bearer(key), "Idempotency-Key": "k"}
    )
    theirs = await api.post(
        other_url, json=campaign_body(), headers={**bearer(other_key), "Idempotency-Key": "k"}
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


async def test_invalid_key__is_422(api, db_session):
    _, key, url = await _shop(db_session)
    response = await api.post(
        url, json=campaign_body(), headers={**bearer(key), "Idempotency-Key": "x" * 300}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "Idempotency-Key"


async def test_product_creation__replay__never_stores_or_shows_the_key_again(api, db_session):
    from tests.factories import wallet
    from tests.products.fixtures import domain, session_token

    token = await session_token(db_session, wallet())
    headers = {**bearer(token), "Idempotency-Key": "product-1"}
    body = {"name": "Shop", "domains": [domain()]}
    first = await api.post("/api/business/products", json=body, headers=headers)
    second = await api.post("/api/business/products", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json()["product_id"] == first.json()["product_id"]
    assert first.json()["api_key"].startswith("csk_") and second.json()["api_key"] is None
    stored = await db_session.scalar(select(IdempotencyKey.response_body))
    assert "csk_" not in stored
