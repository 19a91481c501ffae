"""The evaluator inside a serving process: a loop woken by new interactions, and the waits
of clients that asked for their rewards (`Prefer: wait=N`).

Every `cascade serve` process runs one (the app's lifespan starts it); they share the
work through the database (backend.evaluation.batch locks a product's queue for one
evaluator at a time). The loop runs batches while there is work, then sleeps until
woken: at once by an interaction this process stored, through LISTEN/NOTIFY by one
another process stored (each process forwards its own stores, at most every
FORWARD_S), and at the latest after POLL_S (a missed notification, a writer without
an evaluator).

The loop has a thread and an event loop of its own, with its own small connection
pool and the listening connection: on the request loop, each of a batch's round trips
would wait behind every request being served (measured: a batch cycle of ~250 ms at
1,000 requests/s instead of tens of milliseconds). What a batch changes in this
process (caches, waiting requests) is handed back to the request loop.

A waiting request in a process that runs the loop only waits: the loop is woken by
the very store it waits for. An app without the loop (tests, tools) evaluates the
waiting request's products itself, with the same batch function: one evaluation path.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Collection

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core import pg_events
from backend.core.context import AppContext
from backend.core.db import create_engine, session_factory
from backend.evaluation import metrics
from backend.evaluation.batch import BATCH_SIZE, Report, apply_locally, evaluate_once

log = logging.getLogger(__name__)

POLL_S = 1.0  # the loop looks for work at least this often
# After a small batch the loop waits this long before the next: a batch has a fixed cost
# (a transaction, six statements) that a steady trickle would otherwise pay per
# interaction. A backlog (a batch of at least SMALL_BATCH) is worked off without pause.
LINGER_S = 0.025
SMALL_BATCH = 100
FORWARD_S = 0.05  # at most one "interactions queued" notification per process this often
HELP_POLL_S = 0.02  # a waiter without a local loop re-checks this often
ERROR_BACKOFF_S = 1.0
POOL_SIZE = 2  # the loop's own connections: a batch, and the queue gauge

QUEUED_SQL = text(
    "SELECT interaction_id FROM evaluation_queue WHERE interaction_id = ANY(CAST(:ids AS bigint[]))"
)
OLDEST_SQL = text(
    "SELECT count(*) AS depth, EXTRACT(EPOCH FROM now() - min(received_at)) AS oldest_s "
    "FROM evaluation_queue"
)


def _post(loop: asyncio.AbstractEventLoop | None, callback: Callable[[], None]) -> None:
    """Run `callback` on `loop`: now when already there, else handed over thread-safely."""
    if loop is None or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback()
        return
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:  # the loop is shutting down
        pass


class Evaluator:
    """`start()` / `stop()` with the app; `wait(...)` for a request that asked to wait."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        batch_size: int = BATCH_SIZE,
        poll_s: float = POLL_S,
        linger_s: float = LINGER_S,
    ):
        self.ctx = ctx
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.linger_s = linger_s
        self.listener: pg_events.Listener | None = None
        self._thread: threading.Thread | None = None
        self._app_loop: asyncio.AbstractEventLoop | None = None  # requests, caches, waiters
        self._loop: asyncio.AbstractEventLoop | None = None  # the evaluation loop's own
        self._wake: asyncio.Event | None = None  # on the evaluation loop
        self._progress: asyncio.Event | None = None  # on the app loop
        self._ready = threading.Event()
        self._forward_due = False
        self._stopping = False

    @property
    def running(self) -> bool:
        """Whether this process's evaluation loop is alive (then waiters only wait)."""
        return self._thread is not None and self._thread.is_alive()

    # --- lifecycle (on the app loop) ----------------------------------------------------

    async def start(self, *_: object) -> None:
        """Start the loop's thread, its pool and its listening connection (lifespan)."""
        if self._thread is not None:
            return
        self._app_loop = asyncio.get_running_loop()
        self._progress = asyncio.Event()
        self._stopping = False
        self._ready.clear()
        pg_events.on(pg_events.QUEUED_HERE, self._queued_here)
        pg_events.on(pg_events.INTERACTIONS, self._queued_elsewhere)
        pg_events.on(pg_events.EVALUATED, self._evaluated)
        pg_events.on_gap(self._gap)
        self._thread = threading.Thread(
            target=self._thread_main, name="cascade-evaluator", daemon=True
        )
        self._thread.start()
        await asyncio.to_thread(self._ready.wait, 30)

    async def stop(self, *_: object) -> None:
        """Finish the batch in progress, then stop (lifespan)."""
        self._stopping = True
        for channel, handler in (
            (pg_events.QUEUED_HERE, self._queued_here),
            (pg_events.INTERACTIONS, self._queued_elsewhere),
            (pg_events.EVALUATED, self._evaluated),
        ):
            pg_events.off(channel, handler)
        pg_events.off_gap(self._gap)
        _post(self._loop, self._set_wake)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 15)
            self._thread = None

    # --- wake-ups (called from any thread) ----------------------------------------------

    def _queued_here(self, _payload: str) -> None:
        _post(self._loop, self._wake_and_forward)

    def _queued_elsewhere(self, _payload: str) -> None:
        _post(self._loop, self._set_wake)

    def _evaluated(self, _payload: str) -> None:
        _post(self._app_loop, self._set_progress)

    def _gap(self) -> None:
        _post(self._loop, self._set_wake)

    def _set_wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _wake_and_forward(self) -> None:
        self._set_wake()
        if not self._forward_due:
            self._forward_due = True
            asyncio.get_running_loop().call_later(FORWARD_S, self._forward)

    def _forward(self) -> None:
        self._forward_due = False
        if self.listener is not None:
            asyncio.ensure_future(self.listener.notify(pg_events.INTERACTIONS, ""))

    def _set_progress(self) -> None:
        progress, self._progress = self._progress, asyncio.Event()
        if progress is not None:
            progress.set()

    def _hand_over(self, report: Report) -> None:
        """A durable batch's local effects, applied on the app loop (the caches' owner)."""
        _post(self._app_loop, lambda: apply_locally(report))

    # --- the loop (on its own thread) ---------------------------------------------------

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:  # never silently: the process keeps serving, waiters fall back
            log.exception("the evaluation loop stopped")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        engine = create_engine(self.ctx.database_url, pool_size=POOL_SIZE)
        sessions = session_factory(engine)
        self.listener = pg_events.Listener(
            self.ctx.database_url, name="cascade-evaluator", deliver_on=self._app_loop
        )
        self.listener.start()
        self._ready.set()
        try:
            await self._run(sessions)
        finally:
            await self.listener.stop()
            self.listener = None
            await engine.dispose()

    async def _run(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        assert self._wake is not None
        secret = self.ctx.settings.effective_secret_key
        while not self._stopping:
            self._wake.clear()  # before looking: a store during the batch wakes the next turn
            try:
                report = await evaluate_once(
                    sessions, secret=secret, limit=self.batch_size, local=self._hand_over
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("evaluation batch failed")
                await asyncio.sleep(ERROR_BACKOFF_S)
                continue
            if report.evaluated >= SMALL_BATCH:
                continue  # a backlog: no pause while there is work
            if report.evaluated:
                await asyncio.sleep(self.linger_s)  # let a trickle gather into a batch
                continue
            await self._observe_queue(sessions)
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            except TimeoutError:
                pass

    async def _observe_queue(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Idle: record the age of what is still queued (claimed by another evaluator)."""
        try:
            depth, oldest = await queue_state(sessions)
        except Exception:  # a gauge is not worth a failing loop
            return
        metrics.QUEUE_OLDEST.set(oldest if depth else 0.0)

    # --- waiting (on the app loop) ------------------------------------------------------

    async def wait(
        self, product_ids: Collection[str], interaction_ids: Collection[int], timeout_s: float
    ) -> bool:
        """True once none of `interaction_ids` is queued any more; False after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        ids = sorted(set(interaction_ids))
        secret = self.ctx.settings.effective_secret_key
        while True:
            async with self.ctx.sessions() as session:
                pending = list(await session.scalars(QUEUED_SQL, {"ids": ids}))
            if not pending:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if not self.running:  # nobody evaluates here: do it, the same way
                report = await evaluate_once(
                    self.ctx.sessions, secret=secret, products=product_ids, limit=self.batch_size
                )
                if report.evaluated:
                    continue
                await asyncio.sleep(min(HELP_POLL_S, left))
                continue
            progress = self._progress
            assert progress is not None
            try:
                await asyncio.wait_for(progress.wait(), min(self.poll_s, left))
            except TimeoutError:
                pass


async def queue_state(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, float]:
    """How many interactions wait for evaluation, and the age of the oldest (seconds)."""
    async with sessions() as session:
        row = (await session.execute(OLDEST_SQL)).one()
    return int(row.depth), float(row.oldest_s or 0.0)
