"""campaign.budget_low: once per crossing of the threshold, again after it is cleared."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.core.models import Alert
from backend.notifications.events import CAMPAIGN_BUDGET_LOW
from backend.notifications.models import WebhookDelivery
from backend.notifications.outbox import budget_low_bps, check_budget_low
from tests.factories import make_campaign, make_product
from tests.notifications.conftest import make_endpoint


async def _deliveries(session) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.event_type == CAMPAIGN_BUDGET_LOW)
        )
        or 0
    )


async def test_budget_low__fires_once_per_crossing(db_session):
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, "https://hooks.example/x")
    campaign = await make_campaign(db_session, product, budget_cap=1_000, used_budget=799)

    assert await check_budget_low(db_session, campaign, 8_000) is False
    campaign.used_budget = 800
    assert await check_budget_low(db_session, campaign, 8_000) is True
    campaign.used_budget = 950
    assert await check_budget_low(db_session, campaign, 8_000) is False  # already told
    await db_session.commit()
    assert await _deliveries(db_session) == 1
    [delivery] = await db_session.scalars(select(WebhookDelivery))
    assert delivery.payload["data"]["remaining"] == "200"
    assert delivery.payload["data"]["campaign_id"] == str(campaign.id)

    campaign.budget_cap = 10_000  # topped up: back under the threshold, the alert clears
    assert await check_budget_low(db_session, campaign, 8_000) is False
    alert = await db_session.scalar(select(Alert).where(Alert.code == "campaign_budget_low"))
    assert alert is not None and alert.resolved_at is not None
    campaign.used_budget = 9_000
    assert await check_budget_low(db_session, campaign, 8_000) is True
    await db_session.commit()
    assert await _deliveries(db_session) == 2


async def test_budget_low__unlimited_campaign_never_fires(db_session):
    product, _ = await make_product(db_session)
    campaign = await make_campaign(db_session, product, budget_cap=0, used_budget=10**30)
    assert await check_budget_low(db_session, campaign) is False


def test_budget_low_threshold__env_or_80_percent(monkeypatch):
    monkeypatch.delenv("CAMPAIGN_BUDGET_LOW_BPS", raising=False)
    assert budget_low_bps() == 8_000
    monkeypatch.setenv("CAMPAIGN_BUDGET_LOW_BPS", "9500")
    assert budget_low_bps() == 9_500
