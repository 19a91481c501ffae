"""Signals recorded with interactions: keyed hashes only, from the request that sent them,
kept for the product's retention period."""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from backend.auth.models import AuthSession, PasskeyCredential, WalletLink
from backend.auth.tokens import hash_token
from backend.fraud import signals
from backend.fraud.models import FraudSettings
from tests.conftest import TEST_SECRET
from tests.evaluator.helpers import drain
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import bearer, make_session, rows


def _hash(kind: str, product_id: str, value: str) -> str:
    return signals.keyed_hash(TEST_SECRET, kind, product_id, value)


async def _post(client, token, product_id, who, kind, device=None, **data):
    headers = {**bearer(token, wait=False), "User-Agent": "Mozilla/5.0 test"}
    if device:
        headers["Cascade-Device-Id"] = device
    body = {"product_id": product_id, "wallet": who, "type": kind}
    if data:
        body["data"] = data
    response = await client.post("/api/external/interactions", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["interaction_id"]


async def test_ingest__api_key_with_device_header__only_the_device_hash_is_kept(client, db_session):
    product, key = await make_product(db_session)
    who = wallet()

    iid = await _post(client, key, product.id, who, "webshop.open", device="device-123")

    found = await rows(db_session, "SELECT * FROM interaction_signals")
    assert len(found) == 1
    row = found[0]
    assert (row.interaction_id, row.wallet) == (iid, who)
    assert row.device_hash == _hash("device", product.id, "device-123")
    # a server's own address and user agent say nothing about the visitor
    assert (row.ip_hash, row.user_agent_hash, row.passkey_hash) == (None, None, None)
    assert "device-123" not in str(tuple(row))


async def test_ingest__listener_session__ip_agent_and_device_hashed_per_product(client, db_session):
    product, _ = await make_product(db_session)
    other, _ = await make_product(db_session)
    who = wallet()
    token = await make_session(db_session, who)

    await _post(client, token, product.id, who, "webshop.open", device="d-1")
    await _post(client, token, other.id, who, "webshop.open", device="d-1")

    found = await rows(db_session, "SELECT * FROM interaction_signals ORDER BY interaction_id")
    first, second = found
    assert first.ip_hash == _hash("ip", product.id, "127.0.0.1")
    assert first.user_agent_hash == _hash("ua", product.id, "Mozilla/5.0 test")
    # two products cannot join their visitors: the same device hashes differently
    assert first.device_hash != second.device_hash


async def test_ingest__no_signals__nothing_recorded(client, db_session):
    product, key = await make_product(db_session)
    await _post(client, key, product.id, wallet(), "webshop.open")
    assert await rows(db_session, "SELECT * FROM interaction_signals") == []


async def test_sybil_pair_over_http__same_device_header__referral_reward_held(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="referral.referred")
    farmer, sock = wallet(), wallet()
    await _post(client, key, product.id, farmer, "webshop.open", device="one-phone")
    await _post(
        client, key, product.id, sock, "referral.referred", device="one-phone", referrer=farmer
    )

    await drain(clean_db)

    found = await rows(
        db_session, "SELECT wallet, status, hold_reasons FROM rewards ORDER BY level"
    )
    assert [(r.wallet, r.status, r.hold_reasons) for r in found] == [
        (sock, "held", ["shared_device"]),
        (farmer, "held", ["shared_device"]),
    ]


async def test_purge__signals_past_the_product_retention__deleted(client, db_session):
    product, key = await make_product(db_session)
    short, key2 = await make_product(db_session)
    db_session.add(
        FraudSettings(
            product_id=short.id,
            review_after_seconds=3600,
            default_decision="reject",
            signal_retention_days=1,
        )
    )
    await db_session.commit()
    await _post(client, key, product.id, wallet(), "webshop.open", device="a")
    await _post(client, key2, short.id, wallet(), "webshop.open", device="b")
    await db_session.execute(
        text("UPDATE interaction_signals SET created_at = now() - interval '2 days'")
    )
    await db_session.commit()

    deleted = await signals.purge_expired(db_session)

    assert deleted == 1  # the 1-day product's; the default keeps 90 days
    left = await rows(db_session, "SELECT product_id FROM interaction_signals")
    assert [r.product_id for r in left] == [product.id]


async def test_ingest__link_opened_header__age_in_seconds_kept(client, db_session):
    product, key = await make_product(db_session)
    opened = int(time.time()) - 90
    headers = {**bearer(key, wait=False), "Cascade-Link-Opened-At": str(opened)}
    body = {"product_id": product.id, "wallet": wallet(), "type": "webshop.open"}

    response = await client.post("/api/external/interactions", json=body, headers=headers)
    junk = await client.post(
        "/api/external/interactions",
        json={**body, "wallet": wallet()},
        headers={**headers, "Cascade-Link-Opened-At": "1e999"},
    )

    assert response.status_code == junk.status_code == 202
    found = await rows(db_session, "SELECT link_age_s FROM interaction_signals")
    assert len(found) == 1 and 90 <= found[0].link_age_s <= 95  # junk alone: nothing kept


async def test_ingest__passkey_session__its_credential_is_the_passkey_signal(client, db_session):
    product, _ = await make_product(db_session)
    who = wallet()
    db_session.add(WalletLink(wallet=who, user_handle=os.urandom(16), proof="eip191"))
    await db_session.flush()
    credential = PasskeyCredential(credential_id=os.urandom(16), wallet=who, public_key=b"k")
    db_session.add(credential)
    await db_session.flush()
    token = secrets.token_urlsafe(32)
    db_session.add(
        AuthSession(
            token_hash=hash_token(token),
            kind="bearer",
            wallet=who,
            credential_id=credential.id,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )
    await db_session.commit()

    await _post(client, token, product.id, who, "webshop.open")

    (row,) = await rows(db_session, "SELECT passkey_hash FROM interaction_signals")
    assert row.passkey_hash == _hash("passkey", product.id, str(credential.id))
