"""Liveness and readiness. Ready means the database and the chain both answer."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from sqlalchemy import text

from backend.core.context import AppContext
from backend.observability.alerts import check_alerts
from backend.settlement.health import check_settlement
from indexer.jobs import check_indexer_lag

READY_TIMEOUT_S = 3.0


@get("/health/live", tags=["health"], summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "live"}


async def _check_database(ctx: AppContext) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {"ok": True}


async def _check_chain(ctx: AppContext) -> dict[str, Any]:
    block = await ctx.w3.eth.block_number
    return {"ok": True, "block": block}


async def _check_evaluation(ctx: AppContext) -> dict[str, Any]:
    """The evaluator's lag: how many interactions wait and how old the oldest is."""
    from backend.evaluation.worker import queue_state

    depth, oldest = await queue_state(ctx.sessions)
    return {"ok": True, "queued": depth, "lag_s": round(oldest if depth else 0.0, 3)}


async def _run_check(name: str, check: Any, ctx: AppContext) -> tuple[str, dict[str, Any]]:
    try:
        return name, await asyncio.wait_for(check(ctx), READY_TIMEOUT_S)
    except TimeoutError:
        return name, {"ok": False, "reason": f"no answer within {READY_TIMEOUT_S}s"}
    except Exception as exc:  # any failure means not ready, with its reason
        return name, {"ok": False, "reason": f"{type(exc).__name__}: {exc}"[:300]}


# Readiness means "this replica can serve requests": its database, chain and indexer.
READINESS_CHECKS: list[tuple[str, Any]] = [
    ("database", _check_database),
    ("chain", _check_chain),
    ("indexer", check_indexer_lag),
]
# Reported alongside but never gating: a signer low on gas or a halted bank is an
# operator's problem, and taking every replica out of the load balancer for it would
# stop ingestion too.
READINESS_DETAILS: list[tuple[str, Any]] = [
    ("settlement", check_settlement),
    ("alerts", check_alerts),
    ("evaluation", _check_evaluation),
]


@get("/health/ready", tags=["health"], summary="Database, chain and indexer answer")
async def ready(app_context: AppContext) -> Response[dict[str, Any]]:
    gating = [name for name, _ in READINESS_CHECKS]
    results = await asyncio.gather(
        *(
            _run_check(name, check, app_context)
            for name, check in (*READINESS_CHECKS, *READINESS_DETAILS)
        )
    )
    checks = dict(results)
    for name, result in checks.items():
        result["gating"] = name in gating
    ok = all(checks[name]["ok"] for name in gating)
    body: dict[str, Any] = {"status": "ready" if ok else "not_ready", "checks": checks}
    if not ok:
        reasons = {name: checks[name]["reason"] for name in gating if not checks[name]["ok"]}
        body["error"] = {"code": "not_ready", "message": "not ready", "details": reasons}
    return Response(body, status_code=200 if ok else 503)
