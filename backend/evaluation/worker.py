"""The evaluation loop, and what a serving process does around it: wake-ups, cache
notices and the waits of clients that asked for their rewards (`Prefer: wait=N`).

The loop (`EvaluationLoop`) runs batches while there is work, then sleeps until woken:
at once by an interaction stored in its own process, through LISTEN/NOTIFY by one
stored in another (each serving process forwards its own stores, at most every
FORWARD_S), and at the latest after POLL_S (a missed notification, a writer without a
loop). Loops anywhere share the work through the database (backend.evaluation.batch
locks a product's queue for one evaluator at a time).

Where the loop runs is the serving process's choice (`Evaluator(mode=...)`):

- "process": `cascade serve` runs one loop in an evaluator process of its own
  (backend.runtime.evaluator), beside the API processes. Measured on 2 cores
  (bench/ingest.py): the same loop on a thread of the API process costs the request
  path a third of its rate and doubles its p99, the two sharing one interpreter lock.
  The API process then only listens (caches, finished batches) and forwards its stores.
- "thread": a thread of this process, with its own event loop and small pool (apps
  built by tests and the demo: one process to start and stop).
- "none": nothing evaluates here and nothing listens; a waiting request evaluates its
  own products with the same batch function (tests, tools): one evaluation path.

The listening connection lives on the app's event loop (what it delivers, cache drops
and finished batches, belongs there); a batch never does: each of its round trips
would wait behind every request being served.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core import pg_events
from backend.core.context import AppContext
from backend.core.db import create_engine, session_factory
from backend.evaluation import metrics
from backend.evaluation.batch import BATCH_SIZE, Report, apply_locally, evaluate_once
from backend.observability.metrics import counted_elsewhere, counted_here

log = logging.getLogger(__name__)

POLL_S = 1.0  # the loop looks for work at least this often
# After a batch that emptied its share of the queue (fewer than the batch size) the loop
# waits this long before the next: a batch has a fixed cost (a transaction, six
# statements, ~4 ms of CPU) that a steady trickle would otherwise pay every few
# interactions. A backlog (full batches) is worked off without pause. Measured with
# bench/ingest.py on 2 cores, single requests at 16 connections: 25 ms after batches under
# 100 gave batches of ~84 and 225 us of evaluator and PostgreSQL CPU per interaction;
# 50 ms after any partial batch gives ~210 and ~140 us, and the lag at 1,000/s stays
# p99 < 100 ms.
LINGER_S = 0.05
# At most one "interactions queued" notification per process this often: the first store
# after a quiet spell at once, the stores within FORWARD_S of it with one more at its end.
FORWARD_S = 0.05
HELP_POLL_S = 0.02  # a waiter without a loop anywhere re-checks this often
ERROR_BACKOFF_S = 1.0
POOL_SIZE = 2  # the loop's own connections: a batch, and the queue gauge

Mode = Literal["process", "thread", "none"]

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


class EvaluationLoop:
    """Batches while there is work, then a sleep until `wake()` or POLL_S (on one loop)."""

    def __init__(
        self,
        database_url: str,
        secret: str,
        *,
        batch_size: int = BATCH_SIZE,
        poll_s: float = POLL_S,
        linger_s: float = LINGER_S,
        local: Callable[[Report], None] | None = None,
    ):
        self.database_url = database_url
        self.secret = secret
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.linger_s = linger_s
        self.local = local  # a durable batch's effects in this process (default: here)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False

    def wake(self) -> None:
        """Look for work now (from any thread)."""
        _post(self._loop, self._set_wake)

    def stop(self) -> None:
        """Finish the batch in progress, then return from `run()` (from any thread)."""
        self._stopping = True
        self.wake()

    def _set_wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        """The loop, with its own pool, until `stop()`."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        engine = create_engine(self.database_url, pool_size=POOL_SIZE)
        sessions = session_factory(engine)
        if ready is not None:
            ready()
        try:
            await self._batches(sessions)
        finally:
            await engine.dispose()

    async def _batches(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        assert self._wake is not None
        while not self._stopping:
            self._wake.clear()  # before looking: a store during the batch wakes the next turn
            try:
                report = await evaluate_once(
                    sessions, secret=self.secret, limit=self.batch_size, local=self.local
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("evaluation batch failed")
                await asyncio.sleep(ERROR_BACKOFF_S)
                continue
            if report.evaluated >= self.batch_size:
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


class Evaluator:
    """The serving process's side: `start()` / `stop()` with the app, `wait(...)` for a
    request that asked to wait. See the module docstring for the modes."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        mode: Mode = "thread",
        metrics_dir: Path | None = None,
        batch_size: int = BATCH_SIZE,
        poll_s: float = POLL_S,
        linger_s: float = LINGER_S,
    ):
        self.ctx = ctx
        self.mode = mode
        self.metrics_dir = metrics_dir  # "process": where that process writes its series
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.listener: pg_events.Listener | None = None
        self.loop: EvaluationLoop | None = None
        if mode == "thread":
            self.loop = EvaluationLoop(
                ctx.database_url,
                ctx.settings.effective_secret_key,
                batch_size=batch_size,
                poll_s=poll_s,
                linger_s=linger_s,
                local=self._hand_over,
            )
        self._thread: threading.Thread | None = None
        self._app_loop: asyncio.AbstractEventLoop | None = None  # requests, caches, waiters
        self._progress: asyncio.Event | None = None  # on the app loop
        self._ready = threading.Event()
        self._forward_due = False
        self._forwarded_at = float("-inf")
        self._started = False

    @property
    def running(self) -> bool:
        """Whether a loop evaluates this process's stores (then waiters only wait)."""
        if self.mode == "process":
            return self._started
        return self._thread is not None and self._thread.is_alive()

    # --- lifecycle (on the app loop) ----------------------------------------------------

    async def start(self, *_: object) -> None:
        """Listen, and start the loop's thread in "thread" mode (lifespan)."""
        if self._started or self.mode == "none":
            return
        self._started = True
        self._app_loop = asyncio.get_running_loop()
        self._progress = asyncio.Event()
        pg_events.on(pg_events.QUEUED_HERE, self._queued_here)
        pg_events.on(pg_events.INTERACTIONS, self._queued_elsewhere)
        pg_events.on(pg_events.EVALUATED, self._evaluated)
        pg_events.on_gap(self._gap)
        if self.metrics_dir is not None:  # its series are counted there
            counted_elsewhere(self.metrics_dir, metrics.FAMILIES)
        self.listener = pg_events.Listener(self.ctx.database_url, name="cascade-api")
        self.listener.start()
        if self.loop is not None:
            self._ready.clear()
            self._thread = threading.Thread(
                target=self._thread_main, name="cascade-evaluator", daemon=True
            )
            self._thread.start()
            await asyncio.to_thread(self._ready.wait, 30)

    async def stop(self, *_: object) -> None:
        """Finish the batch in progress, then stop (lifespan)."""
        if not self._started:
            return
        for channel, handler in (
            (pg_events.QUEUED_HERE, self._queued_here),
            (pg_events.INTERACTIONS, self._queued_elsewhere),
            (pg_events.EVALUATED, self._evaluated),
        ):
            pg_events.off(channel, handler)
        pg_events.off_gap(self._gap)
        if self.loop is not None:
            self.loop.stop()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 15)
            self._thread = None
        if self.listener is not None:
            await self.listener.stop()
            self.listener = None
        if self.metrics_dir is not None:
            counted_here(metrics.FAMILIES)
        self._started = False

    # --- wake-ups (on the app loop: the listener and the request path run there) ---------

    def _queued_here(self, _payload: str) -> None:
        if self.loop is not None:
            self.loop.wake()
        if self._forward_due:
            return  # the notification already scheduled covers this store too
        loop = asyncio.get_running_loop()
        wait = self._forwarded_at + FORWARD_S - loop.time()
        if wait <= 0:  # the first store after a quiet spell is announced at once
            self._forward()
            return
        self._forward_due = True
        loop.call_later(wait, self._forward)

    def _queued_elsewhere(self, _payload: str) -> None:
        if self.loop is not None:
            self.loop.wake()

    def _gap(self) -> None:
        if self.loop is not None:
            self.loop.wake()

    def _forward(self) -> None:
        self._forward_due = False
        self._forwarded_at = asyncio.get_running_loop().time()
        if self.listener is not None:
            asyncio.ensure_future(self.listener.notify(pg_events.INTERACTIONS, ""))

    def _evaluated(self, _payload: str) -> None:
        progress, self._progress = self._progress, asyncio.Event()
        if progress is not None:
            progress.set()

    def _hand_over(self, report: Report) -> None:
        """A durable batch's local effects, applied on the app loop (the caches' owner)."""
        _post(self._app_loop, lambda: apply_locally(report))

    # --- the loop's thread ("thread" mode) ----------------------------------------------

    def _thread_main(self) -> None:
        assert self.loop is not None
        try:
            asyncio.run(self.loop.run(ready=self._ready.set))
        except Exception:  # never silently: the process keeps serving, waiters fall back
            log.exception("the evaluation loop stopped")
        finally:
            self._ready.set()

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
