"""The operations monitor: watches what no request would notice and raises or clears alerts.

Signer balance (gauge + `signer_balance_low`), batches unconfirmed for too long
(`batch_unconfirmed`, one per batch) and indexer lag (gauge + `indexer_lag_high`).
Each check raises its alert while the condition holds and resolves it once it is
gone, so the dashboard and /health/ready show the present, not history. The
signer-not-distributor alert is raised by settlement itself; reconcile mismatches
by `cascade reconcile` (both through `raise_alert`).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.core.db import job_session
from backend.core.models import Alert
from backend.core.scheduler import Scheduler
from backend.observability import alerts, metrics

log = logging.getLogger("backend.monitors")

JOB_NAME = "monitors"
INTERVAL_ENV = "MONITOR_INTERVAL_S"
SIGNER_MIN_ENV = "SIGNER_BALANCE_MIN_WEI"
BATCH_AGE_ENV = "BATCH_UNCONFIRMED_S"


@dataclass(frozen=True)
class Thresholds:
    signer_min_wei: int = 10**16  # 0.01 of the native token: a few hundred pushes on an L2
    batch_unconfirmed: timedelta = timedelta(minutes=15)

    @classmethod
    def from_env(cls) -> Thresholds:
        """SIGNER_BALANCE_MIN_WEI and BATCH_UNCONFIRMED_S, defaults above when unset."""
        default = cls()
        signer_min = int(os.environ.get(SIGNER_MIN_ENV) or default.signer_min_wei)
        batch_s = float(os.environ.get(BATCH_AGE_ENV) or default.batch_unconfirmed.total_seconds())
        if signer_min < 0 or batch_s <= 0:
            raise ValueError(f"{SIGNER_MIN_ENV} must be >= 0 and {BATCH_AGE_ENV} > 0")
        return cls(signer_min, timedelta(seconds=batch_s))


async def check_signer_balance(
    ctx: AppContext, session: AsyncSession, thresholds: Thresholds
) -> dict[str, Any]:
    from eth_account import Account

    address = Account.from_key(ctx.settings.effective_signer_key()).address
    balance = int(await ctx.w3.eth.get_balance(address))
    metrics.SIGNER_BALANCE.set(balance)
    low = balance < thresholds.signer_min_wei
    if low:
        await alerts.raise_alert(
            session,
            alerts.SIGNER_BALANCE_LOW,
            "critical",
            f"signer {address} holds {balance} wei, below {thresholds.signer_min_wei}: "
            "fund it or settlement stops paying gas",
            subject=f"signer:{address}",
            details={"balance_wei": str(balance), "min_wei": str(thresholds.signer_min_wei)},
        )
    else:
        await alerts.resolve_alert(session, alerts.SIGNER_BALANCE_LOW, f"signer:{address}")
    return {"signer": address, "balance_wei": str(balance), "low": low}


async def check_unconfirmed_batches(
    session: AsyncSession, thresholds: Thresholds, now: datetime
) -> dict[str, Any]:
    from backend.settlement.models import SettlementBatch  # read-only view of settlement

    cutoff = now - thresholds.batch_unconfirmed
    stuck = list(
        await session.scalars(
            select(SettlementBatch).where(
                SettlementBatch.status.in_(("signed", "submitted")),
                SettlementBatch.created_at < cutoff,
            )
        )
    )
    subjects = {f"batch:{batch.id}" for batch in stuck}
    for batch in stuck:
        minutes = int((now - batch.created_at).total_seconds() // 60)
        await alerts.raise_alert(
            session,
            alerts.BATCH_UNCONFIRMED,
            "error",
            f"settlement batch {batch.id} is {batch.status} for {minutes} min without confirming",
            product_id=batch.product_id,
            subject=f"batch:{batch.id}",
            details={"status": batch.status, "error_code": batch.error_code},
        )
    open_subjects = await session.scalars(
        select(Alert.subject).where(
            Alert.code == alerts.BATCH_UNCONFIRMED, Alert.resolved_at.is_(None)
        )
    )
    for subject in set(open_subjects) - subjects:
        await alerts.resolve_alert(session, alerts.BATCH_UNCONFIRMED, subject, now=now)
    return {"unconfirmed_batches": len(stuck)}


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


async def check_indexer_lag(ctx: AppContext, session: AsyncSession) -> dict[str, Any]:
    settings = ctx.settings
    if not (settings.push_pull_address and settings.bank_factory_address):
        return {"indexer_lag": None}
    from indexer.apply import load_cursor
    from indexer.settings import max_lag_blocks

    chain_id = settings.chain_id or await ctx.w3.eth.chain_id
    head = int(await ctx.w3.eth.block_number)
    cursor = await load_cursor(session, chain_id)
    if cursor is None:  # not started yet: the indexer's own readiness check says so
        return {"indexer_lag": None}
    return await record_indexer_lag(session, max(0, head - cursor.number), max_lag_blocks())


async def run_monitors(ctx: AppContext, now: datetime | None = None) -> dict[str, Any]:
    """Every check in its own transaction: one failing (RPC down) does not skip the others."""
    now = now or datetime.now(UTC)
    thresholds = Thresholds.from_env()
    report: dict[str, Any] = {}
    checks = {
        "signer": lambda s: check_signer_balance(ctx, s, thresholds),
        "batches": lambda s: check_unconfirmed_batches(s, thresholds, now),
        "indexer": lambda s: check_indexer_lag(ctx, s),
    }
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
