"""Safe retries of creating POSTs: the `Idempotency-Key` header.

A route handler wraps its work in `idempotent(...)`:

    async def create() -> tuple[int, Any]:
        campaign = await service.create_campaign(db_session, principal, product_id, data)
        return 201, CampaignRead.of(campaign)

    return await idempotent(request, app_context.sessions, principal.actor, create)

Without the header the work simply runs. With it, the key is claimed in its own
short transaction before the work starts (so a concurrent duplicate sees it and
gets 409 `idempotency_key_in_use`), and the response is stored when the work
succeeds: the same key with the same method, path and body replays it for 24 h;
with a different request it is 422 `idempotency_key_mismatch`. When the work
fails the claim is released, so the client may retry with the same key.

Secrets shown once (a new API key, a webhook secret) are never stored: name
them in `redact` and a replay answers null for them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.errors import Conflict, InvalidInput
from backend.core.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
KEEP_FOR = timedelta(hours=24)
# A claim whose request died without finishing (crash, lost connection) is
# abandoned after this long, so the key does not stay blocked for 24 h.
ABANDONED_AFTER = timedelta(minutes=5)
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

Work = Callable[[], Awaitable[tuple[int, Any]]]


def created(model: Any, *statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI responses of an `idempotent` handler: it returns encoded bytes, so
    Litestar cannot see the model; without this the schema says "string"."""
    return {
        status: ResponseSpec(
            data_container=model,
            description="Created" if status == 201 else "Already there: the existing one",
            generate_examples=False,
        )
        for status in statuses or (201,)
    }


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """What "the same request" means: method, path and exact body bytes."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _json_response(status: int, body: bytes, *, replayed: bool = False) -> Response[bytes]:
    headers = {REPLAY_HEADER: "true"} if replayed else None
    return Response(
        content=body, status_code=status, media_type="application/json", headers=headers
    )


async def idempotent(
    request: Request[Any, Any, Any],
    sessions: async_sessionmaker[AsyncSession],
    scope: str,
    work: Work,
    *,
    redact: Sequence[str] = (),
) -> Response[bytes]:
    """Run `work` (returning status and a JSON-encodable body) at most once per key."""
    key = request.headers.get(HEADER.lower())
    if key is None:
        status, result = await work()
        return _json_response(status, msgspec.json.encode(result))
    if not _VALID_KEY.match(key):
        raise InvalidInput(
            f"{HEADER} must be 1-255 printable ASCII characters",
            details={"field": HEADER},
        )
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
    stored = await _claim(sessions, scope, key, fingerprint)
    if stored is not None:
        return _json_response(stored[0], stored[1], replayed=True)
    try:
        status, result = await work()
        encoded = msgspec.json.encode(result)
    except BaseException:
        await _release(sessions, scope, key)
        raise
    await _finish(sessions, scope, key, status, _redacted(encoded, redact))
    return _json_response(status, encoded)


def _redacted(body: bytes, fields: Sequence[str]) -> bytes:
    if not fields:
        return body
    value = msgspec.json.decode(body)
    if isinstance(value, dict):
        value.update({field: None for field in fields if field in value})
    return msgspec.json.encode(value)


async def _claim(
    sessions: async_sessionmaker[AsyncSession], scope: str, key: str, fingerprint: str
) -> tuple[int, bytes] | None:
    """Take the key for this request, or return the stored response of an earlier one."""
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                or_(
                    IdempotencyKey.expires_at <= now,
                    (IdempotencyKey.status == "in_progress")
                    & (IdempotencyKey.created_at <= now - ABANDONED_AFTER),
                ),
            )
        )
        claimed = await session.scalar(
            insert(IdempotencyKey)
            .values(
                scope=scope,
                key=key,
                request_hash=fingerprint,
                status="in_progress",
                created_at=now,
                expires_at=now + KEEP_FOR,
            )
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(IdempotencyKey.key)
        )
        if claimed is not None:
            return None
        existing = await session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
    if existing is None:  # released between our insert and select: the client may retry
        raise Conflict(
            "a request with this Idempotency-Key is in progress",
            code="idempotency_key_in_use",
        )
    if existing.request_hash != fingerprint:
        raise InvalidInput(
            "this Idempotency-Key was used with a different request",
            code="idempotency_key_mismatch",
            details={"field": HEADER},
        )
    if existing.status != "done" or existing.response_status is None:
        raise Conflict(
            "a request with this Idempotency-Key is in progress",
            code="idempotency_key_in_use",
        )
    return existing.response_status, (existing.response_body or "null").encode()


async def _finish(
    sessions: async_sessionmaker[AsyncSession], scope: str, key: str, status: int, body: bytes
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
            .values(status="done", response_status=status, response_body=body.decode())
        )


async def _release(sessions: async_sessionmaker[AsyncSession], scope: str, key: str) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                IdempotencyKey.status == "in_progress",
            )
        )


async def purge_expired(session: AsyncSession) -> int:
    """Delete stored responses past their 24 h; for a periodic job (the caller commits)."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at <= datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)
