"""Shared helpers for the ingestion, referral and engine tests."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import AuthSession
from backend.auth.tokens import hash_token
from backend.campaigns import snapshots
from backend.interactions.ratelimit import ip_limiter
from backend.interactions.routes import forget_api_keys
from backend.products import settings_cache
from backend.referrals.service import chain_cache

E18 = 10**18


def reset_caches() -> None:
    """Process caches outlive the per-test TRUNCATE: start every test without them."""
    snapshots.invalidate_product_campaigns()
    settings_cache.invalidate_product()
    chain_cache.clear()
    ip_limiter.reset()
    forget_api_keys()


WAIT = {"Prefer": "wait=10"}  # answers carry the rewards once evaluated


def bearer(token: str, *, wait: bool = True) -> dict[str, str]:
    """Credentials, and (unless `wait=False`) the preference to wait for evaluation."""
    return {"Authorization": f"Bearer {token}", **(WAIT if wait else {})}


async def make_session(session: AsyncSession, wallet: str) -> str:
    """A live listener bearer session for `wallet`; returns the token."""
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            id=uuid.uuid4(),
            token_hash=hash_token(token),
            kind="bearer",
            wallet=wallet,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )
    await session.commit()
    return token


async def send(
    client: httpx.AsyncClient,
    key: str,
    product_id: str,
    wallet: str,
    type_: str,
    data: dict[str, Any] | None = None,
    *,
    wait: bool = True,
    **extra: Any,
) -> httpx.Response:
    """POST one interaction; by default the answer waits for its evaluation (rewards)."""
    body: dict[str, Any] = {"product_id": product_id, "wallet": wallet, "type": type_}
    if data is not None:
        body["data"] = data
    body.update(extra)
    return await client.post(
        "/api/external/interactions", json=body, headers=bearer(key, wait=wait)
    )


async def refer(
    client: httpx.AsyncClient, key: str, product_id: str, wallet: str, referrer: str
) -> httpx.Response:
    return await send(client, key, product_id, wallet, "referral.referred", {"referrer": referrer})


async def count(session: AsyncSession, sql: str, **params: Any) -> int:
    value = await session.scalar(text(sql), params)
    await session.commit()
    return int(value or 0)


async def rows(session: AsyncSession, sql: str, **params: Any) -> list[Any]:
    found = (await session.execute(text(sql), params)).all()
    await session.commit()
    return list(found)
