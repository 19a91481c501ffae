"""Per-source-IP request limit, in process: a sliding window of request times per address.

Applied to browser-facing calls (session interactions, public lookups). A
merchant's server sends every user's events from one address, so calls with an
API key are limited per wallet (in the database) instead. The client address
is the socket peer: X-Forwarded-For is not trusted here.
"""

from __future__ import annotations

import math
import time
from collections import deque

from backend.core.errors import RateLimited

DEFAULT_PER_MINUTE = 600


class IpRateLimiter:
    def __init__(
        self, limit: int = DEFAULT_PER_MINUTE, window_s: float = 60.0, max_addresses: int = 100_000
    ):
        self.limit = limit
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._hits: dict[str, deque[float]] = {}

    def check(self, address: str | None, *, now: float | None = None) -> None:
        """Count one request from `address`; past the limit raises RateLimited (Retry-After)."""
        if not address:
            return
        moment = time.monotonic() if now is None else now
        hits = self._hits.get(address)
        if hits is None:
            if len(self._hits) >= self.max_addresses:
                self._evict(moment)
            hits = self._hits.setdefault(address, deque())
        while hits and moment - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            retry = math.ceil(self.window_s - (moment - hits[0]))
            raise RateLimited(
                f"at most {self.limit} requests per {int(self.window_s)} s from one address",
                retry_after=max(1, retry),
            )
        hits.append(moment)

    def reset(self) -> None:
        self._hits.clear()

    def _evict(self, moment: float) -> None:
        idle = [a for a, h in self._hits.items() if not h or moment - h[-1] >= self.window_s]
        for address in idle:
            del self._hits[address]
        if len(self._hits) >= self.max_addresses:
            self._hits.clear()


ip_limiter = IpRateLimiter()
