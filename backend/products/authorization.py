"""Who may act on a product: the caller's roles from an API key, membership or ownership.

Membership is a products rule, so it sits next to the membership table; auth only
says who the caller is. Route handlers declare `principal: Principal` (resolved
here) and ask `authorize(...)` for the role they need. Another product's key sees
404, a member without the role gets 403: callers never learn what they may not see.
"""

from __future__ import annotations

from datetime import UTC, datetime

from litestar.connection import ASGIConnection
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import SESSION_COOKIE, Principal, bearer_token, session_principal
from backend.auth.tokens import hash_token
from backend.core.errors import Forbidden, NotFound, Unauthorized
from backend.products.ids import API_KEY_PREFIX, is_product_id
from backend.products.models import ApiKey, Product, ProductMember, Role

CLI_PRINCIPAL = Principal(kind="cli", actor="cli", roles=int(Role.ALL))


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


async def resolve_principal(request: ASGIConnection, db_session: AsyncSession) -> Principal:
    """Litestar dependency: the caller, or 401 when there is no valid credential.

    The parameter is named `request` because Litestar injects the connection
    under that name (it has no `connection` kwarg); positional callers are unaffected.
    """
    token = bearer_token(request)
    if token is not None:
        if token.startswith(API_KEY_PREFIX):
            return await _api_key_principal(db_session, token)
        return await session_principal(db_session, token, "bearer")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await session_principal(db_session, cookie, "cookie")
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
    if not is_product_id(product_id):  # not an id (a NUL byte would fail the query): no query
        raise NotFound("product not found", code="product_not_found")
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
