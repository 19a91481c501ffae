"""Products through the business API: create, list, read, edit, soft delete, webhook secrets."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.campaigns.models import Campaign
from backend.products.models import Product, ProductMember, Role
from tests.factories import make_campaign, make_product, wallet
from tests.products.fixtures import bearer, domain, session_token

BASE = "/api/business/products"


async def test_create__session__owns_product_and_gets_a_working_key(api, db_session):
    owner = wallet()
    token = await session_token(db_session, owner)
    primary = domain()

    response = await api.post(
        BASE,
        json={"name": "Shop", "domains": [primary.upper(), "www." + primary]},
        headers=bearer(token),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["product_id"] == "0x" + keccak(text=primary).hex()
    assert body["product"]["owner_wallet"] == owner
    assert body["product"]["domains"] == [primary, "www." + primary]
    read = await api.get(f"{BASE}/{body['product_id']}", headers=bearer(body["api_key"]))
    assert read.status_code == 200 and read.json()["name"] == "Shop"


async def test_create__api_key__is_403(api, db_session):
    _, key = await make_product(db_session)
    response = await api.post(BASE, json={"name": "x", "domains": [domain()]}, headers=bearer(key))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "api_key_cannot_create_products"


async def test_create__session_for_another_owner__is_403(api, db_session):
    token = await session_token(db_session, wallet())
    response = await api.post(
        BASE, json={"name": "x", "domains": [domain()], "owner": wallet()}, headers=bearer(token)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "owner_mismatch"


async def test_create__without_credentials__is_401(api):
    response = await api.post(BASE, json={"name": "x", "domains": [domain()]})
    assert response.status_code == 401


async def test_create__existing_primary_domain__is_409(api, db_session):
    product, _ = await make_product(db_session)
    token = await session_token(db_session, wallet())
    response = await api.post(
        BASE, json={"name": "x", "domains": [product.primary_domain]}, headers=bearer(token)
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "product_exists"


async def test_create__domain_of_another_product__is_409(api, db_session):
    product, _ = await make_product(db_session)
    token = await session_token(db_session, wallet())
    response = await api.post(
        BASE,
        json={"name": "x", "domains": [domain(), product.primary_domain]},
        headers=bearer(token),
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "domain_taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "domains": ["a.example"]}, "name"),
        ({"name": "x" * 201, "domains": ["a.example"]}, "name"),
        ({"name": "x", "domains": []}, "domains"),
        ({"name": "x", "domains": ["not a domain"]}, "domains[0]"),
        ({"name": "x", "domains": ["a.example"], "owner": "0x123"}, "owner"),
        ({"name": "x", "domains": ["a.example"], "metadata": {"k": "v" * 9000}}, "metadata"),
        ({"name": "x", "domains": ["a.example"], "surprise": 1}, "surprise"),
        ({"domains": ["a.example"]}, "name"),
    ],
)
async def test_create__invalid_body__is_422_naming_the_field(api, db_session, body, field):
    token = await session_token(db_session, wallet())
    response = await api.post(BASE, json=body, headers=bearer(token))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["message"] + str(error["details"])


async def test_list__key_sees_its_product__session_sees_owned_and_member(api, db_session):
    me = wallet()
    owned, key = await make_product(db_session, owner=me)
    other, _ = await make_product(db_session)
    await make_product(db_session)  # unrelated
    db_session.add(ProductMember(product_id=other.id, wallet=me, roles=int(Role.CAMPAIGN_MANAGER)))
    await db_session.commit()
    token = await session_token(db_session, me)

    by_key = await api.get(BASE, headers=bearer(key))
    by_session = await api.get(BASE, headers=bearer(token))

    assert [p["id"] for p in by_key.json()] == [owned.id]
    assert sorted(p["id"] for p in by_session.json()) == sorted([owned.id, other.id])


async def test_get__another_products_key__is_404(api, db_session):
    product, _ = await make_product(db_session)
    _, other_key = await make_product(db_session)
    response = await api.get(f"{BASE}/{product.id}", headers=bearer(other_key))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "product_not_found"


async def test_update__admin__changes_fields_and_audits_before_after(api, db_session):
    product, key = await make_product(db_session)
    extra = "www." + product.primary_domain

    response = await api.patch(
        f"{BASE}/{product.id}",
        json={
            "name": "Renamed",
            "domains": [product.primary_domain, extra],
            "metadata": {"plan": "pro"},
            "dedup_window_s": 120,
            "rate_limit_per_hour": 500,
        },
        headers=bearer(key),
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["domains"], body["metadata"]) == (
        "Renamed",
        [product.primary_domain, extra],
        {"plan": "pro"},
    )
    assert (body["dedup_window_s"], body["rate_limit_per_hour"]) == (120, 500)
    entry = await db_session.scalar(select(AuditEntry).where(AuditEntry.action == "product.update"))
    assert entry.before["name"] == product.name and entry.after["name"] == "Renamed"
    assert entry.actor.startswith("api_key:")


async def test_update__dropping_the_primary_domain__is_422(api, db_session):
    product, key = await make_product(db_session)
    response = await api.patch(
        f"{BASE}/{product.id}", json={"domains": [domain()]}, headers=bearer(key)
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "domains"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dedup_window_s": -1}, "dedup_window_s"),
        ({"rate_limit_per_hour": 0}, "rate_limit_per_hour"),
        ({"owner_wallet": "0x" + "11" * 20}, "owner_wallet"),
        ({"name": ""}, "name"),
    ],
)
async def test_update__invalid_body__is_422(api, db_session, body, field):
    product, key = await make_product(db_session)
    response = await api.patch(f"{BASE}/{product.id}", json=body, headers=bearer(key))
    assert response.status_code == 422
    assert field in str(response.json()["error"])


async def test_update__without_admin_role__is_403(api, db_session):
    product, key = await make_product(db_session, roles=Role.CAMPAIGN_MANAGER)
    response = await api.patch(f"{BASE}/{product.id}", json={"name": "x"}, headers=bearer(key))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_role"


async def test_update__another_products_key__is_404(api, db_session):
    product, _ = await make_product(db_session)
    _, other_key = await make_product(db_session)
    response = await api.patch(
        f"{BASE}/{product.id}", json={"name": "x"}, headers=bearer(other_key)
    )
    assert response.status_code == 404


async def test_delete__hides_product_and_pauses_its_active_campaigns(api, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, status="active")

    response = await api.delete(f"{BASE}/{product.id}", headers=bearer(key))

    assert response.status_code == 204
    assert (await api.get(f"{BASE}/{product.id}", headers=bearer(key))).status_code == 404
    db_session.expunge_all()
    row = await db_session.get(Campaign, campaign.id)
    assert (row.status, row.status_reason) == ("paused", "product deleted")
    assert (await db_session.get(Product, product.id)).deleted_at is not None


async def test_delete__without_admin_role__is_403(api, db_session):
    product, key = await make_product(db_session, roles=Role.INTERACTION_MANAGER)
    assert (await api.delete(f"{BASE}/{product.id}", headers=bearer(key))).status_code == 403


async def test_rotate_webhook_secret__keeps_the_previous_one_valid(api, db_session):
    product, key = await make_product(db_session)
    url = f"{BASE}/{product.id}/webhook-secrets/custom/rotate"

    first = (await api.post(url, headers=bearer(key))).json()
    second = (await api.post(url, headers=bearer(key))).json()
    third = await api.post(url, json={"secret": "s" * 20}, headers=bearer(key))

    assert first["secret"].startswith("whsec_") and first["active_secrets"] == 1
    assert second["active_secrets"] == 2
    assert third.status_code == 201
    db_session.expunge_all()
    stored = (await db_session.get(Product, product.id)).webhook_secrets
    assert stored["custom"] == ["s" * 20, second["secret"]]
    read = (await api.get(f"{BASE}/{product.id}", headers=bearer(key))).json()
    assert read["webhook_secrets"] == [{"scheme": "custom", "active_secrets": 2}]
    assert "whsec_" not in str(read)


async def test_rotate_webhook_secret__unknown_scheme__is_422(api, db_session):
    product, key = await make_product(db_session)
    response = await api.post(
        f"{BASE}/{product.id}/webhook-secrets/ftp/rotate", headers=bearer(key)
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "scheme"


async def test_rotate_webhook_secret__without_admin_role__is_403(api, db_session):
    product, key = await make_product(db_session, roles=Role.CAMPAIGN_MANAGER)
    url = f"{BASE}/{product.id}/webhook-secrets/shopify/rotate"
    assert (await api.post(url, headers=bearer(key))).status_code == 403


@pytest.mark.parametrize(
    "product_id",
    ["0x%00" + "ab" * 31, "%00", "0x" + "ab" * 33, "not-an-id", "0x" + "zz" * 32],
)
async def test_business_route__product_id_that_is_no_id__404_without_a_query(
    api, db_session, product_id
):
    _, key = await make_product(db_session)

    for path in (f"{BASE}/{product_id}", f"{BASE}/{product_id}/campaigns"):
        response = await api.get(path, headers=bearer(key))
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "product_not_found"
