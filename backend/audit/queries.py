"""Reading the audit log: newest first, paged by id (stable under concurrent writes).

Who may read a product's log is products' rule (`backend.products.audit_log`); this
module only reads, so audit stays below every domain that records into it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.models import AuditEntry

MAX_PAGE = 200


async def entries_for_product(
    session: AsyncSession, product_id: str, *, limit: int = 50, before_id: int | None = None
) -> list[AuditEntry]:
    """A product's entries newest first; `before_id` pages back in time."""
    query = select(AuditEntry).where(AuditEntry.product_id == product_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    query = query.order_by(AuditEntry.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
    return list(await session.scalars(query))
