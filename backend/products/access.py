"""Who may act on a product: members (wallets with roles) and API keys.

Only admins manage access. Members are the wallets a dashboard session acts
for; the product owner holds every role without a member row.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.service import record
from backend.auth.principal import Principal
from backend.core.errors import Conflict, InvalidInput, NotFound
from backend.products import schemas
from backend.products.authorization import authorize
from backend.products.ids import new_api_key
from backend.products.models import ApiKey, ProductMember, Role
from backend.products.validation import address, role_names, roles_mask


async def list_members(
    session: AsyncSession, principal: Principal, product_id: str
) -> list[ProductMember]:
    product = await authorize(session, principal, product_id, Role.ADMIN)
    query = select(ProductMember).where(ProductMember.product_id == product.id)
    return list(await session.scalars(query.order_by(ProductMember.created_at)))


async def add_member(
    session: AsyncSession, principal: Principal, product_id: str, data: schemas.MemberCreate
) -> ProductMember:
    product = await authorize(session, principal, product_id, Role.ADMIN)
    wallet = address("wallet", data.wallet)
    if wallet == product.owner_wallet:
        raise Conflict("the owner holds every role already", code="member_is_owner")
    member = ProductMember(
        product_id=product.id, wallet=wallet, roles=roles_mask("roles", data.roles)
    )
    session.add(member)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            "this wallet is a member already; PATCH it to change its roles",
            code="member_exists",
            details={"field": "wallet"},
        ) from None
    await session.refresh(member)
    _audit(session, principal, product.id, "member.add", wallet, None, member.roles)
    await session.commit()
    return member


async def update_member(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    wallet: str,
    data: schemas.MemberUpdate,
) -> ProductMember:
    product = await authorize(session, principal, product_id, Role.ADMIN)
    member = await _member(session, product.id, wallet)
    before = member.roles
    member.roles = roles_mask("roles", data.roles)
    member.updated_at = datetime.now(UTC)
    _audit(session, principal, product.id, "member.update", member.wallet, before, member.roles)
    await session.commit()
    return member


async def remove_member(
    session: AsyncSession, principal: Principal, product_id: str, wallet: str
) -> None:
    product = await authorize(session, principal, product_id, Role.ADMIN)
    member = await _member(session, product.id, wallet)
    await session.delete(member)
    _audit(session, principal, product.id, "member.remove", member.wallet, member.roles, None)
    await session.commit()


async def _member(session: AsyncSession, product_id: str, wallet: str) -> ProductMember:
    try:
        checksummed = address("wallet", wallet)
    except InvalidInput:
        raise NotFound("member not found", code="member_not_found") from None
    member = await session.scalar(
        select(ProductMember)
        .where(ProductMember.product_id == product_id, ProductMember.wallet == checksummed)
        .with_for_update()
    )
    if member is None:
        raise NotFound("member not found", code="member_not_found")
    return member


def _audit(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    action: str,
    wallet: str,
    before: int | None,
    after: int | None,
) -> None:
    record(
        session,
        actor=principal.actor,
        product_id=product_id,
        action=action,
        entity="member",
        entity_id=wallet,
        before=None if before is None else {"wallet": wallet, "roles": role_names(before)},
        after=None if after is None else {"wallet": wallet, "roles": role_names(after)},
    )


async def create_api_key(
    session: AsyncSession, principal: Principal, product_id: str, data: schemas.ApiKeyCreate
) -> tuple[ApiKey, str]:
    """A new key for the product; the clear key is returned once and only its hash is kept."""
    product = await authorize(session, principal, product_id, Role.ADMIN)
    key, prefix, key_hash = new_api_key()
    row = ApiKey(
        product_id=product.id,
        name=data.name,
        prefix=prefix,
        key_hash=key_hash,
        roles=roles_mask("roles", data.roles),
        created_by=principal.actor,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    record(
        session,
        actor=principal.actor,
        product_id=product.id,
        action="api_key.create",
        entity="api_key",
        entity_id=str(row.id),
        after={"name": row.name, "prefix": prefix, "roles": role_names(row.roles)},
    )
    await session.commit()
    return row, key


async def list_api_keys(
    session: AsyncSession, principal: Principal, product_id: str
) -> list[ApiKey]:
    product = await authorize(session, principal, product_id, Role.ADMIN)
    query = select(ApiKey).where(ApiKey.product_id == product.id).order_by(ApiKey.created_at)
    return list(await session.scalars(query))


async def revoke_api_key(
    session: AsyncSession, principal: Principal, product_id: str, key_id: str
) -> ApiKey:
    """Revoke a key for good (revoking twice is harmless)."""
    product = await authorize(session, principal, product_id, Role.ADMIN)
    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        raise NotFound("API key not found", code="api_key_not_found") from None
    row = await session.scalar(
        select(ApiKey).where(ApiKey.id == parsed, ApiKey.product_id == product.id).with_for_update()
    )
    if row is None:
        raise NotFound("API key not found", code="api_key_not_found")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        record(
            session,
            actor=principal.actor,
            product_id=product.id,
            action="api_key.revoke",
            entity="api_key",
            entity_id=str(row.id),
            before={"name": row.name, "prefix": row.prefix, "revoked": False},
            after={"name": row.name, "prefix": row.prefix, "revoked": True},
        )
        await session.commit()
    return row
