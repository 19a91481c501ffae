"""The audit log: every business change, who made it, before and after, newest first."""

from __future__ import annotations

from tests.campaigns.helpers import campaign_body
from tests.factories import make_product, make_token, wallet
from tests.products.fixtures import bearer, session_token

BASE = "/api/business/products"


async def test_audit__records_changes_with_actor_and_before_after(api, db_session):
    owner = wallet()
    product, key = await make_product(db_session, owner=owner)
    await make_token(db_session, product)
    session = await session_token(db_session, owner)
    await api.patch(f"{BASE}/{product.id}", json={"name": "New"}, headers=bearer(session))
    created = await api.post(
        f"{BASE}/{product.id}/campaigns",
        json=campaign_body(),
        headers={**bearer(key), "X-Request-ID": "req-42"},
    )
    await api.patch(
        f"/api/business/campaigns/{created.json()['id']}",
        json={"name": "Renamed"},
        headers=bearer(key),
    )

    response = await api.get(f"{BASE}/{product.id}/audit", headers=bearer(key))

    assert response.status_code == 200
    entries = response.json()
    assert [e["action"] for e in entries] == [
        "campaign.update",
        "campaign.create",
        "product.update",
    ]
    update, create, product_update = entries
    assert (update["before"]["name"], update["after"]["name"]) == ("Launch", "Renamed")
    assert update["entity"] == "campaign" and update["entity_id"] == created.json()["id"]
    assert create["before"] is None and create["request_id"] == "req-42"
    assert create["actor"].startswith("api_key:")
    assert product_update["actor"] == f"wallet:{owner}"
    assert (product_update["before"]["name"], product_update["after"]["name"]) == (
        product.name,
        "New",
    )


async def test_audit__pages_back_with_before_id(api, db_session):
    product, key = await make_product(db_session)
    for name in ("a", "b", "c"):
        await api.patch(f"{BASE}/{product.id}", json={"name": name}, headers=bearer(key))

    first = (
        await api.get(f"{BASE}/{product.id}/audit", params={"limit": 2}, headers=bearer(key))
    ).json()
    rest = (
        await api.get(
            f"{BASE}/{product.id}/audit",
            params={"limit": 2, "before_id": first[-1]["id"]},
            headers=bearer(key),
        )
    ).json()

    assert [e["after"]["name"] for e in first] == ["c", "b"]
    assert [e["after"]["name"] for e in rest] == ["a"]


async def test_audit__only_this_products_entries(api, db_session):
    product, key = await make_product(db_session)
    other, other_key = await make_product(db_session)
    await api.patch(f"{BASE}/{other.id}", json={"name": "x"}, headers=bearer(other_key))
    assert (await api.get(f"{BASE}/{product.id}/audit", headers=bearer(key))).json() == []


async def test_audit__limit_out_of_range__is_422(api, db_session):
    product, key = await make_product(db_session)
    response = await api.get(f"{BASE}/{product.id}/audit", params={"limit": 0}, headers=bearer(key))
    assert response.status_code == 422
