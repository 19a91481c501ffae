"""The evaluator inside a serving process: a loop woken by new interactions, and the waits
of clients that asked for their rewards (`Prefer: wait=N`).

Every `cascade serve` process runs one (the app's lifespan starts it); they share the
work through the database (backend.evaluation.batch locks a product's queue for one
evaluator at a time). The loop runs batches while there is work, then sleeps until
woken: at once by an interaction this process stored, through LISTEN/NOTIFY by one
another process stored (each process forwards its own stores, at most every
FORWARD_S), and at the latest after POLL_S (a missed notification, a writer without
an evaluator).

A waiting request in a process that runs the loop only waits: the loop is woken by
the very store it waits for. An app without the loop (tests, tools) evaluates the
waiting request's products itself, with the same batch function: one evaluation path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection

from sqlalchemy import text

from backend.core import pg_events
from backend.core.context import AppContext
from backend.evaluation import metrics
from backend.evaluation.batch import BATCH_SIZE, evaluate_once

log = logging.getLogger(__name__)

POLL_S = 1.0  # the loop looks for work at least this often
# After a small batch the loop waits this long before the next: a batch has a fixed cost
# (a transaction, eight statements) that a steady trickle would otherwise pay per
# interaction. A backlog (a batch of at least SMALL_BATCH) is worked off without pause.
LINGER_S = 0.025
SMALL_BATCH = 100
FORWARD_S = 0.05  # at most one "interactions queued" notification per process this often
HELP_POLL_S = 0.02  # a waiter without a local loop re-checks this often
ERROR_BACKOFF_S = 1.0

QUEUED_SQL = text(
    "SELECT interaction_id FROM evaluation_queue WHERE interaction_id = ANY(CAST(:ids AS bigint[]))"
)
OLDEST_SQL = text(
    "SELECT count(*) AS depth, EXTRACT(EPOCH FROM now() - min(i.received_at)) AS oldest_s "
    "FROM evaluation_queue AS q JOIN interactions AS i ON i.id = q.interaction_id"
)


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
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._progress: asyncio.Event | None = None
        self._forward_due = False
        self._stopping = False

    @property
    def running(self) -> bool:
        """Whether this process's evaluation loop is alive (then waiters only wait)."""
        return self._task is not None and not self._task.done()

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self, *_: object) -> None:
        """Start the loop and its listening connection (a lifespan hook)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._stopping = False
        self.listener = pg_events.Listener(self.ctx.database_url, name="cascade-evaluator")
        pg_events.on(pg_events.QUEUED_HERE, self._queued_here)
        pg_events.on(pg_events.INTERACTIONS, self._queued_elsewhere)
        pg_events.on(pg_events.EVALUATED, self._evaluated)
        pg_events.on_gap(self._gap)
        self.listener.start()
        self._task = asyncio.create_task(self._run(), name="cascade-evaluator")

    async def stop(self, *_: object) -> None:
        """Finish the batch in progress, then stop (a lifespan hook)."""
        self._stopping = True
        for channel, handler in (
            (pg_events.QUEUED_HERE, self._queued_here),
            (pg_events.INTERACTIONS, self._queued_elsewhere),
            (pg_events.EVALUATED, self._evaluated),
        ):
            pg_events.off(channel, handler)
        pg_events.off_gap(self._gap)
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        if self.listener is not None:
            await self.listener.stop()
            self.listener = None

    # --- wake-ups (may be called from any thread) --------------------------------------

    def _call(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # a request of this very process: no thread hop
            callback()
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop is shutting down
            pass

    def _queued_here(self, _payload: str) -> None:
        self._call(self._wake_and_forward)

    def _queued_elsewhere(self, _payload: str) -> None:
        self._call(self._set_wake)

    def _evaluated(self, _payload: str) -> None:
        self._call(self._set_progress)

    def _gap(self) -> None:
        self._call(self._set_wake)

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

    # --- the loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        secret = self.ctx.settings.effective_secret_key
        while not self._stopping:
            self._wake.clear()  # before looking: a store during the batch wakes the next turn
            try:
                report = await evaluate_once(
                    self.ctx.sessions, secret=secret, limit=self.batch_size
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
            await self._observe_queue()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            except TimeoutError:
                pass

    async def _observe_queue(self) -> None:
        """Idle: record the age of what is still queued (claimed by another evaluator)."""
        try:
            depth, oldest = await queue_state(self.ctx)
        except Exception:  # a gauge is not worth a failing loop
            return
        metrics.QUEUE_OLDEST.set(oldest if depth else 0.0)

    # --- waiting ------------------------------------------------------------------------

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


async def queue_state(ctx: AppContext) -> tuple[int, float]:
    """How many interactions wait for evaluation, and the age of the oldest (seconds)."""
    async with ctx.sessions() as session:
        row = (await session.execute(OLDEST_SQL)).one()
    return int(row.depth), float(row.oldest_s or 0.0)
