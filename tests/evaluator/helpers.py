"""Storing without waiting, and running the evaluator, for the evaluator's tests."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.evaluation.batch import Report, evaluate_once
from tests.conftest import TEST_SECRET
from tests.interactions.helpers import send


async def store(
    client: httpx.AsyncClient, key: str, product_id: str, wallet: str, kind: str, **data: Any
) -> int:
    """Store one interaction without waiting for its evaluation; its id."""
    response = await send(client, key, product_id, wallet, kind, data or None, wait=False)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["evaluated"] is False
    return int(body["interaction_id"])


async def drain(ctx: AppContext, **kwargs: Any) -> list[Report]:
    """Run batches until the queue is empty (what the background loop does)."""
    reports = []
    while (report := await evaluate_once(ctx.sessions, secret=TEST_SECRET, **kwargs)).evaluated:
        reports.append(report)
    return reports


def sample(name: str, **labels: str) -> float:
    """A sample of the default registry (the evaluator's series), 0 when absent."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def age_interactions(session: AsyncSession, seconds: int) -> None:
    """Pretend every stored interaction arrived `seconds` ago: the row and its queue entry
    move together (the queue keeps the row's received_at, the key of its partition)."""
    await session.execute(
        text(
            "WITH moved AS (UPDATE interactions SET received_at = now() - make_interval("
            "secs => :s) RETURNING id, received_at) UPDATE evaluation_queue AS q "
            "SET received_at = m.received_at FROM moved AS m WHERE q.interaction_id = m.id"
        ),
        {"s": seconds},
    )
    await session.commit()
