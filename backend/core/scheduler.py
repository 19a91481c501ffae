"""Background jobs inside `cascade serve`: APScheduler, with one leader among replicas.

Leadership is a session-level Postgres advisory lock held on one dedicated
connection: whichever replica holds it runs the leader-only jobs; if that
process dies, Postgres drops the connection and the lock, and the next replica
to try becomes leader. Jobs are plain `async def job(ctx)` functions, the same
ones the CLI and tests call directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.core.context import AppContext

log = logging.getLogger(__name__)

Job = Callable[[AppContext], Awaitable[Any]]


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Scheduler:
    """`Scheduler(ctx).add_job(name, interval_s, fn, leader_only=True)`, then start()/shutdown()."""

    def __init__(self, ctx: AppContext, *, leader_lock: str = "cascade:scheduler-leader"):
        self.ctx = ctx
        self.leader_key = lock_key(leader_lock)
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._leader: AsyncConnection | None = None
        # Leader-only jobs start together; without this each would open its own
        # connection, only one would win the lock, and the others would skip a run.
        self._leadership = asyncio.Lock()
        self.runs: dict[str, int] = {}

    @property
    def is_leader(self) -> bool:
        return self._leader is not None

    def add_job(
        self,
        name: str,
        interval_s: float,
        fn: Job,
        *,
        leader_only: bool = True,
        run_at_start: bool = True,
    ) -> None:
        """Run `fn(ctx)` every `interval_s`; never two runs of one job at once."""

        async def run() -> None:
            if leader_only and not await self.ensure_leadership():
                return
            try:
                await fn(self.ctx)
            except Exception:  # one failed run must not stop the schedule
                log.exception("job failed", extra={"job": name})
            finally:
                self.runs[name] = self.runs.get(name, 0) + 1

        self._scheduler.add_job(
            run,
            "interval",
            seconds=interval_s,
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) if run_at_start else None,
        )

    async def ensure_leadership(self) -> bool:
        """Keep (or try to take) the advisory lock; False when another replica leads."""
        async with self._leadership:
            return await self._ensure_leadership()

    async def _ensure_leadership(self) -> bool:
        if self._leader is not None:
            try:
                await self._leader.execute(text("SELECT 1"))
                return True
            except Exception:  # connection lost: so is the lock
                log.warning("lost the scheduler leader connection")
                await self._drop_leader_connection()
        conn = await self.ctx.engine.connect()
        try:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.leader_key})
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._leader = conn
        log.info("this process is the scheduler leader")
        return True

    async def _drop_leader_connection(self) -> None:
        conn, self._leader = self._leader, None
        if conn is None:
            return
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.leader_key})
            await conn.commit()
        except Exception:  # the lock dies with the connection anyway
            pass
        finally:
            await conn.invalidate()  # never hand a lock-holding connection back to the pool

    def start(self) -> None:
        """Start on the running event loop (call from async code: app startup, tests)."""
        self._scheduler.start()

    async def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await self._drop_leader_connection()
