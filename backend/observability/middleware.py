"""Request rate and latency per route template (not raw path: ids would explode the series)."""

from __future__ import annotations

import time

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.observability import metrics


def _status_class(status: int) -> str:
    return f"{status // 100}xx"


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
            metrics.HTTP_REQUESTS.labels(
                route=route, method=method, status=_status_class(status)
            ).inc()
            metrics.HTTP_REQUEST_DURATION.labels(route=route, method=method).observe(
                time.perf_counter() - started
            )

    return middleware
