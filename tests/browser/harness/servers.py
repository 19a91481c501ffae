"""Real HTTP servers on free loopback ports: the app under uvicorn, and static pages.

Both run in background threads; the browser reaches them as http://localhost:<port>
(WebAuthn refuses IP addresses as relying party ids, so never 127.0.0.1 in URLs).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer:
    """An ASGI app served by uvicorn in a thread with its own event loop.

    `app_factory(port)` builds the app once the port is known (settings such as
    PUBLIC_URL depend on it). The app owns its AppContext (own pool, same database).
    """

    def __init__(self, app_factory: Callable[[int], Any]):
        self._socket = _loopback_socket()
        self.port = self._socket.getsockname()[1]
        self.url = f"http://localhost:{self.port}"
        self.app = app_factory(self.port)
        config = uvicorn.Config(self.app, lifespan="on", log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self, timeout: float = 30) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()


class StaticSite:
    """Serves `pages[path]` (HTML strings) on another origin: a shop, an attacker's page."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?", 1)[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://localhost:{self.port}"
        self.origin = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> StaticSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
