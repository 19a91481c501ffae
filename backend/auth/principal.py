"""Who is calling: an API key scoped to one product, a passkey session, or the CLI.

Auth says who the caller is; what they may do on a product (roles, membership,
API keys) is products' rule: `backend.products.authorization`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from litestar.connection import ASGIConnection
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import AuthSession
from backend.auth.tokens import hash_token
from backend.core.errors import Unauthorized

SESSION_COOKIE = "cascade_session"


@dataclass(frozen=True)
class Principal:
    kind: str  # api_key | session | cli
    actor: str  # for the audit log: "api_key:<id>", "wallet:0x..", "cli"
    product_id: str | None = None  # api keys are scoped to exactly one product
    roles: int = 0  # an api key's own roles
    wallet: str | None = None  # sessions act for a wallet
    session_id: str | None = None
    session_kind: str | None = None  # cookie | bearer
    extra: dict[str, str] = field(default_factory=dict)


def bearer_token(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def session_principal(session: AsyncSession, token: str, kind: str) -> Principal:
    """A live passkey session (cookie or bearer) as the wallet it acts for; 401 otherwise."""
    row = await session.scalar(
        select(AuthSession).where(
            AuthSession.token_hash == hash_token(token),
            AuthSession.kind == kind,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > datetime.now(UTC),
        )
    )
    if row is None:
        raise Unauthorized("session expired or revoked", code="invalid_session")
    return Principal(
        kind="session",
        actor=f"wallet:{row.wallet}",
        wallet=row.wallet,
        session_id=str(row.id),
        session_kind=kind,
    )
