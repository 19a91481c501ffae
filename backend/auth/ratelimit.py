"""In-process sliding-window rate limits for the auth endpoints.

Per client IP (every auth endpoint) and per credential id (verify attempts):
enough to slow down guessing and replay storms on one process. Several
processes each keep their own windows; that only makes the limit looser.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from backend.core.errors import RateLimited


@dataclass
class SlidingWindow:
    limit: int
    window_s: float
    clock: Callable[[], float] = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def hit(self, key: str, what: str) -> None:
        """Count one request for `key`, or raise RateLimited when the window is full."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                retry_after = max(1, math.ceil(hits[0] + self.window_s - now))
                raise RateLimited(f"too many {what}; retry later", retry_after=retry_after)
            hits.append(now)
            if len(self._hits) > 10_000:  # keep memory bounded: drop idle keys
                self._prune(now)

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s]:
            del self._hits[key]

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


@dataclass
class AuthLimits:
    """The limits one app enforces; tests build their own or reset them."""

    per_ip: SlidingWindow = field(default_factory=lambda: SlidingWindow(limit=60, window_s=60))
    per_credential: SlidingWindow = field(
        default_factory=lambda: SlidingWindow(limit=10, window_s=60)
    )

    def client(self, ip: str | None) -> None:
        self.per_ip.hit(ip or "unknown", "auth requests from this address")

    def credential(self, credential_id: bytes) -> None:
        self.per_credential.hit(credential_id.hex(), "attempts with this passkey")

    def reset(self) -> None:
        self.per_ip.reset()
        self.per_credential.reset()
