"""Product A's API key sees nothing of product B: 404 on every business route, no write.

The route list is checked against the OpenAPI schema, so a new business route
fails here until it is listed (and so tested) too.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.models import AuditEntry
from backend.campaigns.models import Campaign
from backend.fraud.models import FraudRule, FraudSettings
from backend.notifications.models import WebhookDelivery, WebhookEndpoint
from backend.products.models import ApiKey, Product, ProductMember, ProductToken, Role
from backend.rewards.models import Reward
from tests.factories import TEST_TOKEN, make_campaign, make_product, wallet

ADDRESS = "0x" + "ab" * 20
CAMPAIGN_BODY = {
    "name": "Stolen",
    "trigger": "purchase.completed",
    "token": ADDRESS,
    "reward": {"type": "fixed", "amount": "1"},
    "user_bps": 5000,
    "decay_bps": 5000,
}

# (method, path template, JSON body). Placeholders name product B's rows.
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/business/products/{product_id}", None),
    ("PATCH", "/api/business/products/{product_id}", {"name": "Taken over"}),
    ("DELETE", "/api/business/products/{product_id}", None),
    ("POST", "/api/business/products/{product_id}/webhook-secrets/custom/rotate", {}),
    ("GET", "/api/business/products/{product_id}/members", None),
    (
        "POST",
        "/api/business/products/{product_id}/members",
        {"wallet": ADDRESS, "roles": ["admin"]},
    ),
    ("PATCH", "/api/business/products/{product_id}/members/{wallet}", {"roles": ["admin"]}),
    ("DELETE", "/api/business/products/{product_id}/members/{wallet}", None),
    ("GET", "/api/business/products/{product_id}/api-keys", None),
    ("POST", "/api/business/products/{product_id}/api-keys", {"name": "x", "roles": ["admin"]}),
    ("DELETE", "/api/business/products/{product_id}/api-keys/{key_id}", None),
    ("GET", "/api/business/products/{product_id}/tokens", None),
    ("POST", "/api/business/products/{product_id}/tokens", {"address": ADDRESS}),
    ("GET", "/api/business/products/{product_id}/campaigns", None),
    ("POST", "/api/business/products/{product_id}/campaigns", CAMPAIGN_BODY),
    ("GET", "/api/business/campaigns/{campaign_id}", None),
    ("PATCH", "/api/business/campaigns/{campaign_id}", {"name": "Taken over"}),
    ("POST", "/api/business/campaigns/{campaign_id}/activate", None),
    ("POST", "/api/business/campaigns/{campaign_id}/pause", None),
    ("POST", "/api/business/campaigns/{campaign_id}/deactivate", None),
    ("GET", "/api/business/campaigns/{campaign_id}/analytics", None),
    ("GET", "/api/business/products/{product_id}/bank", None),
    ("POST", "/api/business/products/{product_id}/bank", None),
    ("GET", "/api/business/products/{product_id}/audit", None),
    ("GET", "/api/business/products/{product_id}/webhooks", None),
    (
        "POST",
        "/api/business/products/{product_id}/webhooks",
        {"url": "https://hooks.example/x", "events": ["rewards.pushed"]},
    ),
    ("PATCH", "/api/business/webhooks/{endpoint_id}", {"enabled": False}),
    ("DELETE", "/api/business/webhooks/{endpoint_id}", None),
    ("POST", "/api/business/webhooks/{endpoint_id}/rotate-secret", {}),
    ("GET", "/api/business/products/{product_id}/webhook-deliveries", None),
    ("POST", "/api/business/webhook-deliveries/{delivery_id}/resend", None),
    ("GET", "/api/business/products/{product_id}/alerts", None),
    ("GET", "/api/business/products/{product_id}/fraud", None),
    (
        "POST",
        "/api/business/products/{product_id}/fraud/rules",
        {"kind": "shared_ip", "action": "reject", "reason_code": "taken"},
    ),
    ("PATCH", "/api/business/products/{product_id}/fraud/rules/{rule_id}", {"enabled": False}),
    ("DELETE", "/api/business/products/{product_id}/fraud/rules/{rule_id}", None),
    (
        "PUT",
        "/api/business/products/{product_id}/fraud/settings",
        {"default_decision": "approve"},
    ),
    ("GET", "/api/business/products/{product_id}/fraud/held", None),
    (
        "POST",
        "/api/business/products/{product_id}/fraud/review",
        {"reward_ids": ["{reward_id}"], "decision": "approve"},
    ),
    ("POST", "/api/business/products/{product_id}/fraud/held/{reward_id}/approve", None),
]
# Not about one product: listing the caller's own products, creating a new one.
NOT_PRODUCT_SCOPED = {("GET", "/api/business/products"), ("POST", "/api/business/products")}


@dataclass
class Victim:
    """Product B's row ids, by the names the route templates use."""

    product_id: str
    campaign_id: str
    wallet: str
    key_id: str
    endpoint_id: str
    delivery_id: str
    rule_id: str
    reward_id: str


async def _victim(session: AsyncSession) -> Victim:
    product, _ = await make_product(session)
    campaign = await make_campaign(session, product, status="paused")
    member = wallet()
    session.add(ProductMember(product_id=product.id, wallet=member, roles=int(Role.ALL)))
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        product_id=product.id,
        url="https://victim.example/hook",
        secrets=["whsec_" + "b" * 32],
        events=["rewards.pushed"],
        enabled=True,
        allow_private=False,
    )
    session.add(endpoint)
    await session.flush()
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        product_id=product.id,
        event_type="rewards.pushed",
        payload={"type": "rewards.pushed"},
        status="dead",
    )
    session.add(delivery)
    await session.flush()
    rule = FraudRule(
        product_id=product.id, kind="shared_device", action="hold", reason_code="shared_device"
    )
    session.add(rule)
    held = Reward(
        product_id=product.id,
        campaign_id=campaign.id,
        interaction_id=1,
        wallet=member,
        level=0,
        token=TEST_TOKEN,
        amount=5,
        status="held",
    )
    session.add(held)
    await session.flush()
    ids = (product.id, str(campaign.id), member, str(endpoint.id), str(delivery.id))
    rule_id, reward_id = str(rule.id), str(held.id)
    await session.commit()
    key_id = await session.scalar(select(ApiKey.id).where(ApiKey.product_id == ids[0]))
    return Victim(ids[0], ids[1], ids[2], str(key_id), ids[3], ids[4], rule_id, reward_id)


async def _fingerprint(session: AsyncSession, product_id: str) -> tuple[Any, ...]:
    """Everything a cross-product call could have changed about the victim."""
    session.expire_all()
    product = await session.get(Product, product_id)
    assert product is not None
    campaigns = (
        await session.execute(
            select(Campaign.id, Campaign.name, Campaign.status, Campaign.version).where(
                Campaign.product_id == product_id
            )
        )
    ).all()
    counts = []
    for model in (ProductMember, ApiKey, ProductToken, WebhookEndpoint, AuditEntry):
        counts.append(
            await session.scalar(
                select(func.count()).select_from(model).where(model.product_id == product_id)
            )
        )
    keys = (
        await session.execute(select(ApiKey.revoked_at).where(ApiKey.product_id == product_id))
    ).all()
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.enabled, WebhookEndpoint.secrets).where(
                WebhookEndpoint.product_id == product_id
            )
        )
    ).all()
    deliveries = (
        await session.execute(
            select(WebhookDelivery.status).where(WebhookDelivery.product_id == product_id)
        )
    ).all()
    fraud = (
        await session.execute(
            select(FraudRule.kind, FraudRule.action, FraudRule.enabled).where(
                FraudRule.product_id == product_id
            )
        )
    ).all()
    review = (
        await session.execute(
            select(FraudSettings.default_decision).where(FraudSettings.product_id == product_id)
        )
    ).all()
    rewards = (
        await session.execute(select(Reward.status).where(Reward.product_id == product_id))
    ).all()
    return (
        sorted(map(tuple, fraud)),
        review,
        rewards,
        product.name,
        product.deleted_at,
        product.webhook_secrets,
        sorted(map(tuple, campaigns)),
        counts,
        keys,
        endpoints,
        deliveries,
    )


def test_route_list__covers_every_product_scoped_business_operation(settings) -> None:
    from backend.api.app import create_app

    app = create_app(
        settings, database_url=str(settings.database_url), rpc_url=str(settings.rpc_url)
    )
    documented = {
        (method.upper(), path)
        for path, item in app.openapi_schema.to_schema()["paths"].items()
        if path.startswith("/api/business")
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    listed = {
        (method, path.replace("/custom/", "/{scheme}/").replace("/approve", "/{decision}"))
        for method, path, _ in ROUTES
    }
    assert documented - NOT_PRODUCT_SCOPED == listed


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_api_key_of_product_a__on_product_b__404_and_nothing_written(
    client: httpx.AsyncClient, db_session: AsyncSession, method: str, path: str, body: Any
) -> None:
    _, key_a = await make_product(db_session)
    victim = await _victim(db_session)
    before = await _fingerprint(db_session, victim.product_id)

    if body and body.get("reward_ids") == ["{reward_id}"]:
        body = {**body, "reward_ids": [int(victim.reward_id)]}  # product B's held reward
    response = await client.request(
        method,
        path.format(**asdict(victim)),
        json=body,
        headers={"Authorization": f"Bearer {key_a}"},
    )

    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"].endswith("not_found")
    assert await _fingerprint(db_session, victim.product_id) == before
