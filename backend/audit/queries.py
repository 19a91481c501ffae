"""Reading the audit log: newest first, paged by id (stable under concurrent writes)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.models import AuditEntry
from backend.auth.principal import Principal, authorize
from backend.products.models import Role

MAX_PAGE = 200


async def product_audit_log(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Admins read who changed what on their product; `before_id` pages back in time."""
    product = await authorize(session, principal, product_id, Role.ADMIN)
    query = select(AuditEntry).where(AuditEntry.product_id == product.id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    query = query.order_by(AuditEntry.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
    return list(await session.scalars(query))
