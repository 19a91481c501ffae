"""Outbound event names are a closed list: an enum in the OpenAPI schema, each one documented."""

from __future__ import annotations

import re
from pathlib import Path

from backend.api.openapi_doc import current_schema
from backend.notifications.events import EVENT_TYPES

SHOPS_DOC = Path(__file__).resolve().parents[2] / "docs" / "shops.md"


def test_openapi__event_names__are_an_enum_everywhere_they_appear():
    schemas = current_schema()["components"]["schemas"]

    assert schemas["EndpointCreate"]["properties"]["events"]["items"]["enum"] == list(EVENT_TYPES)
    assert schemas["EndpointRead"]["properties"]["events"]["items"]["enum"] == list(EVENT_TYPES)
    assert schemas["DeliveryRead"]["properties"]["event_type"]["enum"] == list(EVENT_TYPES)


def test_docs__every_outbound_event__has_its_payload_documented():
    text = SHOPS_DOC.read_text()
    section = text.split("## Outbound events", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^### `([a-z_.]+)`", section, flags=re.M)

    assert documented == list(EVENT_TYPES)
    for block in section.split("\n### ")[1:]:
        assert "```json" in block, block.splitlines()[0]


async def test_create_endpoint__unknown_event__is_422(client, db_session):
    from tests.factories import make_product
    from tests.interactions.helpers import bearer

    product, key = await make_product(db_session)

    response = await client.post(
        f"/api/business/products/{product.id}/webhooks",
        json={"url": "https://hooks.example/x", "events": ["rewards.teleported"]},
        headers=bearer(key),
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
