"""Owners hear about settlement: pushed batches and failures reach the webhook outbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.notifications.models import WebhookDelivery, WebhookEndpoint
from backend.settlement.job import push_once
from tests.factories import wallet
from tests.settlement.conftest import FAST, TOKENS, Env


async def _subscribe(env: Env) -> None:
    async with env.ctx.sessions() as session:
        session.add(
            WebhookEndpoint(
                product_id=env.product.id,
                url="https://hooks.example/cascade",
                secrets=["whsec_" + "A" * 32],
                events=["rewards.pushed", "settlement.failed"],
            )
        )
        await session.commit()


async def _deliveries(env: Env) -> list[WebhookDelivery]:
    async with env.ctx.sessions() as session:
        rows = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at))
        return list(rows)


async def test_push__confirmed_batch__enqueues_one_rewards_pushed_event(env: Env):
    await _subscribe(env)
    campaign = env.campaigns[0]
    wallets = [wallet() for _ in range(3)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, campaign, [(w, 2 * TOKENS) for w in wallets])

    report = await push_once(env.ctx, options=FAST)

    assert report.batches_pushed == 1
    deliveries = await _deliveries(env)
    assert [d.event_type for d in deliveries] == ["rewards.pushed"]
    data = deliveries[0].payload["data"]
    assert data["campaign_id"] == str(campaign.id)
    assert data["total"] == str(6 * TOKENS) and data["count"] == 3
    assert data["tx_hash"].startswith("0x") and data["token"] == env.token

    await push_once(env.ctx, options=FAST)  # nothing new: no second event
    assert len(await _deliveries(env)) == 1


async def test_push__budget_exhausted__enqueues_settlement_failed_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    await _subscribe(env)
    campaign = env.campaigns[0]
    env.allocate(campaign, 1 * TOKENS)  # room for one of the two rewards
    monkeypatch.setattr(env.ctx.settings, "batch_size", 1)
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, campaign, [(wallet(), TOKENS), (wallet(), TOKENS)])

    await push_once(env.ctx, options=FAST)
    await push_once(env.ctx, options=FAST)  # still exhausted: the open alert is reused

    events = [d.event_type for d in await _deliveries(env)]
    assert events.count("settlement.failed") == 1
    assert events.count("rewards.pushed") == 1
    failed = next(d for d in await _deliveries(env) if d.event_type == "settlement.failed")
    assert failed.payload["data"]["code"] == "budget_exhausted_onchain"
    assert failed.payload["data"]["campaign_id"] == str(campaign.id)
