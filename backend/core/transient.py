"""Database errors that mean "try again": a deadlock victim or a serialization failure.

PostgreSQL aborts one transaction of a deadlock (SQLSTATE 40P01) or a conflicting
serializable one (40001); the aborted statement wrote nothing, so running it
again is safe. Callers retry a few times; the API maps what is left to a 503
with Retry-After, never a 500.
"""

from __future__ import annotations

TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
RETRIES = 3


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) carries a retryable SQLSTATE."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):
            if getattr(candidate, "sqlstate", None) in TRANSIENT_SQLSTATES:
                return True
        current = current.__cause__ or current.__context__
    return False
