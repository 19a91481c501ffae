"""Database errors that mean "try again": a deadlock victim or a serialization failure.

PostgreSQL aborts one transaction of a deadlock (SQLSTATE 40P01) or a conflicting
serializable one (40001); the aborted statement wrote nothing, so running it
again is safe. Callers retry a few times; the API maps what is left to a 503
with Retry-After, never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

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


async def commit_retrying(session: AsyncSession, work: Callable[[], Awaitable[T]]) -> T:
    """`work()` then commit, as one transaction of `session`; run again from the start
    (at most RETRIES times) when PostgreSQL aborted it as transient. Anything else rolls
    back and propagates."""
    for attempt in range(RETRIES):
        try:
            result = await work()
            await session.commit()
            return result
        except DBAPIError as exc:
            await session.rollback()
            if not is_transient(exc) or attempt == RETRIES - 1:
                raise
        except BaseException:
            await session.rollback()
            raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
