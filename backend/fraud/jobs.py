"""Scheduled fraud work (leader only): held rewards past their product's review limit take
the product's default decision; signals past their retention are deleted."""

from __future__ import annotations

import logging

from backend.core.context import AppContext
from backend.core.db import job_session
from backend.core.scheduler import Scheduler
from backend.fraud import service, signals

log = logging.getLogger("backend.fraud")

EXPIRY_INTERVAL_S = 300
PURGE_INTERVAL_S = 3600


async def expire_holds_job(ctx: AppContext) -> None:
    async with job_session(ctx.sessions) as session:
        decided = await service.expire_holds(session)
    if decided:
        log.info("held rewards decided by default", extra={"rewards": decided})


async def purge_signals_job(ctx: AppContext) -> None:
    async with job_session(ctx.sessions) as session:
        await signals.purge_expired(session)


def register_jobs(scheduler: Scheduler) -> None:
    scheduler.add_job("fraud.expire_holds", EXPIRY_INTERVAL_S, expire_holds_job)
    scheduler.add_job("fraud.purge_signals", PURGE_INTERVAL_S, purge_signals_job)
