"""A product's audit log tab (admins): who changed what, newest first, paged back in time."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.dashboard.product_pages import PRODUCT, Page, roles_of
from backend.dashboard.web import render
from backend.products import service
from backend.products.audit_log import product_audit_log

PAGE_SIZE = 50


@get(PRODUCT + "/audit")
async def audit_page(
    request: Request[Any, Any, Any],
    product_id: str,
    viewer: Principal,
    db_session: AsyncSession,
    before_id: int | None = None,
) -> Page:
    product = await service.get_product(db_session, viewer, product_id)
    entries = await product_audit_log(
        db_session, viewer, product.id, limit=PAGE_SIZE, before_id=before_id
    )
    older = entries[-1].id if len(entries) == PAGE_SIZE else None
    return render(
        request,
        "audit.html",
        viewer=viewer,
        product=product,
        entries=entries,
        older=older,
        roles=await roles_of(db_session, viewer, product),
        tab="audit",
    )


route_handlers = [audit_page]
