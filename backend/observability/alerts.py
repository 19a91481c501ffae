"""Operator and owner alerts: one Alert row per open condition, an error log line, a count.

`raise_alert` is what every domain calls when something needs a human: it runs in
the caller's transaction (the alert commits with the decision that caused it),
keeps one open row per (code, subject) and logs at error level with the stable
code, so log search, metrics and the dashboard all use the same name.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.core.models import Alert
from backend.observability import metrics

log = logging.getLogger("backend.alerts")

SEVERITIES = ("warning", "error", "critical")

# Stable codes (log field `alert`, metric label `code`, Alert.code).
SIGNER_BALANCE_LOW = "signer_balance_low"
SIGNER_NOT_DISTRIBUTOR = "signer_not_distributor"
BATCH_UNCONFIRMED = "batch_unconfirmed"
INDEXER_LAG_HIGH = "indexer_lag_high"
RECONCILE_MISMATCH = "reconcile_mismatch"
CAMPAIGN_BUDGET_LOW = "campaign_budget_low"
WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled"
INTERACTIONS_UNPARTITIONED = "interactions_unpartitioned"


async def ensure_alert(
    session: AsyncSession,
    code: str,
    severity: str,
    message: str,
    *,
    product_id: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[Alert, bool]:
    """The open alert for (code, subject), created if there is none; True when created.

    A transaction-scoped advisory lock on (code, subject) makes "look, then insert"
    safe against a concurrent raiser: the second one waits and then sees the row.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"alert:{code}:{subject or ''}"},
    )
    existing = await session.scalar(
        select(Alert)
        .where(
            Alert.code == code,
            Alert.subject.is_(None) if subject is None else Alert.subject == subject,
            Alert.resolved_at.is_(None),
        )
        .order_by(Alert.id)
        .limit(1)
    )
    if existing is not None:
        if details:
            existing.details = {**existing.details, **details}
        return existing, False
    alert = Alert(
        code=code,
        severity=severity,
        product_id=product_id,
        subject=subject,
        message=message,
        details=details or {},
    )
    session.add(alert)
    await session.flush()
    metrics.ALERTS.labels(code=code).inc()
    log.error(
        message,
        extra={"alert": code, "severity": severity, "subject": subject, "product_id": product_id},
    )
    return alert, True


async def raise_alert(
    session: AsyncSession,
    code: str,
    severity: str,
    message: str,
    product_id: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> Alert:
    """Record (or refresh) the open alert for (code, subject) in the caller's transaction."""
    alert, _ = await ensure_alert(
        session,
        code,
        severity,
        message,
        product_id=product_id,
        subject=subject,
        details=details,
    )
    return alert


async def resolve_alert(
    session: AsyncSession, code: str, subject: str | None = None, *, now: datetime | None = None
) -> int:
    """Close the open alerts of (code, subject): the condition is gone. Returns how many."""
    condition = Alert.subject.is_(None) if subject is None else Alert.subject == subject
    result = await session.execute(
        update(Alert)
        .where(Alert.code == code, condition, Alert.resolved_at.is_(None))
        .values(resolved_at=now or datetime.now(UTC))
    )
    resolved = int(getattr(result, "rowcount", 0) or 0)
    if resolved:
        log.info("alert resolved", extra={"alert": code, "subject": subject})
    return resolved


async def list_alerts(
    session: AsyncSession, product_id: str, *, include_resolved: bool = False, limit: int = 100
) -> list[Alert]:
    """A product's alerts, newest first (the owner's view)."""
    query = select(Alert).where(Alert.product_id == product_id)
    if not include_resolved:
        query = query.where(Alert.resolved_at.is_(None))
    return list(await session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


async def open_counts(session: AsyncSession) -> dict[str, int]:
    """Open alerts per severity, every severity present (zero when none)."""
    rows = await session.execute(
        select(Alert.severity, func.count())
        .where(Alert.resolved_at.is_(None))
        .group_by(Alert.severity)
    )
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity, count in rows.tuples():
        counts[severity] = int(count)
    return counts


async def check_alerts(ctx: AppContext) -> dict[str, Any]:
    """Readiness: not ready while a critical alert is open.

    /health/ready is unauthenticated, so it lists operator-level alerts (no product)
    in full and only counts product alerts by code; owners read theirs in the API.
    """
    async with ctx.sessions() as session:
        rows = list(
            await session.scalars(
                select(Alert)
                .where(Alert.resolved_at.is_(None), Alert.severity.in_(("error", "critical")))
                .order_by(Alert.id.desc())
                .limit(200)
            )
        )
    operator = [alert for alert in rows if alert.product_id is None][:20]
    per_code: dict[str, int] = {}
    for alert in rows:
        if alert.product_id is not None:
            per_code[alert.code] = per_code.get(alert.code, 0) + 1
    critical = sorted({alert.code for alert in rows if alert.severity == "critical"})
    result: dict[str, Any] = {
        "ok": not critical,
        "open": [
            {"code": a.code, "severity": a.severity, "subject": a.subject, "message": a.message}
            for a in operator
        ],
        "product_alerts": per_code,
    }
    if critical:
        result["reason"] = "open critical alerts: " + ", ".join(critical)
    return result
