"""Webhook endpoints and deliveries for product admins: the rules behind the business API."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from msgspec import UnsetType
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.service import record
from backend.auth.principal import Principal
from backend.core.config import Settings
from backend.core.errors import Conflict, NotFound
from backend.notifications import schemas, signing, ssrf
from backend.notifications.delivery import disable_endpoint
from backend.notifications.models import WebhookDelivery, WebhookEndpoint
from backend.products.authorization import authorize
from backend.products.models import Role
from backend.products.validation import invalid

# Operator switch: let product admins point endpoints at private addresses (dev, tests).
ALLOW_PRIVATE_ENV = "WEBHOOK_ALLOW_PRIVATE"
MAX_ENDPOINTS_PER_PRODUCT = 20
MAX_SECRETS = 2
MAX_DELIVERIES_PAGE = 200


def may_allow_private(principal: Principal, settings: Settings) -> bool:
    """Private targets are an SSRF hole in production: the operator opts in, not the owner."""
    if principal.kind == "cli" or settings.embedded:
        return True
    return os.environ.get(ALLOW_PRIVATE_ENV, "").lower() in {"1", "true", "yes"}


def validate_url(url: str, *, allow_private: bool) -> str:
    """https only (http with allow_private); no credentials; no literal private address."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise invalid("url", "is not a valid URL") from None
    if parsed.scheme not in {"https", "http"} or not parsed.host:
        raise invalid("url", "must be an absolute https:// URL")
    if parsed.scheme == "http" and not allow_private:
        raise invalid("url", "must use https (http only with allow_private)")
    if parsed.userinfo:
        raise invalid("url", "must not contain credentials")
    if parsed.fragment:
        raise invalid("url", "must not contain a #fragment")
    if not allow_private:
        literal = ssrf.literal_ip(parsed.host)
        if ssrf.is_local_name(parsed.host) or (
            literal is not None and ssrf.forbidden_reason(literal) is not None
        ):
            raise invalid("url", "points at a private, loopback or link-local address")
    return str(parsed)


def snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint (never the secrets themselves)."""
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "allow_private": endpoint.allow_private,
        "active_secrets": len(endpoint.secrets or []),
    }


def _audit(
    session: AsyncSession,
    principal: Principal,
    endpoint: WebhookEndpoint,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    record(
        session,
        actor=principal.actor,
        product_id=endpoint.product_id,
        action=f"webhook_endpoint.{action}",
        entity="webhook_endpoint",
        entity_id=str(endpoint.id),
        before=before,
        after=after,
    )


def _uuid(field: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{field} not found", code=f"{field}_not_found") from None


async def create_endpoint(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    product_id: str,
    data: schemas.EndpointCreate,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its first whsec_ secret (returned once, stored for signing)."""
    product = await authorize(session, principal, product_id, Role.ADMIN)
    if data.allow_private and not may_allow_private(principal, settings):
        raise invalid("allow_private", f"needs the operator to set {ALLOW_PRIVATE_ENV}=1")
    url = validate_url(data.url, allow_private=data.allow_private)
    count = await session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.product_id == product.id)
    )
    if (count or 0) >= MAX_ENDPOINTS_PER_PRODUCT:
        raise Conflict(
            f"a product has at most {MAX_ENDPOINTS_PER_PRODUCT} webhook endpoints",
            code="too_many_webhook_endpoints",
        )
    secret = signing.generate_secret()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        product_id=product.id,
        url=url,
        secrets=[secret],
        events=sorted(set(data.events)),
        enabled=True,
        allow_private=data.allow_private,
    )
    session.add(endpoint)
    await session.flush()
    _audit(session, principal, endpoint, "create", None, snapshot(endpoint))
    await session.commit()
    await session.refresh(endpoint)
    return endpoint, secret


async def list_endpoints(
    session: AsyncSession, principal: Principal, product_id: str
) -> list[WebhookEndpoint]:
    product = await authorize(session, principal, product_id, Role.ADMIN)
    return list(
        await session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.product_id == product.id)
            .order_by(WebhookEndpoint.created_at)
        )
    )


async def _endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: str, *, lock: bool = False
) -> WebhookEndpoint:
    """The endpoint if the caller is an admin of its product (404 otherwise, never 403)."""
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == _uuid("webhook_endpoint", endpoint_id)
    )
    endpoint = await session.scalar(query.with_for_update() if lock else query)
    if endpoint is None:
        raise NotFound("webhook endpoint not found", code="webhook_endpoint_not_found")
    try:
        await authorize(session, principal, endpoint.product_id, Role.ADMIN)
    except NotFound:
        raise NotFound("webhook endpoint not found", code="webhook_endpoint_not_found") from None
    return endpoint


async def update_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: str, data: schemas.EndpointUpdate
) -> WebhookEndpoint:
    """Edit url / events / enabled. Disabling closes pending deliveries as dead (re-sendable)."""
    endpoint = await _endpoint(session, principal, endpoint_id, lock=True)
    before = snapshot(endpoint)
    if not isinstance(data.url, UnsetType):
        endpoint.url = validate_url(data.url, allow_private=endpoint.allow_private)
    if not isinstance(data.events, UnsetType):
        endpoint.events = sorted(set(data.events))
    now = datetime.now(UTC)
    if not isinstance(data.enabled, UnsetType) and data.enabled != endpoint.enabled:
        if data.enabled:
            endpoint.enabled, endpoint.disabled_reason = True, None
        else:
            await disable_endpoint(session, endpoint.id, "disabled by an admin", now)
            await session.refresh(endpoint)
    endpoint.updated_at = now
    _audit(session, principal, endpoint, "update", before, snapshot(endpoint))
    await session.commit()
    await session.refresh(endpoint)
    return endpoint


async def delete_endpoint(session: AsyncSession, principal: Principal, endpoint_id: str) -> None:
    """Remove an endpoint; its deliveries go with it."""
    endpoint = await _endpoint(session, principal, endpoint_id, lock=True)
    _audit(session, principal, endpoint, "delete", snapshot(endpoint), None)
    await session.delete(endpoint)
    await session.commit()


async def rotate_secret(
    session: AsyncSession, principal: Principal, endpoint_id: str, data: schemas.SecretRotate
) -> tuple[str, int]:
    """A new secret, newest first; the previous one stays valid unless told otherwise.

    At most two are active: a second rotation drops the oldest. Every message is
    signed with each active secret, so receivers switch over at their own pace.
    """
    endpoint = await _endpoint(session, principal, endpoint_id, lock=True)
    before = snapshot(endpoint)
    secret = signing.generate_secret()
    kept = list(endpoint.secrets)[: MAX_SECRETS - 1] if data.keep_previous else []
    endpoint.secrets = [secret, *kept]
    endpoint.updated_at = datetime.now(UTC)
    _audit(session, principal, endpoint, "rotate_secret", before, snapshot(endpoint))
    await session.commit()
    return secret, len(endpoint.secrets)


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    *,
    status: str | None = None,
    endpoint_id: str | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """A product's deliveries, newest first; `status=dead` is the re-send queue."""
    product = await authorize(session, principal, product_id, Role.ADMIN)
    query = select(WebhookDelivery).where(WebhookDelivery.product_id == product.id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == _uuid("webhook_endpoint", endpoint_id))
    limit = max(1, min(limit, MAX_DELIVERIES_PAGE))
    return list(
        await session.scalars(query.order_by(WebhookDelivery.created_at.desc()).limit(limit))
    )


async def resend_delivery(
    session: AsyncSession, principal: Principal, delivery_id: str
) -> WebhookDelivery:
    """Queue a dead (or delivered) delivery again under the same webhook-id.

    The id stays the same so a receiver that did get it can recognise the repeat.
    """
    delivery = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == _uuid("webhook_delivery", delivery_id))
        .with_for_update()
    )
    if delivery is None:
        raise NotFound("webhook delivery not found", code="webhook_delivery_not_found")
    endpoint = await _endpoint(session, principal, str(delivery.endpoint_id))
    if delivery.status == "pending":
        raise Conflict("the delivery is already queued", code="delivery_pending")
    if not endpoint.enabled:
        raise Conflict(
            "the endpoint is disabled: enable it before re-sending", code="endpoint_disabled"
        )
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = datetime.now(UTC)
    delivery.last_error = None
    delivery.last_status_code = None
    delivery.delivered_at = None
    record(
        session,
        actor=principal.actor,
        product_id=delivery.product_id,
        action="webhook_delivery.resend",
        entity="webhook_delivery",
        entity_id=str(delivery.id),
        before=before,
        after={"status": "pending", "attempts": 0},
    )
    await session.commit()
    return delivery
