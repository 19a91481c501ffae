"""Fixtures for webhook tests: a live receiver on loopback and endpoint rows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from backend.notifications import signing
from backend.notifications.events import EVENT_TYPES
from backend.notifications.models import WebhookEndpoint
from backend.products.models import Product
from tests.notifications.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.up()
    yield server
    server.down()


async def make_endpoint(
    session: AsyncSession,
    product: Product,
    url: str,
    *,
    events: tuple[str, ...] = EVENT_TYPES,
    allow_private: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """A committed endpoint (what the API would create) and its secret in clear."""
    secret = signing.generate_secret()
    endpoint = WebhookEndpoint(
        product_id=product.id,
        url=url,
        secrets=[secret],
        events=list(events),
        enabled=True,
        allow_private=allow_private,
    )
    session.add(endpoint)
    await session.commit()
    return endpoint, secret
