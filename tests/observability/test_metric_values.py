"""Every Cascade metric moves, by the exact amount, when the event it measures happens.

Each test scrapes (or renders) the exposition before and after the event and
asserts the difference, so a metric that is declared but never updated fails
here. The settlement metrics are proven in test_settlement_metrics.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from eth_account import Account
from sqlalchemy import text, update

from backend.core.config import ANVIL_DEV_KEYS
from backend.core.context import AppContext
from backend.interactions import metrics as ingest_metrics
from backend.notifications.delivery import deliver_due
from backend.notifications.events import MAX_ATTEMPTS, REWARDS_PUSHED
from backend.notifications.jobs import run_delivery_job
from backend.notifications.models import WebhookDelivery
from backend.notifications.outbox import enqueue_event
from backend.observability import alerts, metrics
from backend.runtime import monitors
from backend.runtime.anvil import rpc_call
from indexer.jobs import IndexJob, record_indexer_lag
from tests.factories import make_campaign, make_product, wallet
from tests.indexer.chain import Chain
from tests.indexer.conftest import chain, deployed, deployed_at  # noqa: F401
from tests.notifications.conftest import make_endpoint, receiver  # noqa: F401
from tests.notifications.receiver import Receiver
from tests.observability.samples import delta, rendered, scrape, value
from tests.wallets.conftest import make_reward

INGESTED = "cascade_interactions_ingested_total"
CUSTOM_SECRET = "whsec_" + base64.b64encode(b"metrics-test-secret-0123456789ab").decode()


def soon() -> datetime:
    """Just after now: rows enqueued with the database's now() are due."""
    return datetime.now(UTC) + timedelta(seconds=1)


def _standard_webhook_headers(body: bytes, msg_id: str) -> dict[str, str]:
    """Standard Webhooks signature computed from the spec, not with the backend's helper."""
    timestamp = str(int(time.time()))
    key = base64.b64decode(CUSTOM_SECRET.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature}",
    }


async def test_http_requests__counted_and_timed_per_route_template(client: httpx.AsyncClient):
    before = await scrape(client)

    for _ in range(3):
        assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/api/wallet/not-an-address/rewards")).status_code == 422

    after = await scrape(client)
    live = {"route": "/health/live", "method": "GET"}
    wallet_route = {"route": "/api/wallet/{address}/rewards", "method": "GET"}
    assert delta(before, after, "cascade_http_requests_total", **live, status="2xx") == 3
    assert delta(before, after, "cascade_http_requests_total", **wallet_route, status="4xx") == 1
    histogram = "cascade_http_request_duration_seconds"
    assert delta(before, after, f"{histogram}_count", **live) == 3
    assert delta(before, after, f"{histogram}_count", **wallet_route) == 1
    assert delta(before, after, f"{histogram}_sum", **live) > 0


async def test_interactions_ingested__stored_ones_by_type__not_duplicates_or_rejected(
    client: httpx.AsyncClient, db_session: Any
):
    product, key = await make_product(db_session, webhook_secrets={"custom": [CUSTOM_SECRET]})
    await make_campaign(db_session, product, trigger="webshop.open")
    auth = {"Authorization": f"Bearer {key}"}
    user, referrer, buyer = wallet(), wallet(), wallet()

    async def one(type_: str, who: str = user, **fields: Any) -> int:
        body = {"product_id": product.id, "wallet": who, "type": type_, **fields}
        response = await client.post("/api/external/interactions", json=body, headers=auth)
        return response.status_code

    before = await scrape(client)
    assert await one("webshop.open") == 202  # the one-statement autocommit path
    assert await one("webshop.open") == 202
    assert await one("webshop.open", dedup_key="k") == 202  # the transactional path
    assert await one("webshop.open", dedup_key="k") == 202  # duplicate: not stored again
    assert await one("custom.quiz_done") == 202
    assert await one("no.such_type") == 422
    assert await one("referral.link_creation", referrer) == 202
    assert await one("referral.referred", data={"referrer": referrer}) == 202

    item = {"product_id": product.id, "wallet": user}
    batch = [
        {**item, "type": "webshop.open", "dedup_key": "a"},
        {**item, "type": "webshop.open", "dedup_key": "a"},  # duplicate inside the batch
        {**item, "type": "webshop.open"},
        {**item, "type": "webshop.open", "surprise": True},  # rejected: unknown field
        {**item, "type": "purchase.started", "data": {"order_id": "o-1"}},
        {**item, "type": "custom.other"},
    ]
    response = await client.post(
        "/api/external/interactions/batch", json={"interactions": batch}, headers=auth
    )
    assert [r["status"] for r in response.json()["results"]] == [202, 202, 202, 422, 202, 202]

    payload = {
        "type": "purchase.completed",
        "timestamp": "2026-11-21T10:00:00Z",
        "data": {"order_id": "C-1", "amount": "49.90", "currency": "EUR", "wallet": buyer},
    }
    body = json.dumps(payload).encode()
    headers = _standard_webhook_headers(body, "msg_metrics_1")
    url = f"/api/external/webhooks/{product.id}/custom"
    assert (await client.post(url, content=body, headers=headers)).status_code == 200
    replay = await client.post(url, content=body, headers=headers)  # already processed
    assert replay.status_code < 500

    after = await scrape(client)
    counted = {
        label: delta(before, after, INGESTED, type=label)
        for label in ingest_metrics.INTERACTION_TYPES
    }
    assert {label: n for label, n in counted.items() if n} == {
        "webshop.open": 5,
        "custom": 2,
        "referral.link_creation": 1,
        "referral.referred": 1,
        "purchase.started": 1,
        "purchase.completed": 1,
    }
    stored = await db_session.execute(text("SELECT type, count(*) FROM interactions GROUP BY 1"))
    by_label: dict[str, int] = {}
    for type_, count in stored:
        label = ingest_metrics.interaction_label(type_)
        by_label[label] = by_label.get(label, 0) + int(count)
    assert {label: n for label, n in counted.items() if n} == by_label  # every stored row


async def test_interactions_ingested__a_rolled_back_transaction_counts_nothing(
    clean_db: AppContext,
):
    before = rendered()
    async with clean_db.sessions() as session:
        await session.execute(text("SELECT 1"))
        ingest_metrics.interaction_stored_on_commit(session, "webshop.open")
        await session.rollback()  # what it wrote is gone: so is its count
        await session.execute(text("SELECT 1"))
        ingest_metrics.interaction_stored_on_commit(session, "webshop.open")
        ingest_metrics.interaction_stored_on_commit(session, "custom.anything")
        await session.commit()
        await session.execute(text("SELECT 1"))
        await session.commit()  # a later transaction does not count them again

    after = rendered()
    assert delta(before, after, INGESTED, type="webshop.open") == 1
    assert delta(before, after, INGESTED, type="custom") == 1


async def test_rewards_gauge__counts_rows_by_status_at_scrape(
    client: httpx.AsyncClient, db_session: Any
):
    before = await scrape(client)
    product, _ = await make_product(db_session)
    campaign = await make_campaign(db_session, product)
    for status in ("pending", "pending", "pushed", "cancelled"):
        await make_reward(db_session, product, campaign, wallet(), 10, status=status)

    after = await scrape(client)

    changes = {
        status: delta(before, after, "cascade_rewards", status=status)
        for status in metrics.REWARD_STATUSES
    }
    assert changes == {"pending": 2, "batched": 0, "pushed": 1, "cancelled": 1}


async def test_alerts__raised_counted_once_per_opening_and_open_gauge_follows(
    client: httpx.AsyncClient, db_session: Any
):
    before = await scrape(client)
    for _ in range(2):  # the repeat of an open alert is not a new alert
        await alerts.raise_alert(db_session, "metrics_test_alert", "critical", "raised")
        await db_session.commit()
    opened = await scrape(client)
    await alerts.resolve_alert(db_session, "metrics_test_alert")
    await db_session.commit()
    resolved = await scrape(client)

    assert delta(before, opened, "cascade_alerts_total", code="metrics_test_alert") == 1
    assert delta(before, opened, "cascade_alerts_open", severity="critical") == 1
    assert value(resolved, "cascade_alerts_open", severity="critical") == value(
        before, "cascade_alerts_open", severity="critical"
    )


async def _deliver_once(ctx: AppContext, session: Any, receiver_: Receiver, **endpoint: Any):
    product, _ = await make_product(session)
    await make_endpoint(session, product, endpoint.pop("url", receiver_.url), **endpoint)
    rows = await enqueue_event(session, product.id, REWARDS_PUSHED, {"n": 1})
    await session.commit()
    return rows[0].id


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [(200, "delivered"), (500, "retry"), (410, "gone"), (500, "dead"), (None, "refused")],
)
async def test_webhook_deliveries__each_outcome_counted_once(
    clean_db: AppContext,
    db_session: Any,
    receiver: Receiver,  # noqa: F811
    answer: int | None,
    outcome: str,
):
    if answer is None:  # a loopback receiver on an endpoint that does not allow private hosts
        await _deliver_once(clean_db, db_session, receiver, allow_private=False)
    else:
        receiver.answer(answer)
        delivery_id = await _deliver_once(clean_db, db_session, receiver)
        if outcome == "dead":  # its last allowed attempt
            await db_session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(attempts=MAX_ATTEMPTS - 1)
            )
            await db_session.commit()
    before = rendered()

    stats = await deliver_due(clean_db, soon())

    assert stats.claimed == 1
    after = rendered()
    counted = {
        o: delta(before, after, "cascade_webhook_deliveries_total", outcome=o)
        for o in metrics.WEBHOOK_OUTCOMES
    }
    assert counted == {o: float(o == outcome) for o in metrics.WEBHOOK_OUTCOMES}


async def test_job_duration__monitors_and_webhook_delivery_runs_observed(clean_db: AppContext):
    before = rendered()

    await monitors.run_monitors_job(clean_db)
    await run_delivery_job(clean_db)
    await run_delivery_job(clean_db)

    after = rendered()
    count = "cascade_job_duration_seconds_count"
    assert delta(before, after, count, job="monitors") == 1
    assert delta(before, after, count, job="webhook_delivery") == 2
    assert delta(before, after, "cascade_job_duration_seconds_sum", job="monitors") > 0


async def test_job_duration__indexer_run_observed(
    clean_db: AppContext,
    chain: Chain,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
):
    settings = clean_db.settings.model_copy(
        update={"push_pull_address": chain.push_pull, "bank_factory_address": chain.bank_factory}
    )
    monkeypatch.setattr(clean_db, "settings", settings)
    chain.push([(wallet(), 5)])
    before = rendered()

    stats = await IndexJob()(clean_db)

    assert stats is not None and stats.events >= 1
    after = rendered()
    assert delta(before, after, "cascade_job_duration_seconds_count", job="indexer") == 1


async def test_signer_balance__gauge_follows_the_chain(
    clean_db: AppContext, chain_snapshot: None, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SIGNER_BALANCE_MIN_WEI", "1")
    signer = Account.from_key(ANVIL_DEV_KEYS[0]).address
    readings = []
    for balance in (123_456_789_000, 987_654_321_000):
        rpc_call(clean_db.rpc_url, "anvil_setBalance", [signer, hex(balance)])
        report = await monitors.run_monitors(clean_db)
        assert report["signer"] == signer
        readings.append(value(rendered(), "cascade_signer_balance_wei"))

    assert readings == [123_456_789_000.0, 987_654_321_000.0]


async def test_indexer_lag__gauge_follows_each_observation(db_session: Any):
    for lag in (120, 3):
        await record_indexer_lag(db_session, lag, 50)
        await db_session.commit()
        assert value(rendered(), "cascade_indexer_lag_blocks") == lag
