"""Sessions a passkey (or a one-time login link) opens, and their revocation.

Two kinds: a `bearer` token the listener iframe keeps (short-lived, sent as
`Authorization: Bearer`), and a `cookie` for the dashboard. Only the sha256 of a
token is stored, so a database leak opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import AuthChallenge, AuthSession
from backend.auth.principal import Principal
from backend.auth.tokens import hash_token
from backend.core.errors import Forbidden, NotFound, Unauthorized

SESSION_TTL = {"bearer": timedelta(hours=1), "cookie": timedelta(hours=12)}
SESSION_TOKEN_PREFIX = "css_"  # never "csk_": that prefix means an API key
LOGIN_LINK_TTL = timedelta(minutes=10)
USER_AGENT_MAX = 300


@dataclass(frozen=True)
class IssuedSession:
    token: str  # shown once, to the client that logged in
    row: AuthSession


async def open_session(
    session: AsyncSession,
    *,
    wallet: str,
    kind: str,
    credential_id: int | None,
    client_ip: str | None,
    user_agent: str | None,
    now: datetime | None = None,
) -> IssuedSession:
    """Add (not commit) a session row; the caller commits with the ceremony's writes."""
    now = now or datetime.now(UTC)
    token = SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AuthSession(
        id=uuid.uuid4(),
        token_hash=hash_token(token),
        kind=kind,
        wallet=wallet,
        credential_id=credential_id,
        client_ip=client_ip,
        user_agent=(user_agent or "")[:USER_AGENT_MAX] or None,
        created_at=now,
        expires_at=now + SESSION_TTL[kind],
    )
    session.add(row)
    return IssuedSession(token=token, row=row)


def _require_session(principal: Principal) -> str:
    if principal.kind != "session" or principal.wallet is None:
        raise Forbidden("this needs a passkey session, not an API key", code="session_required")
    return principal.wallet


async def list_sessions(session: AsyncSession, principal: Principal) -> list[AuthSession]:
    """The caller's wallet's live sessions, newest first."""
    wallet = _require_session(principal)
    query = select(AuthSession).where(
        AuthSession.wallet == wallet,
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > datetime.now(UTC),
    )
    return list(await session.scalars(query.order_by(AuthSession.created_at.desc())))


async def revoke_session(session: AsyncSession, principal: Principal, session_id: str) -> None:
    """Revoke one of the wallet's sessions; another wallet's session is a 404."""
    wallet = _require_session(principal)
    try:
        target = uuid.UUID(session_id)
    except ValueError:
        raise NotFound("session not found", code="session_not_found") from None
    result = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == target,
            AuthSession.wallet == wallet,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=datetime.now(UTC))
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("session not found", code="session_not_found")
    await session.commit()


async def revoke_all_sessions(session: AsyncSession, principal: Principal) -> int:
    """Sign the wallet out everywhere (this session included); returns how many ended."""
    wallet = _require_session(principal)
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.wallet == wallet, AuthSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


async def logout(session: AsyncSession, principal: Principal) -> None:
    """End the session the request was made with."""
    _require_session(principal)
    if principal.session_id is None:
        return
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == uuid.UUID(principal.session_id))
        .values(revoked_at=datetime.now(UTC))
    )
    await session.commit()


def _link_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_login_link(
    session: AsyncSession, wallet: str, ttl: timedelta = LOGIN_LINK_TTL
) -> str:
    """A one-time dashboard login for `wallet` (CLI and demo only: no endpoint creates one).

    Returns the token for GET /api/auth/magic/{token}; only its hash is stored.
    """
    token = secrets.token_urlsafe(32)
    session.add(
        AuthChallenge(
            purpose="magic",
            challenge=_link_digest(token),
            wallet=wallet,
            expires_at=datetime.now(UTC) + ttl,
        )
    )
    await session.commit()
    return token


async def consume_login_link(
    session: AsyncSession, token: str, *, client_ip: str | None, user_agent: str | None
) -> IssuedSession:
    """Spend a login link (once, before it expires) for a dashboard cookie session."""
    now = datetime.now(UTC)
    wallet = await session.scalar(
        update(AuthChallenge)
        .where(
            AuthChallenge.challenge == _link_digest(token),
            AuthChallenge.purpose == "magic",
            AuthChallenge.consumed_at.is_(None),
            AuthChallenge.expires_at > now,
        )
        .values(consumed_at=now)
        .returning(AuthChallenge.wallet)
    )
    if wallet is None:
        await session.rollback()
        raise Unauthorized("this login link is unknown, used or expired", code="invalid_login_link")
    issued = await open_session(
        session,
        wallet=wallet,
        kind="cookie",
        credential_id=None,
        client_ip=client_ip,
        user_agent=user_agent,
        now=now,
    )
    await session.commit()
    return issued
