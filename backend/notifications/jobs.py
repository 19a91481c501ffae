"""The webhook delivery job for the scheduler in `cascade serve`.

It runs on every replica, not only the leader: claims use SKIP LOCKED, so
workers share the outbox instead of sending a row twice in one round.
"""

from __future__ import annotations

import logging
import os
import time

from backend.core.context import AppContext
from backend.core.scheduler import Scheduler
from backend.notifications.delivery import DEFAULT_LIMIT, deliver_due
from backend.observability import metrics

log = logging.getLogger("backend.notifications")

POLL_ENV = "WEBHOOK_POLL_S"
DEFAULT_POLL_S = 2.0
JOB_NAME = "webhook_delivery"


def poll_interval_s() -> float:
    """WEBHOOK_POLL_S: seconds between outbox rounds (the 5 s retry needs a short tick)."""
    value = float(os.environ.get(POLL_ENV) or DEFAULT_POLL_S)
    if value <= 0:
        raise ValueError(f"{POLL_ENV} must be positive, got {value}")
    return value


async def run_delivery_job(ctx: AppContext) -> None:
    """Deliver until nothing due is left (bounded rounds), so a backlog drains in one run."""
    started = time.perf_counter()
    try:
        for _ in range(20):
            stats = await deliver_due(ctx, limit=DEFAULT_LIMIT)
            if stats.claimed:
                log.info(
                    "webhook round",
                    extra={
                        "claimed": stats.claimed,
                        "delivered": stats.delivered,
                        "retried": stats.retried + stats.refused,
                        "dead": stats.dead + stats.gone,
                    },
                )
            if stats.claimed < DEFAULT_LIMIT:
                break
    finally:
        metrics.JOB_DURATION.labels(job=JOB_NAME).observe(time.perf_counter() - started)


def register_jobs(scheduler: Scheduler) -> None:
    """Webhook delivery every WEBHOOK_POLL_S on every replica."""
    scheduler.add_job(JOB_NAME, poll_interval_s(), run_delivery_job, leader_only=False)
