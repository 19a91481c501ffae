"""GET /metrics (Prometheus text) and the owner's alert list in the business API."""

from __future__ import annotations

import hmac
import os
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, Router, get
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.core.context import AppContext
from backend.core.errors import Unauthorized
from backend.core.models import Alert
from backend.observability import alerts, metrics
from backend.observability.scrape import refresh_gauges
from backend.products.authorization import authorize

# Optional bearer token for /metrics; unset = open (restrict by network instead).
METRICS_TOKEN_ENV = "METRICS_TOKEN"


def _check_metrics_token(request: Request[Any, Any, Any]) -> None:
    expected = os.environ.get(METRICS_TOKEN_ENV)
    if not expected:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
        raise Unauthorized("metrics need the METRICS_TOKEN bearer token", code="unauthenticated")


@get("/metrics", include_in_schema=False)
async def metrics_endpoint(
    request: Request[Any, Any, Any], app_context: AppContext
) -> Response[bytes]:
    _check_metrics_token(request)
    await refresh_gauges(app_context)
    return Response(content=metrics.render(), media_type=CONTENT_TYPE_LATEST)


class AlertRead(msgspec.Struct):
    id: int
    code: str
    severity: str
    subject: str | None
    message: str
    details: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, alert: Alert) -> AlertRead:
        return cls(
            id=alert.id,
            code=alert.code,
            severity=alert.severity,
            subject=alert.subject,
            message=alert.message,
            details=alert.details,
            created_at=alert.created_at,
            resolved_at=alert.resolved_at,
        )


@get(
    "/products/{product_id:str}/alerts",
    summary="The product's alerts, open ones unless include_resolved (any role)",
)
async def list_product_alerts(
    product_id: str,
    principal: Principal,
    db_session: AsyncSession,
    include_resolved: bool = False,
) -> list[AlertRead]:
    product = await authorize(db_session, principal, product_id, None)
    rows = await alerts.list_alerts(db_session, product.id, include_resolved=include_resolved)
    return [AlertRead.of(alert) for alert in rows]


business_router = Router(
    path="/api/business",
    tags=["business: alerts"],
    route_handlers=[list_product_alerts],
)
route_handlers = [metrics_endpoint, business_router]
