"""Request id on every log line and response: taken from X-Request-ID or generated."""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.logs import request_id_var

_VALID_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
# A generated id: this process's random prefix and a count, 16 hex digits like the
# random ones before (a request id names a request in the logs; it guards nothing),
# without reading the system's random source on every request.
_PREFIX = secrets.token_hex(4)
_COUNT = itertools.count(1)


def _new_id() -> str:
    return f"{_PREFIX}{next(_COUNT) & 0xFFFFFFFF:08x}"


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"")
        request_id = incoming.decode() if _VALID_ID.match(incoming) else _new_id()
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)

    return middleware
