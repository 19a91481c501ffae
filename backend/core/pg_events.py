"""PostgreSQL LISTEN/NOTIFY for one process: wake-ups and cache invalidations.

Writers announce changes with `pg_notify(channel, payload)` inside their transaction
(delivered at commit, never for a rollback). Each serving process keeps one listening
connection (`Listener`) and hands every notification to the handlers registered here.

Handlers are registered per channel at import time by the modules that own a cache
(`on(...)`), or per listener by a running component (`Listener.subscribe`). A dropped
listening connection may have missed notifications: on reconnect every `on_gap`
handler runs (caches drop everything), and the listener counts as disconnected until
then, so a caller can fall back to polling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

# Channels (and their payloads): one name per kind of change.
INTERACTIONS = "cascade_interactions"  # interactions were queued (payload: product id or "")
EVALUATED = "cascade_evaluated"  # a batch committed (payload: product ids, comma separated)
CACHE = "cascade_cache"  # "<kind>:<key>", see the caches that register for it
QUEUED_HERE = "local:interactions_queued"  # never sent to PostgreSQL: this process stored

Handler = Callable[[str], None]

_handlers: dict[str, list[Handler]] = {}
_gap_handlers: list[Callable[[], None]] = []
_live_listeners = 0  # listening connections up in this process


def live() -> bool:
    """Whether this process hears notifications now (caches may trust entries longer)."""
    return _live_listeners > 0


def _count_live(delta: int) -> None:
    global _live_listeners
    _live_listeners = max(0, _live_listeners + delta)


def on(channel: str, handler: Handler) -> None:
    """Call `handler(payload)` for every notification on `channel`, in every listener."""
    _handlers.setdefault(channel, []).append(handler)


def off(channel: str, handler: Handler) -> None:
    """Stop calling `handler` (a component that stopped)."""
    handlers = _handlers.get(channel, [])
    if handler in handlers:
        handlers.remove(handler)


def on_gap(handler: Callable[[], None]) -> None:
    """Call `handler()` whenever a listener (re)connects: notifications may have been missed."""
    _gap_handlers.append(handler)


def off_gap(handler: Callable[[], None]) -> None:
    if handler in _gap_handlers:
        _gap_handlers.remove(handler)


# PostgreSQL refuses a payload of 8000 bytes or more, and with it the whole transaction.
MAX_PAYLOAD = 7_999
EVERY = "*"  # the key of a payload that names too many to list: every key of its kind


def joined(keys: Iterable[str], kind: str | None = None) -> str:
    """`keys` as one payload ("a,b" or "kind:a,kind:b"); when they do not fit in a
    notification, the one key EVERY instead (a listener then drops every key of the kind)."""
    prefix = "" if kind is None else kind + ":"
    payload = ",".join(prefix + key for key in keys)
    return payload if len(payload.encode()) <= MAX_PAYLOAD else prefix + EVERY


def each(payload: str, kind: str) -> list[str]:
    """The keys of one kind in a cache payload ("kind:key[,kind:key...]"); [EVERY] means all."""
    prefix = kind + ":"
    return [part[len(prefix) :] for part in payload.split(",") if part.startswith(prefix)]


def dispatch(channel: str, payload: str) -> None:
    """Run the registered handlers of `channel` (also what a process does for its own writes)."""
    for handler in list(_handlers.get(channel, ())):
        try:
            handler(payload)
        except Exception:  # one broken handler must not starve the others
            log.exception("notification handler failed", extra={"channel": channel})


def asyncpg_dsn(database_url: str) -> str:
    """The asyncpg form of a SQLAlchemy URL (postgresql+asyncpg://... -> postgresql://...)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Listener:
    """One LISTEN connection, kept open and reconnected with a back-off until `stop()`."""

    def __init__(
        self,
        database_url: str,
        *,
        retry_s: float = 1.0,
        name: str = "cascade-listener",
        deliver_on: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """`deliver_on`: the loop that runs the module handlers (the caches' owner) when
        this listener runs on another thread; own handlers always run where it listens."""
        self.database_url = database_url
        self.retry_s = retry_s
        self.name = name
        self.deliver_on = deliver_on
        self._own: dict[str, list[Handler]] = {}
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None
        self._stopping = asyncio.Event()
        self._sending = asyncio.Lock()  # one statement at a time on the connection
        self.connected = asyncio.Event()

    def subscribe(self, channel: str, handler: Handler) -> None:
        """A handler for this listener only (a running component, not a module cache)."""
        self._own.setdefault(channel, []).append(handler)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        await self._close()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if self.connected.is_set():
            _count_live(-1)
        self.connected.clear()
        if connection is not None:
            try:
                await asyncio.wait_for(connection.close(), 2)
            except Exception:  # already gone
                connection.terminate()

    def _deliver(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        target = self.deliver_on
        if target is None:
            dispatch(channel, payload)
        elif not target.is_closed():
            try:
                target.call_soon_threadsafe(dispatch, channel, payload)
            except RuntimeError:  # that loop is shutting down
                pass
        for handler in list(self._own.get(channel, ())):
            try:
                handler(payload)
            except Exception:
                log.exception("notification handler failed", extra={"channel": channel})

    async def _run(self) -> None:
        import asyncpg

        channels = {c for c in _handlers if not c.startswith("local:")}
        channels |= {INTERACTIONS, EVALUATED, CACHE}
        while not self._stopping.is_set():
            try:
                self._connection = await asyncpg.connect(
                    asyncpg_dsn(self.database_url),
                    server_settings={"application_name": self.name},
                    timeout=10,
                )
                lost = asyncio.Event()
                self._connection.add_termination_listener(lambda _c, gone=lost: gone.set())
                for channel in sorted(channels | set(self._own)):
                    await self._connection.add_listener(channel, self._deliver)
                for gap in list(_gap_handlers):
                    if self.deliver_on is None:
                        gap()
                    elif not self.deliver_on.is_closed():
                        self.deliver_on.call_soon_threadsafe(gap)
                self.connected.set()
                _count_live(+1)
                await lost.wait()
                if self.connected.is_set():  # heard nothing since: caches stop trusting
                    _count_live(-1)
                    self.connected.clear()
                log.warning("listening connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot listen for notifications: %s", exc)
            await self._close()
            try:
                await asyncio.wait_for(self._stopping.wait(), self.retry_s)
            except TimeoutError:
                pass

    async def notify(self, channel: str, payload: str = "") -> bool:
        """Send a notification on the listening connection (no transaction); False if down."""
        connection = self._connection
        if connection is None or not self.connected.is_set():
            return False
        try:
            async with self._sending:
                await connection.execute("SELECT pg_notify($1, $2)", channel, payload)
        except Exception:  # the reconnect loop notices; a poll covers the gap
            return False
        return True
