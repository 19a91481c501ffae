"""Webhook endpoints and deliveries through the business API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.notifications.delivery import deliver_due
from backend.notifications.events import RETRY_SCHEDULE, REWARDS_PUSHED
from backend.notifications.outbox import enqueue_event
from backend.products.models import Role
from tests.factories import make_product
from tests.notifications.receiver import verify


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def hooks(product_id: str) -> str:
    return f"/api/business/products/{product_id}/webhooks"


@pytest.fixture
def private_allowed(monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "1")


async def test_create__returns_secret_once_and_lists_without_it(client, db_session):
    product, key = await make_product(db_session)

    created = await client.post(
        hooks(product.id),
        json={"url": "https://hooks.example/cascade", "events": [REWARDS_PUSHED]},
        headers=bearer(key),
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["endpoint"]["events"] == [REWARDS_PUSHED]
    assert body["endpoint"]["enabled"] is True and body["endpoint"]["active_secrets"] == 1
    listed = await client.get(hooks(product.id), headers=bearer(key))
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()] == [body["endpoint"]["id"]]
    assert body["secret"] not in listed.text
    audit = await db_session.scalar(
        select(AuditEntry).where(AuditEntry.action == "webhook_endpoint.create")
    )
    assert audit is not None and body["secret"] not in str(audit.after)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "http://hooks.example/x", "events": [REWARDS_PUSHED]}, "url"),
        ({"url": "https://10.0.0.8/x", "events": [REWARDS_PUSHED]}, "url"),
        ({"url": "https://localhost/x", "events": [REWARDS_PUSHED]}, "url"),
        ({"url": "https://u:p@hooks.example/x", "events": [REWARDS_PUSHED]}, "url"),
        ({"url": "https://hooks.example/x", "events": ["rewards.invented"]}, "events"),
        ({"url": "https://hooks.example/x", "events": []}, "events"),
        (
            {"url": "http://127.0.0.1:9/x", "events": [REWARDS_PUSHED], "allow_private": True},
            "allow_private",
        ),
    ],
)
async def test_create__invalid__422_naming_the_field(client, db_session, payload, field):
    product, key = await make_product(db_session)

    response = await client.post(hooks(product.id), json=payload, headers=bearer(key))

    assert response.status_code == 422, response.text
    assert field in response.text


async def test_create__allow_private__only_when_the_operator_allows(
    client, db_session, private_allowed
):
    product, key = await make_product(db_session)

    response = await client.post(
        hooks(product.id),
        json={"url": "http://127.0.0.1:9/x", "events": [REWARDS_PUSHED], "allow_private": True},
        headers=bearer(key),
    )

    assert response.status_code == 201, response.text
    assert response.json()["endpoint"]["allow_private"] is True


async def test_endpoints__other_product_key_sees_404_and_non_admin_403(client, db_session):
    product, key = await make_product(db_session)
    _, other_key = await make_product(db_session)
    created = await client.post(
        hooks(product.id),
        json={"url": "https://hooks.example/x", "events": [REWARDS_PUSHED]},
        headers=bearer(key),
    )
    endpoint_id = created.json()["endpoint"]["id"]

    assert (await client.get(hooks(product.id), headers=bearer(other_key))).status_code == 404
    patched = await client.patch(
        f"/api/business/webhooks/{endpoint_id}", json={"enabled": False}, headers=bearer(other_key)
    )
    assert patched.status_code == 404
    manager, manager_key = await make_product(db_session, roles=Role.CAMPAIGN_MANAGER)
    forbidden = await client.get(hooks(manager.id), headers=bearer(manager_key))
    assert forbidden.status_code == 403


async def test_update_rotate_delete(client, clean_db, db_session, private_allowed, receiver):
    product, key = await make_product(db_session)
    created = await client.post(
        hooks(product.id),
        json={"url": receiver.url, "events": [REWARDS_PUSHED], "allow_private": True},
        headers=bearer(key),
    )
    endpoint_id, first = created.json()["endpoint"]["id"], created.json()["secret"]
    url = f"/api/business/webhooks/{endpoint_id}"

    patched = await client.patch(url, json={"events": [REWARDS_PUSHED, "settlement.failed"]})
    assert patched.status_code == 401
    patched = await client.patch(
        url, json={"events": [REWARDS_PUSHED, "settlement.failed"]}, headers=bearer(key)
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["events"] == [REWARDS_PUSHED, "settlement.failed"]

    rotated = await client.post(url + "/rotate-secret", headers=bearer(key))
    assert rotated.status_code == 201, rotated.text
    second = rotated.json()["secret"]
    assert rotated.json()["active_secrets"] == 2 and second != first
    await enqueue_event(db_session, product.id, REWARDS_PUSHED, {})
    await db_session.commit()
    await deliver_due(clean_db, datetime.now(UTC) + timedelta(seconds=1))
    [hit] = receiver.hooks()
    assert verify(first, hit.headers, hit.body) and verify(second, hit.headers, hit.body)

    third = await client.post(url + "/rotate-secret", headers=bearer(key))
    assert third.json()["active_secrets"] == 2  # the oldest is dropped
    final = await client.post(
        url + "/rotate-secret", json={"keep_previous": False}, headers=bearer(key)
    )
    assert final.json()["active_secrets"] == 1

    assert (await client.delete(url, headers=bearer(key))).status_code == 204
    assert (await client.get(hooks(product.id), headers=bearer(key))).json() == []
    assert (await client.delete(url, headers=bearer(key))).status_code == 404


async def test_dead_delivery__listed_and_resent_with_the_same_id(
    client, clean_db, db_session, private_allowed, receiver
):
    receiver.default = 503
    product, key = await make_product(db_session)
    created = await client.post(
        hooks(product.id),
        json={"url": receiver.url, "events": [REWARDS_PUSHED], "allow_private": True},
        headers=bearer(key),
    )
    assert created.status_code == 201
    [row] = await enqueue_event(db_session, product.id, REWARDS_PUSHED, {"batch": "1"})
    await db_session.commit()
    ctx = clean_db
    clock = datetime.now(UTC) + timedelta(seconds=1)
    for delay in RETRY_SCHEDULE:
        clock += delay
        await deliver_due(ctx, clock)
    deliveries = f"/api/business/products/{product.id}/webhook-deliveries"

    dead = await client.get(deliveries, params={"status": "dead"}, headers=bearer(key))

    assert dead.status_code == 200
    [listed] = dead.json()
    assert listed["id"] == str(row.id) and listed["attempts"] == 8
    assert listed["last_status_code"] == 503 and listed["next_attempt_at"] is None
    bad = await client.get(deliveries, params={"status": "weird"}, headers=bearer(key))
    assert bad.status_code == 422

    receiver.default = 200
    resent = await client.post(
        f"/api/business/webhook-deliveries/{row.id}/resend", headers=bearer(key)
    )
    assert resent.status_code == 202, resent.text
    assert resent.json()["status"] == "pending" and resent.json()["attempts"] == 0
    again = await client.post(
        f"/api/business/webhook-deliveries/{row.id}/resend", headers=bearer(key)
    )
    assert again.status_code == 409
    stats = await deliver_due(ctx, datetime.now(UTC) + timedelta(seconds=1))
    assert stats.delivered == 1
    assert {hit.webhook_id for hit in receiver.hooks()} == {str(row.id)}
    delivered = await client.get(deliveries, params={"status": "delivered"}, headers=bearer(key))
    assert [d["id"] for d in delivered.json()] == [str(row.id)]


async def test_disable_via_api__closes_queue_and_resend_needs_enabled(
    client, db_session, private_allowed
):
    product, key = await make_product(db_session)
    created = await client.post(
        hooks(product.id),
        json={"url": "https://hooks.example/x", "events": [REWARDS_PUSHED]},
        headers=bearer(key),
    )
    endpoint_id = created.json()["endpoint"]["id"]
    [row] = await enqueue_event(db_session, product.id, REWARDS_PUSHED, {})
    await db_session.commit()

    disabled = await client.patch(
        f"/api/business/webhooks/{endpoint_id}", json={"enabled": False}, headers=bearer(key)
    )

    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    assert disabled.json()["disabled_reason"] == "disabled by an admin"
    resend = f"/api/business/webhook-deliveries/{row.id}/resend"
    refused = await client.post(resend, headers=bearer(key))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "endpoint_disabled"
    enabled = await client.patch(
        f"/api/business/webhooks/{endpoint_id}", json={"enabled": True}, headers=bearer(key)
    )
    assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] is None
    assert (await client.post(resend, headers=bearer(key))).status_code == 202
    missing = await client.post(
        "/api/business/webhook-deliveries/not-a-uuid/resend", headers=bearer(key)
    )
    assert missing.status_code == 404
