"""Settlement's health: readiness (halted banks, batches stuck on unknown errors) and the
monitor's check for batches that stay unconfirmed too long (`batch_unconfirmed`)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.core.models import Alert
from backend.observability import alerts
from backend.settlement.models import BatchStatus, SettlementBatch

# A batch with one of these codes waits for someone, not for the next run.
BLOCKING_CODES = ("unknown", "not_distributor", "bad_signature", "paused")
BATCH_AGE_ENV = "BATCH_UNCONFIRMED_S"
DEFAULT_BATCH_AGE = timedelta(minutes=15)


async def check_settlement(ctx: AppContext) -> dict[str, Any]:
    async with ctx.sessions() as session:
        halted = (
            await session.scalars(
                select(Alert.subject).where(
                    Alert.code == alerts.SIGNER_NOT_DISTRIBUTOR, Alert.resolved_at.is_(None)
                )
            )
        ).all()
        failing = int(
            await session.scalar(
                select(func.count())
                .select_from(SettlementBatch)
                .where(
                    SettlementBatch.status.in_(
                        [BatchStatus.SIGNED, BatchStatus.SUBMITTED, BatchStatus.CANCELLING]
                    ),
                    SettlementBatch.error_code.in_(BLOCKING_CODES),
                )
            )
            or 0
        )
    result: dict[str, Any] = {"ok": not halted and not failing}
    if halted:
        result["halted_banks"] = list(halted)
    if failing:
        result["failing_batches"] = failing
    if not result["ok"]:
        parts = [f"signer not distributor of {len(halted)} bank(s)"] if halted else []
        parts += [f"{failing} batch(es) retrying after errors"] if failing else []
        result["reason"] = "; ".join(parts)
    return result


def unconfirmed_after() -> timedelta:
    """BATCH_UNCONFIRMED_S (default 15 min): how long a batch may wait for its confirmation."""
    seconds = float(os.environ.get(BATCH_AGE_ENV) or DEFAULT_BATCH_AGE.total_seconds())
    if seconds <= 0:
        raise ValueError(f"{BATCH_AGE_ENV} must be > 0")
    return timedelta(seconds=seconds)


async def check_unconfirmed_batches(
    session: AsyncSession, now: datetime, max_age: timedelta | None = None
) -> dict[str, Any]:
    """One `batch_unconfirmed` alert per batch signed or submitted longer than `max_age`;
    resolved once the batch moves on."""
    cutoff = now - (max_age or unconfirmed_after())
    stuck = list(
        await session.scalars(
            select(SettlementBatch).where(
                SettlementBatch.status.in_((BatchStatus.SIGNED, BatchStatus.SUBMITTED)),
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
