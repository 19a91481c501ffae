"""API keys as ingestion sees them: read once, cached, never written on the request path.

A busy server key sends thousands of interactions a second; writing its
`last_used_at` on each one queued every request on that key's row. Here a key is
read (not written) on a cache miss and its principal kept in a bounded LRU; a
revocation or role change reaches every process through the `api_keys` trigger's
notification (`api_key:<hash>`), within milliseconds. Usage is counted in memory
and written in aggregate, one statement for every key used, by `flush_usage`
(a job of every serving process).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.principal import Principal
from backend.auth.tokens import hash_token
from backend.core import pg_events
from backend.core.errors import Unauthorized
from backend.core.lru import LruCache

MAX_KEYS = 100_000  # principals are small: 100k keys is a few tens of MB at most
LIVE_TTL_S = 900.0  # trusted this long while invalidations are heard
DEAD_TTL_S = 5.0  # and this long otherwise

KEY_SQL = text(
    "SELECT id, product_id, roles FROM api_keys WHERE key_hash = :hash AND revoked_at IS NULL"
)
USAGE_SQL = text(
    """
    UPDATE api_keys AS k SET last_used_at = GREATEST(COALESCE(k.last_used_at, v.at), v.at)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS v(id, at)
    WHERE k.id = v.id
    """
)

_principals: LruCache[str, tuple[Principal, uuid.UUID]] = LruCache(
    MAX_KEYS, live_ttl_s=LIVE_TTL_S, dead_ttl_s=DEAD_TTL_S
)
_used: dict[uuid.UUID, datetime] = {}


def _on_cache_change(payload: str) -> None:
    for digest in pg_events.each(payload, "api_key"):
        _principals.pop(digest)


pg_events.on(pg_events.CACHE, _on_cache_change)
pg_events.on_gap(_principals.clear)


def forget() -> None:
    """Drop every cached key and the usage not yet written (between tests)."""
    _principals.clear()
    _used.clear()


async def api_key_principal(session: AsyncSession, token: str) -> Principal:
    """The principal of a live API key; 401 for an unknown or revoked one. No write."""
    digest = hash_token(token)
    cached = _principals.get(digest)
    if cached is None:
        generation = _principals.generation
        row = (await session.execute(KEY_SQL, {"hash": digest})).first()
        await session.rollback()  # read-only: the request's store runs on its own terms
        if row is None:
            raise Unauthorized("unknown or revoked API key", code="invalid_api_key")
        principal = Principal(
            kind="api_key", actor=f"api_key:{row.id}", product_id=row.product_id, roles=row.roles
        )
        cached = (principal, row.id)
        _principals.put(digest, cached, since=generation)
    _used[cached[1]] = datetime.now(UTC)
    return cached[0]


async def flush_usage(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Write the last use of every key used since the previous flush (one statement)."""
    if not _used:
        return 0
    taken = dict(_used)
    _used.clear()
    try:
        async with sessions() as session:
            await session.execute(USAGE_SQL, {"ids": list(taken), "ats": list(taken.values())})
            await session.commit()
    except BaseException:
        for key_id, at in taken.items():  # try again next time
            _used[key_id] = max(at, _used.get(key_id, at))
        raise
    return len(taken)
