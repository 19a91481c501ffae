"""Storing interactions with their signals, and reading what the evaluator made of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from backend.core.context import AppContext
from backend.fraud import signals
from tests.conftest import TEST_SECRET
from tests.evaluator.helpers import store


async def act(
    ctx: AppContext,
    client: httpx.AsyncClient,
    key: str,
    product_id: str,
    wallet: str,
    kind: str,
    *,
    device: str | None,
    **data: Any,
) -> int:
    """Store one interaction (not evaluated yet) as if sent from `device`."""
    interaction_id = await store(client, key, product_id, wallet, kind, **data)
    if device is not None:
        async with ctx.sessions() as session:
            await signals.record(
                session,
                TEST_SECRET,
                interaction_id=interaction_id,
                product_id=product_id,
                wallet=wallet,
                signals=signals.RequestSignals(device_id=device),
            )
            await session.commit()
    return interaction_id


@contextmanager
def statements(ctx: AppContext, needle: str) -> Iterator[list[str]]:
    """The statements sent through the context's engine that contain `needle` (what a
    set-wise step promises: one per batch, whatever the batch's size)."""
    seen: list[str] = []

    def spy(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if needle in sql:
            seen.append(sql)

    engine = ctx.engine.sync_engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", spy)
