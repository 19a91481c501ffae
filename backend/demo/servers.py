"""The API and the demo shop page, each served from a thread on its own loopback port."""

from __future__ import annotations

import functools
import http.server
import threading
import time
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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class StaticSite:
    """A plain static file server: the demo shop lives on its own origin, like a real shop."""

    def __init__(self, root: Path, port: int):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="shop", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
