"""The indexer inside `cascade serve`: a leader-only scheduler job, a readiness check and
the monitor's lag alert (`indexer_lag_high`)."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.observability import alerts, metrics
from indexer.apply import load_cursor
from indexer.errors import RetryableError
from indexer.runner import IndexStats, open_indexer
from indexer.settings import max_lag_blocks

log = logging.getLogger(__name__)
INDEX_INTERVAL_S = 2.0
JOB_NAME = "indexer"


class IndexJob:
    """Catch up once per run; keeps the adaptive range size between runs."""

    def __init__(self) -> None:
        self._range: tuple[int, int] | None = None

    async def __call__(self, ctx: AppContext) -> IndexStats | None:
        started = time.perf_counter()
        try:
            return await self._run(ctx)
        finally:
            metrics.JOB_DURATION.labels(job=JOB_NAME).observe(time.perf_counter() - started)

    async def _run(self, ctx: AppContext) -> IndexStats | None:
        async with open_indexer(ctx) as indexer:
            if self._range is not None:
                indexer.fetcher.range_size, indexer.fetcher.ceiling = self._range
            try:
                return await indexer.catch_up()
            except RetryableError as exc:  # the next run retries; fatal errors propagate
                log.warning("indexer run failed, retrying next run", extra={"reason": str(exc)})
                return None
            finally:
                self._range = (indexer.fetcher.range_size, indexer.fetcher.ceiling)


def register_jobs(scheduler: Any) -> None:
    """Add the indexer to `cascade serve`'s scheduler (leader only: one writer)."""
    settings = scheduler.ctx.settings
    if not (settings.push_pull_address and settings.bank_factory_address):
        log.warning("indexer disabled: PUSH_PULL_ADDRESS / BANK_FACTORY_ADDRESS unset")
        return
    scheduler.add_job(JOB_NAME, INDEX_INTERVAL_S, IndexJob(), leader_only=True)


async def check_indexer_lag(ctx: AppContext) -> dict[str, Any]:
    """Readiness: head minus checkpoint must stay within INDEXER_MAX_LAG_BLOCKS."""
    settings = ctx.settings
    if not (settings.push_pull_address and settings.bank_factory_address):
        return {"ok": True, "skipped": "PUSH_PULL_ADDRESS / BANK_FACTORY_ADDRESS unset"}
    chain_id = settings.chain_id or await ctx.w3.eth.chain_id
    head = await ctx.w3.eth.block_number
    async with ctx.sessions() as session:
        cursor = await load_cursor(session, chain_id)
    max_lag = max_lag_blocks()
    if cursor is None:
        return {"ok": False, "reason": "the indexer has not run yet", "head": head}
    lag = max(0, head - cursor.number)
    result: dict[str, Any] = {
        "ok": lag <= max_lag,
        "head": head,
        "checkpoint": cursor.number,
        "lag": lag,
        "max_lag": max_lag,
    }
    if not result["ok"]:
        result["reason"] = f"indexer is {lag} blocks behind the head (max {max_lag})"
    return result


async def record_indexer_lag(session: AsyncSession, lag: int, max_lag: int) -> dict[str, Any]:
    """Publish the lag and raise or clear `indexer_lag_high` against INDEXER_MAX_LAG_BLOCKS."""
    metrics.INDEXER_LAG.set(lag)
    if lag > max_lag:
        await alerts.raise_alert(
            session,
            alerts.INDEXER_LAG_HIGH,
            "error",
            f"indexer is {lag} blocks behind the chain head (max {max_lag})",
            subject="indexer",
            details={"lag": lag, "max_lag": max_lag},
        )
    else:
        await alerts.resolve_alert(session, alerts.INDEXER_LAG_HIGH, "indexer")
    return {"indexer_lag": lag}


async def monitor_indexer_lag(ctx: AppContext, session: AsyncSession) -> dict[str, Any]:
    """The monitor's view: the lag gauge and alert; nothing before the indexer's first run."""
    settings = ctx.settings
    if not (settings.push_pull_address and settings.bank_factory_address):
        return {"indexer_lag": None}
    chain_id = settings.chain_id or await ctx.w3.eth.chain_id
    head = int(await ctx.w3.eth.block_number)
    cursor = await load_cursor(session, chain_id)
    if cursor is None:  # not started yet: the readiness check above says so
        return {"indexer_lag": None}
    return await record_indexer_lag(session, max(0, head - cursor.number), max_lag_blocks())
