"""The dashboard (/dashboard/*, signed-in pages), its static files, and the wallet page.

Every /dashboard page resolves the `viewer` (a cookie session, else a redirect
to the login page); every state-changing request passes the CSRF check first.
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from backend.dashboard import (
    campaign_pages,
    fraud_pages,
    product_access_pages,
    product_audit_pages,
    product_bank_pages,
    product_pages,
    product_settings_pages,
    review_pages,
    session_pages,
    wallet_page,
)
from backend.dashboard.web import EXCEPTION_HANDLERS, STATIC, provide_viewer, require_csrf

dashboard_router = Router(
    path="/dashboard",
    route_handlers=[
        *session_pages.route_handlers,
        *product_pages.route_handlers,
        *product_settings_pages.route_handlers,
        *product_access_pages.route_handlers,
        *product_bank_pages.route_handlers,
        *product_audit_pages.route_handlers,
        *campaign_pages.route_handlers,
        *review_pages.route_handlers,
        *fraud_pages.route_handlers,
    ],
    dependencies={"viewer": Provide(provide_viewer)},
    before_request=require_csrf,
    exception_handlers=EXCEPTION_HANDLERS,
    include_in_schema=False,
)
static_router = create_static_files_router(
    path="/dashboard/static",
    directories=[STATIC],
    name="dashboard-static",
    cache_control=CacheControlHeader(max_age=300),
)

route_handlers = [dashboard_router, static_router, *wallet_page.route_handlers]
