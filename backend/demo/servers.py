"""The API and the demo shop page, each served from a thread on its own loopback port."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


class ApiServer:
    """uvicorn running an app in a background thread (the story drives it over HTTP)."""

    def __init__(self, app: Any, host: str, port: int):
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self, timeout: float = 30.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"the API did not start on {self.url}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


Checkout = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class _ShopHandler(http.server.SimpleHTTPRequestHandler):
    """The shop's files, and POST /checkout: the shop's server taking payment."""

    def do_POST(self) -> None:
        checkout: Checkout | None = getattr(self.server, "checkout", None)
        if self.path != "/checkout" or checkout is None:
            self.send_error(404)
            return
        try:
            length = min(int(self.headers.get("Content-Length") or 0), 16_384)
            order = json.loads(self.rfile.read(length))
            if not isinstance(order, dict):
                raise ValueError("not an object")
            status, answer = checkout(order)
        except (ValueError, KeyError, TypeError):
            status, answer = 400, {"error": "malformed order"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


class StaticSite:
    """The demo shop on its own origin, like a real shop: static files, and a checkout.

    `checkout(order)` plays the shop's server and its platform (it has Cascade
    receive the signed orders/paid webhook); without it POST /checkout is 404.
    """

    def __init__(self, root: Path, port: int, checkout: Checkout | None = None):
        handler = functools.partial(_ShopHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.checkout = checkout  # type: ignore[attr-defined]
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="shop", daemon=True)

    def on_checkout(self, checkout: Checkout) -> None:
        self.httpd.checkout = checkout  # type: ignore[attr-defined]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
