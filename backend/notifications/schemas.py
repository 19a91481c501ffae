"""Request and response bodies of the webhooks part of the business API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, cast

import msgspec

from backend.notifications.events import EVENT_TYPES, EventType
from backend.notifications.models import WebhookDelivery, WebhookEndpoint
from backend.products.validation import Input

Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2000)]
Events = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=len(EVENT_TYPES))]
DeliveryStatus = Literal["pending", "delivered", "dead"]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class EndpointCreate(Input):
    url: Url
    events: Events
    # Reach private/loopback addresses and plain http: only for tests and local
    # development, and only when the operator allows it (see service.may_allow_private).
    allow_private: bool = False


class EndpointUpdate(Input):
    url: Url | Unset = UNSET
    events: Events | Unset = UNSET
    enabled: bool | Unset = UNSET


class SecretRotate(Input):
    keep_previous: bool = True  # False ends a rotation: only the new secret stays valid


class EndpointRead(msgspec.Struct):
    id: uuid.UUID
    product_id: str
    url: str
    events: list[EventType]
    enabled: bool
    disabled_reason: str | None
    allow_private: bool
    active_secrets: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointRead:
        return cls(
            id=endpoint.id,
            product_id=endpoint.product_id,
            url=endpoint.url,
            events=cast(list[EventType], list(endpoint.events)),  # validated on the way in
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            allow_private=endpoint.allow_private,
            active_secrets=len(endpoint.secrets),
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class EndpointCreated(msgspec.Struct):
    secret: str  # whsec_..., shown once
    endpoint: EndpointRead


class SecretRotated(msgspec.Struct):
    secret: str  # the new whsec_ secret, shown once
    active_secrets: int


class DeliveryRead(msgspec.Struct):
    id: uuid.UUID  # the webhook-id receivers deduplicate on
    endpoint_id: uuid.UUID
    event_type: EventType
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryRead:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_type=cast(EventType, delivery.event_type),
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            payload=delivery.payload,
        )
