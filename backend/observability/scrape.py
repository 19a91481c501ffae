"""Gauges that are cheap to count from the database, refreshed when Prometheus scrapes."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select

from backend.core.context import AppContext
from backend.observability import alerts, metrics

log = logging.getLogger("backend.metrics")

REFRESH_TIMEOUT_S = 2.0


async def _refresh(ctx: AppContext) -> None:
    from backend.rewards.models import Reward  # a reporting read; rewards does not import us

    async with ctx.sessions() as session:
        rows = await session.execute(select(Reward.status, func.count()).group_by(Reward.status))
        counts = dict.fromkeys(metrics.REWARD_STATUSES, 0)
        for status, count in rows.tuples():
            counts[status] = int(count)
        open_alerts = await alerts.open_counts(session)
    for status, count in counts.items():
        metrics.REWARDS.labels(status=status).set(count)
    for severity, count in open_alerts.items():
        metrics.OPEN_ALERTS.labels(severity=severity).set(count)


async def refresh_gauges(ctx: AppContext) -> bool:
    """Update the database-backed gauges; on failure keep the last values (a scrape never fails)."""
    try:
        await asyncio.wait_for(_refresh(ctx), REFRESH_TIMEOUT_S)
    except Exception as exc:  # a slow or down database must not break /metrics
        log.warning("metrics refresh failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        return False
    return True
