"""The outbox: events become delivery rows in the transaction of the change that caused them.

A rolled-back decision therefore never notifies anyone, and a committed one is
delivered even if the process dies before the worker runs.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.models import Campaign
from backend.notifications.events import CAMPAIGN_BUDGET_LOW, EVENT_TYPES, envelope
from backend.notifications.models import WebhookDelivery, WebhookEndpoint
from backend.observability import alerts

BUDGET_LOW_ENV = "CAMPAIGN_BUDGET_LOW_BPS"
DEFAULT_BUDGET_LOW_BPS = 8_000  # warn when 80% of the budget is used


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON so what is stored is exactly what will be sent.

    UUIDs and datetimes become strings; anything else unknown is a caller bug.
    """

    def default(value: Any) -> str:
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"webhook data cannot contain {type(value).__name__}")

    result: dict[str, Any] = json.loads(json.dumps(data, default=default))
    return result


async def enqueue_event(
    session: AsyncSession,
    product_id: str,
    event_type: str,
    payload: dict[str, Any],
    *,
    occurred_at: datetime | None = None,
) -> list[WebhookDelivery]:
    """Add one delivery per enabled endpoint of the product subscribed to `event_type`.

    Runs in the caller's transaction and does not commit. `payload` is the event's
    `data`; amounts in it must be decimal strings.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    body = envelope(event_type, _jsonable(payload), occurred_at or datetime.now(UTC))
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.product_id == product_id,
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.events.contains([event_type]),
        )
    )
    deliveries = [
        WebhookDelivery(
            id=uuid.uuid4(),
            endpoint_id=endpoint.id,
            product_id=product_id,
            event_type=event_type,
            payload=body,
            status="pending",
            attempts=0,
        )
        for endpoint in endpoints
    ]
    session.add_all(deliveries)
    return deliveries


def budget_low_bps() -> int:
    """CAMPAIGN_BUDGET_LOW_BPS: share of the budget used that counts as low (default 80%)."""
    raw = os.environ.get(BUDGET_LOW_ENV)
    if not raw:
        return DEFAULT_BUDGET_LOW_BPS
    value = int(raw)
    if not 1 <= value <= 10_000:
        raise ValueError(f"{BUDGET_LOW_ENV} must be between 1 and 10000, got {value}")
    return value


async def check_budget_low(
    session: AsyncSession, campaign: Campaign, threshold_bps: int | None = None
) -> bool:
    """Emit campaign.budget_low once per crossing of the threshold; True when it fired.

    Call after charging the campaign's budget, in the same transaction. The open
    `campaign_budget_low` alert is the "already told" state: it is resolved when
    usage falls back below the threshold (budget raised), so a later crossing
    fires again. Campaigns without a cap (0 = unlimited) never run low.
    """
    threshold = budget_low_bps() if threshold_bps is None else threshold_bps
    if campaign.budget_cap <= 0:
        return False
    subject = f"campaign:{campaign.id}"
    crossed = campaign.used_budget * 10_000 >= campaign.budget_cap * threshold
    if not crossed:
        await alerts.resolve_alert(session, alerts.CAMPAIGN_BUDGET_LOW, subject)
        return False
    data = {
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "token": campaign.token,
        "budget_cap": str(campaign.budget_cap),
        "used_budget": str(campaign.used_budget),
        "remaining": str(campaign.budget_cap - campaign.used_budget),
        "threshold_bps": threshold,
    }
    _, created = await alerts.ensure_alert(
        session,
        alerts.CAMPAIGN_BUDGET_LOW,
        "warning",
        f"campaign {campaign.name!r} has used {threshold / 100:g}% of its budget",
        product_id=campaign.product_id,
        subject=subject,
        details=data,
    )
    if created:
        await enqueue_event(session, campaign.product_id, CAMPAIGN_BUDGET_LOW, data)
    return created
