"""The Chrome DevTools Protocol over one websocket, with flattened target sessions."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

EventHandler = Callable[[dict[str, Any]], None]


class CdpError(Exception):
    """A command failed (the browser's error message), or the browser went away."""


class CdpConnection:
    def __init__(self, websocket: ClientConnection):
        self._ws = websocket
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._handlers: dict[tuple[str, str | None], list[EventHandler]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str) -> CdpConnection:
        return cls(await connect(url, max_size=None, ping_interval=None))

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout_s: float = 30,
    ) -> dict[str, Any]:
        """Run one command; its `result`, or CdpError with the browser's message."""
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            await self._ws.send(json.dumps(message))
            answer = await asyncio.wait_for(future, timeout_s)
        finally:
            self._pending.pop(message_id, None)
        if "error" in answer:
            raise CdpError(
                f"{method}: {answer['error'].get('message')} {answer['error'].get('data', '')}"
            )
        return dict(answer.get("result", {}))

    def on(
        self, event: str, handler: EventHandler, *, session_id: str | None = None
    ) -> Callable[[], None]:
        """Call `handler(params)` for each `event` (of one session); returns the unsubscribe."""
        handlers = self._handlers.setdefault((event, session_id), [])
        handlers.append(handler)
        return lambda: handlers.remove(handler) if handler in handlers else None

    async def wait_for_event(
        self,
        event: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        *,
        session_id: str | None = None,
        timeout_s: float = 15,
    ) -> dict[str, Any]:
        """The next `event` whose params satisfy `predicate` (subscribe before you trigger it)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def check(params: dict[str, Any]) -> None:
            if not future.done() and predicate(params):
                future.set_result(params)

        off = self.on(event, check, session_id=session_id)
        try:
            return await asyncio.wait_for(future, timeout_s)
        finally:
            off()

    def expect_event(
        self,
        event: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        *,
        session_id: str | None = None,
        timeout_s: float = 15,
    ) -> asyncio.Task[dict[str, Any]]:
        """Start waiting now (a task), so an event fired by the next command is not missed."""
        task = asyncio.ensure_future(
            self.wait_for_event(event, predicate, session_id=session_id, timeout_s=timeout_s)
        )
        return task

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                if "id" in message:
                    future = self._pending.get(message["id"])
                    if future is not None and not future.done():
                        future.set_result(message)
                    continue
                key = (message.get("method", ""), message.get("sessionId"))
                for handler in list(self._handlers.get(key, ())):
                    handler(message.get("params", {}))
        except Exception as exc:  # the browser closed: fail whoever still waits
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CdpError(f"browser connection lost: {exc}"))
            return
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CdpError("browser connection closed"))

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
