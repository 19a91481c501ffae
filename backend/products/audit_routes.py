"""HTTP for the audit log of a product (admins only: a products rule, so it lives here)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.models import AuditEntry
from backend.audit.queries import MAX_PAGE
from backend.auth.principal import Principal
from backend.products.audit_log import product_audit_log


class AuditEntryRead(msgspec.Struct):
    id: int
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryRead:
        return cls(
            id=entry.id,
            actor=entry.actor,
            action=entry.action,
            entity=entry.entity,
            entity_id=entry.entity_id,
            before=entry.before,
            after=entry.after,
            request_id=entry.request_id,
            created_at=entry.created_at,
        )


@get("/products/{product_id:str}/audit", summary="Who changed what, newest first (admin)")
async def list_audit(
    product_id: str,
    principal: Principal,
    db_session: AsyncSession,
    limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
    before_id: Annotated[int | None, Parameter(ge=1)] = None,
) -> list[AuditEntryRead]:
    entries = await product_audit_log(
        db_session, principal, product_id, limit=limit, before_id=before_id
    )
    return [AuditEntryRead.of(e) for e in entries]


router = Router(
    path="/api/business",
    tags=["business: audit"],
    route_handlers=[list_audit],
)
route_handlers = [router]
