"""Readiness of settlement: halted banks and batches stuck on unknown errors are not ready."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from backend.core.context import AppContext
from backend.core.models import Alert
from backend.settlement.alerts import SIGNER_NOT_DISTRIBUTOR
from backend.settlement.models import SettlementBatch

# A batch with one of these codes waits for someone, not for the next run.
BLOCKING_CODES = ("unknown", "not_distributor", "bad_signature", "paused")


async def check_settlement(ctx: AppContext) -> dict[str, Any]:
    async with ctx.sessions() as session:
        halted = (
            await session.scalars(
                select(Alert.subject).where(
                    Alert.code == SIGNER_NOT_DISTRIBUTOR, Alert.resolved_at.is_(None)
                )
            )
        ).all()
        failing = int(
            await session.scalar(
                select(func.count())
                .select_from(SettlementBatch)
                .where(
                    SettlementBatch.status.in_(["signed", "submitted", "cancelling"]),
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
