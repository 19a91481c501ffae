"""HTTP for outbound webhook endpoints and their deliveries (business API, admin role)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, delete, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.core.idempotency import created, idempotent
from backend.notifications import schemas as s
from backend.notifications import service

PRODUCT = "/products/{product_id:str}"
ENDPOINT = "/webhooks/{endpoint_id:str}"


@post(
    PRODUCT + "/webhooks",
    summary="Add a webhook endpoint; its whsec_ secret is shown once",
    responses=created(s.EndpointCreated),
)
async def create_endpoint(
    request: Request[Any, Any, Any],
    product_id: str,
    data: s.EndpointCreate,
    principal: Principal,
    settings: Settings,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Response[bytes]:
    async def work() -> tuple[int, s.EndpointCreated]:
        endpoint, secret = await service.create_endpoint(
            db_session, principal, settings, product_id, data
        )
        return 201, s.EndpointCreated(secret, s.EndpointRead.of(endpoint))

    return await idempotent(request, app_context.sessions, principal.actor, work)


@get(PRODUCT + "/webhooks", summary="The product's webhook endpoints (no secrets)")
async def list_endpoints(
    product_id: str, principal: Principal, db_session: AsyncSession
) -> list[s.EndpointRead]:
    endpoints = await service.list_endpoints(db_session, principal, product_id)
    return [s.EndpointRead.of(endpoint) for endpoint in endpoints]


@patch(ENDPOINT, summary="Change url, events or enabled")
async def update_endpoint(
    endpoint_id: str, data: s.EndpointUpdate, principal: Principal, db_session: AsyncSession
) -> s.EndpointRead:
    endpoint = await service.update_endpoint(db_session, principal, endpoint_id, data)
    return s.EndpointRead.of(endpoint)


@delete(ENDPOINT, summary="Remove a webhook endpoint and its deliveries")
async def delete_endpoint(endpoint_id: str, principal: Principal, db_session: AsyncSession) -> None:
    await service.delete_endpoint(db_session, principal, endpoint_id)


@post(
    ENDPOINT + "/rotate-secret",
    summary="New signing secret, shown once; the previous stays valid (at most two)",
    responses=created(s.SecretRotated),
)
async def rotate_secret(
    request: Request[Any, Any, Any],
    endpoint_id: str,
    principal: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
    data: s.SecretRotate | None = None,
) -> Response[bytes]:
    async def work() -> tuple[int, s.SecretRotated]:
        secret, active = await service.rotate_secret(
            db_session, principal, endpoint_id, data or s.SecretRotate()
        )
        return 201, s.SecretRotated(secret, active)

    return await idempotent(request, app_context.sessions, principal.actor, work)


@get(PRODUCT + "/webhook-deliveries", summary="Deliveries, newest first; ?status=dead to re-send")
async def list_deliveries(
    product_id: str,
    principal: Principal,
    db_session: AsyncSession,
    status: s.DeliveryStatus | None = None,
    endpoint_id: str | None = None,
    limit: int = 50,
) -> list[s.DeliveryRead]:
    deliveries = await service.list_deliveries(
        db_session, principal, product_id, status=status, endpoint_id=endpoint_id, limit=limit
    )
    return [s.DeliveryRead.of(delivery) for delivery in deliveries]


@post(
    "/webhook-deliveries/{delivery_id:str}/resend",
    summary="Queue a dead or delivered delivery again (same webhook-id)",
    status_code=202,
)
async def resend_delivery(
    delivery_id: str, principal: Principal, db_session: AsyncSession
) -> s.DeliveryRead:
    delivery = await service.resend_delivery(db_session, principal, delivery_id)
    return s.DeliveryRead.of(delivery)


router = Router(
    path="/api/business",
    tags=["business: webhooks"],
    route_handlers=[
        create_endpoint,
        list_endpoints,
        update_endpoint,
        delete_endpoint,
        rotate_secret,
        list_deliveries,
        resend_delivery,
    ],
)
route_handlers = [router]
