"""A product's audit log, for its admins only."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.models import AuditEntry
from backend.audit.queries import entries_for_product
from backend.auth.principal import Principal
from backend.products.authorization import authorize
from backend.products.models import Role


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
    return await entries_for_product(session, product.id, limit=limit, before_id=before_id)
