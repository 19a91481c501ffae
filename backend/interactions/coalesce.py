"""Single requests that arrive together are stored together: one call, one transaction.

A stored interaction was one round trip, but PostgreSQL's share of it was ~3 times a
raw INSERT's: a transaction, a commit and an hourly count per interaction. Here single
requests wait in a queue while the previous group is being stored (at most IN_FLIGHT
groups at once); whatever queued meanwhile is stored next, as one group
(store.store_group: migration 0023 decides each item exactly as it would alone, in
arrival order). Nothing waits for a timer: a request that finds nothing in flight is
stored at once, so a quiet server answers as before and a busy one stores in groups of
about its concurrency (bench/ingest.py at 16 connections: groups of ~8).

A group mixes callers and products (each item carries its own rules and origin), so
traffic spread over many products groups as well as one product's. A group that fails
as a whole for a reason one of its items may carry (a constraint, a value PostgreSQL
refuses) is stored again item by item, so every request gets its own answer; a lost
connection fails the group's requests alike (503), as it would have failed each.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence

from asyncpg.exceptions import InterfaceError, PostgresConnectionError, PostgresError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.core.db import connection_gone
from backend.core.transient import RETRIES, is_transient
from backend.interactions import metrics as ingest_metrics
from backend.interactions import store

log = logging.getLogger(__name__)

IN_FLIGHT = 2  # groups being stored at once
MAX_GROUP = 200  # items per call at most (more concurrency makes more calls)

_Waiting = tuple[store.Entry, "asyncio.Future[store.Stored]"]


class Coalescer:
    """The groups of one engine on one event loop (`coalescer()` finds it)."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._waiting: list[_Waiting] = []
        self._storing = 0  # groups in flight
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, entry: store.Entry) -> store.Stored:
        """Store `entry`, in a group with the other requests waiting meanwhile."""
        future: asyncio.Future[store.Stored] = asyncio.get_running_loop().create_future()
        self._waiting.append((entry, future))
        if self._storing < IN_FLIGHT:
            self._storing += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # a request cancelled while it waits is dropped from its group, unless the group
        # already went out: then it is stored, like a statement that was already sent
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group = [(e, f) for e, f in self._waiting[:MAX_GROUP] if not f.done()]
                del self._waiting[:MAX_GROUP]
                if group:
                    await self._store(group)
        finally:
            self._storing -= 1

    async def _store(self, group: Sequence[_Waiting]) -> None:
        ingest_metrics.GROUP_SIZE.observe(len(group))
        entries = [entry for entry, _ in group]
        try:
            results = await self._call(entries)
        except asyncio.CancelledError:  # the drain was cancelled: its requests end too
            for _, future in group:
                future.cancel()
            raise
        except Exception as exc:
            if len(group) > 1 and _item_may_cause(exc):
                log.warning(
                    "a group failed; storing its items one by one",
                    extra={"items": len(group), "error": type(exc).__name__},
                )
                for one in group:
                    await self._store([one])
                return
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), stored in zip(group, results, strict=True):
            if not future.done():
                future.set_result(stored)

    async def _call(self, entries: Sequence[store.Entry]) -> list[store.Stored]:
        for attempt in range(RETRIES):
            try:
                results = await store.store_group(self.engine, entries)
            except Exception as exc:
                # a deadlock victim wrote nothing: the same call again is safe
                if not is_transient(exc) or attempt == RETRIES - 1:
                    raise
                continue
            for entry, stored in zip(entries, results, strict=True):
                if stored.id is not None:
                    ingest_metrics.interaction_stored(entry.item.type)  # already durable
            return results
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _item_may_cause(exc: Exception) -> bool:
    """Whether one item of a group may be why the call failed (then each goes alone):
    PostgreSQL refused the statement, for a reason that is neither a lost connection nor
    a transient conflict."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return False
    refused = isinstance(exc, (DBAPIError, PostgresError)) and not isinstance(
        exc, (PostgresConnectionError, InterfaceError)
    )
    return refused and not is_transient(exc) and not connection_gone(exc)


_coalescers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[object, Coalescer]
] = weakref.WeakKeyDictionary()


def coalescer(engine: AsyncEngine) -> Coalescer:
    """The coalescer of `engine` on the running event loop (futures belong to one loop)."""
    loop = asyncio.get_running_loop()
    per_loop = _coalescers.get(loop)
    if per_loop is None:
        per_loop = _coalescers[loop] = weakref.WeakKeyDictionary()
    found = per_loop.get(engine.sync_engine)
    if found is None:
        found = per_loop[engine.sync_engine] = Coalescer(engine)
    return found
