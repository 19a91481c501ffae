"""The outbox worker against a real HTTP receiver, with the clock moved instead of slept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from backend.core.context import AppContext
from backend.core.models import Alert
from backend.notifications import delivery
from backend.notifications.delivery import LEASE, claim_due, deliver_due
from backend.notifications.events import (
    CAMPAIGN_EXPIRED,
    INTERACTION_REWARDED,
    RETRY_SCHEDULE,
    REWARDS_PUSHED,
)
from backend.notifications.models import WebhookDelivery, WebhookEndpoint
from backend.notifications.outbox import enqueue_event
from tests.factories import make_campaign, make_product
from tests.notifications.conftest import make_endpoint
from tests.notifications.receiver import verify


def soon() -> datetime:
    """A clock start just after now, so rows enqueued by the database's now() are due."""
    return datetime.now(UTC) + timedelta(seconds=1)


async def _enqueue(ctx: AppContext, product_id: str, event: str, **data: object) -> str:
    async with ctx.sessions() as session:
        rows = await enqueue_event(session, product_id, event, dict(data))
        await session.commit()
    assert len(rows) == 1
    return str(rows[0].id)


async def _delivery(ctx: AppContext, delivery_id: str) -> WebhookDelivery:
    async with ctx.sessions() as session:
        row = await session.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


async def test_deliver__signed_with_standard_webhooks__verifies_independently(
    clean_db, db_session, receiver
):
    product, _ = await make_product(db_session)
    _, secret = await make_endpoint(db_session, product, receiver.url)
    delivery_id = await _enqueue(clean_db, product.id, REWARDS_PUSHED, amount="1000000000000000000")
    now = soon()

    stats = await deliver_due(clean_db, now)

    assert stats.delivered == 1
    [hit] = receiver.hooks()
    assert hit.webhook_id == delivery_id
    assert hit.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert hit.headers["content-type"] == "application/json"
    assert verify(secret, hit.headers, hit.body, now=int(now.timestamp()))
    assert not verify(secret, hit.headers, hit.body + b" ")  # tampered body fails
    body = hit.json()
    assert body["type"] == REWARDS_PUSHED
    assert body["data"] == {"amount": "1000000000000000000"}
    assert body["timestamp"].endswith("Z")
    row = await _delivery(clean_db, delivery_id)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert row.delivered_at == now


async def test_deliver__secret_rotation__either_secret_verifies(clean_db, db_session, receiver):
    product, _ = await make_product(db_session)
    endpoint, old = await make_endpoint(db_session, product, receiver.url)
    new = "whsec_" + "bmV3LXNlY3JldC1rZXktYnl0ZXMtMDEyMzQ1Njc4OWFi"
    endpoint.secrets = [new, old]
    await db_session.commit()
    await _enqueue(clean_db, product.id, REWARDS_PUSHED)

    await deliver_due(clean_db, soon())

    [hit] = receiver.hooks()
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    assert verify(old, hit.headers, hit.body) and verify(new, hit.headers, hit.body)
    assert not verify("whsec_" + "b3RoZXI=", hit.headers, hit.body)


async def test_retries__follow_the_schedule_then_dead(clean_db, db_session, receiver):
    receiver.default = 500
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, receiver.url)
    delivery_id = await _enqueue(clean_db, product.id, INTERACTION_REWARDED)
    clock = soon()

    for attempt, delay in enumerate(RETRY_SCHEDULE, start=1):
        clock += delay
        if delay:  # one second early: not due yet
            early = await deliver_due(clean_db, clock - timedelta(seconds=1))
            assert early.claimed == 0, f"attempt {attempt} went out early"
        stats = await deliver_due(clean_db, clock)
        assert stats.claimed == 1, f"attempt {attempt} did not go out at {clock}"
        row = await _delivery(clean_db, delivery_id)
        assert row.attempts == attempt
        if attempt < len(RETRY_SCHEDULE):
            assert row.status == "pending"
            assert row.next_attempt_at == clock + RETRY_SCHEDULE[attempt]

    assert row.status == "dead"
    assert row.last_status_code == 500 and row.last_error == "receiver answered 500"
    assert (await deliver_due(clean_db, clock + timedelta(days=7))).claimed == 0
    hits = receiver.hooks()
    assert len(hits) == len(RETRY_SCHEDULE) == 8
    assert {hit.webhook_id for hit in hits} == {delivery_id}  # stable id across retries
    sent_at = [int(hit.headers["webhook-timestamp"]) for hit in hits]
    gaps = [timedelta(seconds=b - a) for a, b in zip(sent_at, sent_at[1:], strict=False)]
    assert gaps == list(RETRY_SCHEDULE[1:])


async def test_receiver_down_for_three_attempts__exactly_one_delivery_per_event(
    clean_db, db_session, receiver
):
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, receiver.url)
    ids = {
        await _enqueue(clean_db, product.id, INTERACTION_REWARDED, n=1),
        await _enqueue(clean_db, product.id, REWARDS_PUSHED, n=2),
    }
    receiver.down()
    clock = soon()
    for delay in RETRY_SCHEDULE[:3]:
        clock += delay
        stats = await deliver_due(clean_db, clock)
        assert (stats.claimed, stats.retried) == (2, 2)
        for delivery_id in ids:
            assert "ConnectError" in ((await _delivery(clean_db, delivery_id)).last_error or "")
    receiver.up()

    clock += RETRY_SCHEDULE[3]
    assert (await deliver_due(clean_db, clock)).delivered == 2
    for later in RETRY_SCHEDULE[4:]:  # nothing is due any more
        clock += later
        assert (await deliver_due(clean_db, clock)).claimed == 0

    hits = receiver.hooks()
    assert sorted(hit.webhook_id for hit in hits) == sorted(ids)
    for delivery_id in ids:
        row = await _delivery(clean_db, delivery_id)
        assert (row.status, row.attempts, row.last_error) == ("delivered", 4, None)


async def test_410__disables_endpoint_and_closes_its_queue(clean_db, db_session, receiver):
    receiver.answer(410)
    product, _ = await make_product(db_session)
    endpoint, _ = await make_endpoint(db_session, product, receiver.url)
    first = await _enqueue(clean_db, product.id, REWARDS_PUSHED)
    clock = soon()
    stats = await deliver_due(clean_db, clock, limit=1)
    assert stats.gone == 1

    async with clean_db.sessions() as session:
        row = await session.get(WebhookEndpoint, endpoint.id)
        assert row is not None and row.enabled is False
        assert "410" in (row.disabled_reason or "")
        assert await enqueue_event(session, product.id, REWARDS_PUSHED, {}) == []
        alert = await session.scalar(select(Alert).where(Alert.product_id == product.id))
        assert alert is not None and alert.code == "webhook_endpoint_disabled"
    assert (await _delivery(clean_db, first)).status == "dead"
    assert (await deliver_due(clean_db, clock + timedelta(days=2))).claimed == 0
    assert len(receiver.hooks()) == 1


async def test_410__pending_deliveries_of_the_endpoint_become_dead(clean_db, db_session, receiver):
    receiver.answer(410)
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, receiver.url)
    first = await _enqueue(clean_db, product.id, REWARDS_PUSHED)
    second = await _enqueue(clean_db, product.id, REWARDS_PUSHED)

    await deliver_due(clean_db, soon(), limit=1)

    states = {(await _delivery(clean_db, i)).status for i in (first, second)}
    assert states == {"dead"}
    assert len(receiver.hooks()) == 1


async def test_crash_between_change_and_delivery__new_worker_still_delivers(
    clean_db, db_session, receiver, settings
):
    """The event commits with the change; no worker runs ("crash"); a new process delivers it."""
    product, _ = await make_product(db_session)
    campaign = await make_campaign(db_session, product)
    await make_endpoint(db_session, product, receiver.url)

    async with clean_db.sessions() as session:  # the change and its outbox row, one transaction
        row = await session.get(type(campaign), campaign.id)
        assert row is not None
        row.status = "expired"
        await enqueue_event(session, product.id, CAMPAIGN_EXPIRED, {"campaign_id": campaign.id})
        await session.commit()
    async with clean_db.sessions() as session:  # and a change that rolls back sends nothing
        await enqueue_event(session, product.id, CAMPAIGN_EXPIRED, {"campaign_id": "rolled-back"})
        await session.rollback()
    assert receiver.hooks() == []

    restarted = AppContext(settings, clean_db.database_url, clean_db.rpc_url)
    try:
        stats = await deliver_due(restarted, soon())
    finally:
        await restarted.close()

    assert stats.delivered == 1
    [hit] = receiver.hooks()
    assert hit.json()["data"] == {"campaign_id": str(campaign.id)}


async def test_crash_after_send_before_record__redelivered_after_lease_with_same_id(
    clean_db, db_session, receiver
):
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, receiver.url)
    delivery_id = await _enqueue(clean_db, product.id, REWARDS_PUSHED)
    clock = soon()
    [claimed] = await claim_due(clean_db, clock)
    async with httpx.AsyncClient() as client:  # the worker sent it, then died before recording
        await delivery.send(client, claimed, clock)

    assert (await deliver_due(clean_db, clock + LEASE - timedelta(seconds=1))).claimed == 0
    assert (await deliver_due(clean_db, clock + LEASE)).delivered == 1

    hits = receiver.hooks()
    assert [hit.webhook_id for hit in hits] == [delivery_id, delivery_id]  # receiver dedupes
    row = await _delivery(clean_db, delivery_id)
    assert (row.status, row.attempts) == ("delivered", 2)


async def test_concurrent_workers__never_claim_the_same_row(clean_db, db_session, receiver):
    import asyncio

    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, receiver.url)
    ids = {await _enqueue(clean_db, product.id, REWARDS_PUSHED, n=n) for n in range(6)}
    clock = soon()

    results = await asyncio.gather(*(deliver_due(clean_db, clock, limit=2) for _ in range(4)))

    assert sum(stats.delivered for stats in results) == 6
    assert sorted(hit.webhook_id for hit in receiver.hooks()) == sorted(ids)


async def test_redirect__is_not_followed(clean_db, db_session, receiver):
    receiver.answer(302)
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, receiver.url)
    delivery_id = await _enqueue(clean_db, product.id, REWARDS_PUSHED)

    stats = await deliver_due(clean_db, soon())

    assert stats.retried == 1
    assert [hit.path for hit in receiver.requests] == ["/hook"]  # /elsewhere never requested
    row = await _delivery(clean_db, delivery_id)
    assert row.last_status_code == 302 and "not followed" in (row.last_error or "")


async def test_slow_receiver__times_out_and_retries(clean_db, db_session, receiver, monkeypatch):
    monkeypatch.setattr(delivery, "TIMEOUT_S", 0.3)  # 15 s in production
    receiver.delay_s = 1.0
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, receiver.url)
    delivery_id = await _enqueue(clean_db, product.id, REWARDS_PUSHED)

    stats = await deliver_due(clean_db, soon())

    assert stats.retried == 1
    assert (await _delivery(clean_db, delivery_id)).last_error == "timed out after 0.3s"


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "10.1.2.3", "169.254.169.254", "localhost", "[::ffff:127.0.0.1]"]
)
async def test_private_targets__refused_unless_allowed(clean_db, db_session, receiver, host):
    product, _ = await make_product(db_session)
    url = receiver.url.replace("127.0.0.1", host)
    await make_endpoint(db_session, product, url, allow_private=False)
    delivery_id = await _enqueue(clean_db, product.id, REWARDS_PUSHED)

    stats = await deliver_due(clean_db, soon())

    assert stats.refused == 1
    assert receiver.requests == []
    row = await _delivery(clean_db, delivery_id)
    assert row.status == "pending" and (row.last_error or "").startswith("refused:")


async def test_disabled_or_unsubscribed_endpoints__get_no_outbox_rows(clean_db, db_session):
    product, _ = await make_product(db_session)
    endpoint, _ = await make_endpoint(
        db_session, product, "https://hooks.example/a", events=(REWARDS_PUSHED,)
    )
    other, _ = await make_product(db_session)
    await make_endpoint(db_session, other, "https://hooks.example/b")

    rows = await enqueue_event(db_session, product.id, REWARDS_PUSHED, {})
    assert [row.endpoint_id for row in rows] == [endpoint.id]
    assert await enqueue_event(db_session, product.id, INTERACTION_REWARDED, {}) == []
    endpoint.enabled = False
    await db_session.flush()
    assert await enqueue_event(db_session, product.id, REWARDS_PUSHED, {}) == []
    with pytest.raises(ValueError, match="unknown webhook event"):
        await enqueue_event(db_session, product.id, "rewards.invented", {})
    await db_session.rollback()
