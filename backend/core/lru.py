"""A bounded per-process cache: least recently used entries go first, never a wholesale clear.

Entries are dropped by their owner when PostgreSQL announces a change (see
backend.core.pg_events); how long an entry is trusted depends on whether this
process hears those announcements: `live_ttl_s` while a listening connection is
up, `dead_ttl_s` otherwise (a test app without a lifespan, a listener that is
reconnecting), so a missed invalidation is only ever that short.

A value read from the database while an invalidation arrived may already be stale:
read `generation` before the read and pass it to `put`, which then keeps nothing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from backend.core import pg_events

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    def __init__(self, max_entries: int, *, live_ttl_s: float, dead_ttl_s: float) -> None:
        self.max_entries = max_entries
        self.live_ttl_s = live_ttl_s
        self.dead_ttl_s = dead_ttl_s
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self.evicted = 0  # entries dropped for room (not for staleness)
        self.generation = 0  # moves on every invalidation

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, default: V | None = None) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return default
        ttl = self.live_ttl_s if pg_events.live() else self.dead_ttl_s
        if time.monotonic() - found[0] > ttl:
            self._entries.pop(key, None)
            return default
        self._entries.move_to_end(key)
        return found[1]

    def __contains__(self, key: K) -> bool:
        return self.get(key) is not None

    def put(self, key: K, value: V, *, since: int | None = None) -> None:
        """Keep `value`, unless an invalidation happened after `since` (a generation)."""
        if since is not None and since != self.generation:
            return
        self._entries[key] = (time.monotonic(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.evicted += 1

    def pop(self, key: K) -> None:
        self.generation += 1
        self._entries.pop(key, None)

    def pop_where(self, stale: Callable[[K], bool]) -> None:
        self.generation += 1
        for key in [k for k in self._entries if stale(k)]:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
