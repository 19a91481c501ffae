"""Alerts and counters of the push job: log line, metric, Alert row, owner hook.

`notify` is the one place an owner-facing settlement event goes. Today it writes
an Alert (deduplicated while open); the webhooks work will extend it to enqueue
an outbox row in the same transaction, so a notification is never lost or sent
for a rolled-back decision.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.models import Alert

log = logging.getLogger("backend.settlement")

BATCHES = Counter("cascade_settlement_batches_total", "Settlement batches by outcome", ["outcome"])
REWARDS_PUSHED = Counter("cascade_settlement_rewards_pushed_total", "Reward rows confirmed")
TRANSACTIONS = Counter("cascade_settlement_transactions_total", "Broadcasts by kind", ["kind"])
ALERTS = Counter("cascade_settlement_alerts_total", "Settlement alerts raised", ["code"])

# Alert codes this domain raises.
SIGNER_NOT_DISTRIBUTOR = "signer_not_distributor"
BUDGET_EXHAUSTED = "budget_exhausted_onchain"
INSUFFICIENT_BALANCE = "insufficient_balance_onchain"
CAMPAIGN_DEACTIVATED = "campaign_deactivated_onchain"
CAMPAIGN_INACTIVE = "campaign_inactive_onchain"
PUSH_ERROR = "settlement_push_error"


async def notify(
    session: AsyncSession,
    product_id: str | None,
    event_type: str,
    payload: dict[str, Any],
    *,
    subject: str,
    message: str,
    severity: str = "error",
) -> Alert:
    """Record an owner/operator event; an identical open alert is reused, not duplicated."""
    existing = await session.scalar(
        select(Alert).where(
            Alert.code == event_type, Alert.subject == subject, Alert.resolved_at.is_(None)
        )
    )
    if existing is not None:
        existing.details = {**existing.details, **payload}
        return existing
    alert = Alert(
        code=event_type,
        severity=severity,
        product_id=product_id,
        subject=subject,
        message=message,
        details=payload,
    )
    session.add(alert)
    ALERTS.labels(code=event_type).inc()
    log.error(message, extra={"alert": event_type, "subject": subject, **payload})
    return alert


async def resolve(session: AsyncSession, event_type: str, subject: str) -> int:
    """Close the open alerts of (code, subject): the condition is gone."""
    result = await session.execute(
        update(Alert)
        .where(Alert.code == event_type, Alert.subject == subject, Alert.resolved_at.is_(None))
        .values(resolved_at=datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)
