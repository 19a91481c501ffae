"""A real HTTP receiver on a loopback port, and a Standard Webhooks verifier written from the spec.

The verifier deliberately shares no code with backend.notifications.signing: it
is what a product owner would write from the spec (whsec_ = base64 key, HMAC-SHA256
over "id.timestamp.body", header "v1,<base64>" entries separated by spaces).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from backend.runtime.anvil import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Answers POSTs with scripted statuses (then `default`); can be taken down and up again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Received] = []
        self.script: deque[int] = deque()
        self.default = 200
        self.delay_s = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, *statuses: int) -> None:
        self.script.extend(statuses)

    def hooks(self) -> list[Received]:
        return [request for request in self.requests if request.path == "/hook"]

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.script.popleft() if receiver.script else receiver.default
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections to the port are refused, like a receiver that is down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: int | None = None) -> bool:
    """Standard Webhooks verification, from the spec, with a 5 minute tolerance."""
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if now is not None and abs(now - int(timestamp)) > 300:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())
    for entry in headers["webhook-signature"].split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False
