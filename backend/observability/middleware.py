"""Request rate and latency per route template (not raw path: ids would explode the series)."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.observability import metrics


@lru_cache(maxsize=4_096)
def _series(route: str, method: str, status_class: int) -> tuple[Any, Any]:
    """The request's counter and latency series (a labels() lookup costs microseconds a
    request; route templates, methods and status classes are few)."""
    counted = metrics.HTTP_REQUESTS.labels(route=route, method=method, status=f"{status_class}xx")
    return counted, metrics.HTTP_REQUEST_DURATION.labels(route=route, method=method)


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Counts every HTTP request and observes its duration until the response is sent."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes before a response starts is a server error

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, send_with_status)
        finally:
            # Litestar runs app middleware after routing, so the template is known here.
            route = scope.get("path_template") or "unmatched"
            method = scope.get("method", "GET")
            counted, timed = _series(route, method, status // 100)
            counted.inc()
            timed.observe(time.perf_counter() - started)

    return middleware
