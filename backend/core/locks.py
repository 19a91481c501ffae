"""Postgres advisory locks that outlive a transaction: one holder across processes.

A session-level lock lives on its own pooled connection until the block ends;
if the process dies, the connection closes and Postgres releases the lock, so
a crash can never leave it held.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


@asynccontextmanager
async def advisory_lock(engine: AsyncEngine, name: str) -> AsyncIterator[None]:
    """Hold the cluster-wide lock `name` for the duration of the block (waits for it)."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(hashtextextended(:n, 0))"), {"n": name})
        await conn.commit()
        try:
            yield
        finally:
            await conn.execute(
                text("SELECT pg_advisory_unlock(hashtextextended(:n, 0))"), {"n": name}
            )
            await conn.commit()
