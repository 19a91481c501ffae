"""Database plumbing: declarative base, column types, engine and sessions.

Money is `NUMERIC(78,0)` (fits uint256) and always a Python `int` in code;
`bigint` would overflow at 9.2 tokens of an 18-decimal token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, MetaData, Numeric, String, TypeDecorator, event, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

UINT256_MAX = 2**256 - 1

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
        datetime: DateTime(timezone=True),  # timestamptz: no local-time surprises
    }


class Amount(TypeDecorator[int]):
    """Token amount in base units: NUMERIC(78,0) in Postgres, int in Python."""

    impl = Numeric(78, 0)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"amounts must be int, got {type(value).__name__}")
        if not 0 <= value <= UINT256_MAX:
            raise ValueError("amount outside uint256")
        return Decimal(value)

    def process_result_value(self, value: Decimal | None, dialect: Any) -> int | None:
        return None if value is None else int(value)


def Address(*args: Any, **kwargs: Any) -> Any:
    """A checksummed 20-byte address, stored as text."""
    return mapped_column(String(42), *args, **kwargs)


def Bytes32(*args: Any, **kwargs: Any) -> Any:
    """A 0x-prefixed lowercase 32-byte hex value (product ids, nonces, hashes)."""
    return mapped_column(String(66), *args, **kwargs)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


POOL_RECYCLE_S = 1800
# The app's pool: at most 20 connections, as before (10 + 10 overflow), but all of them
# kept. An overflow connection is closed when it comes back, so a sustained load above
# 10 concurrent requests reconnected (and re-prepared its statements) on most requests.
POOL_SIZE = 20


def create_engine(url: str, *, pool_size: int | None = None, **kwargs: Any) -> AsyncEngine:
    """An engine whose pool trusts its connections and recovers when one turns out dead.

    No pre-ping: on asyncpg it costs three round trips per checkout (BEGIN, ";",
    ROLLBACK), more than a whole ingestion. A connection the server dropped fails
    its first statement instead; SQLAlchemy sees a disconnect, invalidates every
    pooled connection, the request answers 503 (backend.api.errors) and the next
    checkout connects afresh. Connections older than POOL_RECYCLE_S are replaced
    at checkout, so idle ones cut by a proxy or firewall rarely reach a request.
    """
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_S)
    # Bound values (webhook secrets, tokens) stay out of SQL logs at DEBUG and error traces.
    kwargs.setdefault("hide_parameters", True)
    if pool_size is None:  # the app's pool
        pool_size = POOL_SIZE
        kwargs.setdefault("max_overflow", 0)
    else:  # small tools and tests: as many again in overflow, as they always had
        kwargs.setdefault("max_overflow", pool_size)
    engine = create_async_engine(url, pool_size=pool_size, **kwargs)
    event.listen(engine.sync_engine, "handle_error", _unusable_connection)
    return engine


# asyncpg errors meaning "this connection is gone" that the dialect does not flag when
# the socket has not been seen closed yet: a server that terminates the backend while
# a statement is on its way leaves the protocol in a state no operation can leave.
_GONE = {"ConnectionDoesNotExistError", "AdminShutdownError", "CannotConnectNowError"}


def connection_gone(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database connection is gone for good."""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if name in _GONE or (
            name == "InternalClientError" and "cannot switch to state" in str(current)
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def _unusable_connection(context: ExceptionContext) -> BaseException | None:
    """Treat a dropped connection as a disconnect: pool invalidated, OperationalError (503)."""
    if not connection_gone(context.original_exception):
        return None
    context.is_disconnect = True
    return OperationalError(
        context.statement,
        context.parameters,
        context.original_exception,
        connection_invalidated=True,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def job_session(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for background jobs: commits on success, rolls back on error."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
