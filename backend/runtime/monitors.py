"""The operations monitor: watches what no request would notice and raises or clears alerts.

Wiring only: each check lives with what it watches (signer balance in observability,
unconfirmed batches in settlement, indexer lag in the indexer, interactions no monthly
partition covers in interactions). The signer-not-distributor
alert is raised by settlement itself; reconcile mismatches by `cascade reconcile`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.core.db import job_session
from backend.core.scheduler import Scheduler
from backend.interactions.partitions import check_default_partition
from backend.observability import metrics
from backend.observability.monitors import check_signer_balance
from backend.settlement.health import check_unconfirmed_batches
from indexer.jobs import monitor_indexer_lag

log = logging.getLogger("backend.monitors")

JOB_NAME = "monitors"
INTERVAL_ENV = "MONITOR_INTERVAL_S"


async def run_monitors(ctx: AppContext, now: datetime | None = None) -> dict[str, Any]:
    """Every check in its own transaction: one failing (RPC down) does not skip the others."""
    at = now or datetime.now(UTC)
    checks: dict[str, Callable[[AsyncSession], Awaitable[dict[str, Any]]]] = {
        "signer": lambda s: check_signer_balance(ctx, s),
        "batches": lambda s: check_unconfirmed_batches(s, at),
        "indexer": lambda s: monitor_indexer_lag(ctx, s),
        "partitions": check_default_partition,
    }
    report: dict[str, Any] = {}
    for name, check in checks.items():
        try:
            async with job_session(ctx.sessions) as session:
                report.update(await check(session))
        except Exception as exc:  # logged and retried next run
            log.warning("monitor check failed", extra={"check": name, "error": repr(exc)[:300]})
            report[f"{name}_error"] = repr(exc)[:300]
    return report


async def run_monitors_job(ctx: AppContext) -> None:
    started = time.perf_counter()
    try:
        await run_monitors(ctx)
    finally:
        metrics.JOB_DURATION.labels(job=JOB_NAME).observe(time.perf_counter() - started)


def register_jobs(scheduler: Scheduler) -> None:
    """The monitor every MONITOR_INTERVAL_S (default 60), on the leader only."""
    interval = float(os.environ.get(INTERVAL_ENV) or 60)
    scheduler.add_job(JOB_NAME, interval, run_monitors_job, leader_only=True)
