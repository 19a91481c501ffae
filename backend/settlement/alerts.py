"""Alerts and counters of the push job: log line, metric, Alert row, owner webhook.

`notify` is the one place an owner-facing settlement event goes: it opens (or
refreshes) the alert and, the first time a condition opens, enqueues a
`settlement.failed` webhook in the same transaction, so a notification is never
lost or sent for a rolled-back decision.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.models import Alert
from backend.notifications import events
from backend.notifications.outbox import enqueue_event
from backend.observability import metrics
from backend.observability.alerts import SIGNER_NOT_DISTRIBUTOR, ensure_alert

log = logging.getLogger("backend.settlement")

BATCHES = metrics.SETTLEMENT_BATCHES
REWARDS_PUSHED = Counter(
    "cascade_settlement_rewards_pushed_total", "Reward rows confirmed", registry=metrics.REGISTRY
)
TRANSACTIONS = Counter(
    "cascade_settlement_transactions_total",
    "Broadcasts by kind",
    ["kind"],
    registry=metrics.REGISTRY,
)

# Alert codes this domain raises (and SIGNER_NOT_DISTRIBUTOR, declared with the others).
BUDGET_EXHAUSTED = "budget_exhausted_onchain"
INSUFFICIENT_BALANCE = "insufficient_balance_onchain"
CAMPAIGN_DEACTIVATED = "campaign_deactivated_onchain"
CAMPAIGN_INACTIVE = "campaign_inactive_onchain"
TOKEN_REFUSED = "token_transfer_refused_onchain"
GROUP_FAILED = "settlement_group_failed"


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
    alert, opened = await ensure_alert(
        session,
        event_type,
        severity,
        message,
        product_id=product_id,
        subject=subject,
        details=payload,
    )
    if opened and product_id is not None:
        await enqueue_event(
            session,
            product_id,
            events.SETTLEMENT_FAILED,
            {"code": event_type, "message": message, **payload},
        )
    return alert


async def signer_not_distributor(
    session: AsyncSession, product_id: str | None, bank: str, signer: str
) -> Alert:
    """The signer lost the distributor role on `bank`: pushes there halt until it is back.

    Raised by the cycle's role check and by a push the bank refused, worded once here.
    """
    return await notify(
        session,
        product_id,
        SIGNER_NOT_DISTRIBUTOR,
        {"bank": bank, "signer": signer},
        subject=bank,
        message=f"settlement signer {signer} is not a distributor "
        f"of bank {bank}: pushes to this bank are halted",
        severity="critical",
    )


async def resolve(session: AsyncSession, event_type: str, subject: str) -> int:
    """Close the open alerts of (code, subject): the condition is gone."""
    result = await session.execute(
        update(Alert)
        .where(Alert.code == event_type, Alert.subject == subject, Alert.resolved_at.is_(None))
        .values(resolved_at=datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)
