"""Who is calling: an API key scoped to one product, a passkey session, or the CLI.

Route handlers declare `principal: Principal` (provided by the app) and ask
`authorize(...)` for the role they need. Another product's key sees 404, a
member without the role gets 403: callers never learn what they may not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from litestar.connection import ASGIConnection
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import AuthSession
from backend.core.errors import Forbidden, NotFound, Unauthorized
from backend.products.ids import API_KEY_PREFIX, hash_token
from backend.products.models import ApiKey, Product, ProductMember, Role

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


CLI_PRINCIPAL = Principal(kind="cli", actor="cli", roles=int(Role.ALL))


def _bearer(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def _api_key_principal(session: AsyncSession, token: str) -> Principal:
    key = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_token(token), ApiKey.revoked_at.is_(None))
    )
    if key is None:
        raise Unauthorized("unknown or revoked API key", code="invalid_api_key")
    await session.execute(
        update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=datetime.now(UTC))
    )
    await session.commit()
    return Principal(
        kind="api_key", actor=f"api_key:{key.id}", product_id=key.product_id, roles=key.roles
    )


async def _session_principal(session: AsyncSession, token: str, kind: str) -> Principal:
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


async def resolve_principal(request: ASGIConnection, db_session: AsyncSession) -> Principal:
    """Litestar dependency: the caller, or 401 when there is no valid credential.

    The parameter is named `request` because Litestar injects the connection
    under that name (it has no `connection` kwarg); positional callers are unaffected.
    """
    token = _bearer(request)
    if token is not None:
        if token.startswith(API_KEY_PREFIX):
            return await _api_key_principal(db_session, token)
        return await _session_principal(db_session, token, "bearer")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await _session_principal(db_session, cookie, "cookie")
    raise Unauthorized("missing credentials: send an API key or log in", code="unauthenticated")


async def roles_on(session: AsyncSession, principal: Principal, product: Product) -> int:
    """The roles the caller holds on `product` (0 = none, so it must not see it)."""
    if principal.kind == "cli":
        return int(Role.ALL)
    if principal.kind == "api_key":
        return principal.roles if principal.product_id == product.id else 0
    if principal.wallet is None:
        return 0
    if principal.wallet == product.owner_wallet:
        return int(Role.ALL)
    member_roles = await session.scalar(
        select(ProductMember.roles).where(
            ProductMember.product_id == product.id, ProductMember.wallet == principal.wallet
        )
    )
    return member_roles or 0


async def authorize(
    session: AsyncSession, principal: Principal, product_id: str, role: Role | None
) -> Product:
    """Load a live product the caller may see and check `role` (None = any role).

    404 when the product does not exist, is deleted, or the caller has no role on
    it; 403 when the caller sees it but lacks `role`.
    """
    product = await session.get(Product, product_id.lower())
    if product is None or product.deleted_at is not None:
        raise NotFound("product not found", code="product_not_found")
    held = await roles_on(session, principal, product)
    if held == 0:
        raise NotFound("product not found", code="product_not_found")
    if role is not None and not held & int(role) and not held & int(Role.ADMIN):
        role_name = (role.name or str(int(role))).lower()  # combined flags have no name
        raise Forbidden(f"requires the {role_name} role", code="missing_role")
    return product
