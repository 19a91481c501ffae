"""Members and API keys: only admins manage who may act on a product."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.products.models import Role
from tests.factories import make_product, wallet
from tests.products.fixtures import bearer, session_token

BASE = "/api/business/products"


async def test_members__add_list_update_remove(api, db_session):
    product, key = await make_product(db_session)
    member = wallet()
    url = f"{BASE}/{product.id}/members"

    added = await api.post(
        url, json={"wallet": member.lower(), "roles": ["campaign_manager"]}, headers=bearer(key)
    )
    listed = await api.get(url, headers=bearer(key))
    updated = await api.patch(
        f"{url}/{member}", json={"roles": ["admin", "interaction_manager"]}, headers=bearer(key)
    )
    removed = await api.delete(f"{url}/{member}", headers=bearer(key))

    assert added.status_code == 201
    assert (added.json()["wallet"], added.json()["roles_bitmask"]) == (member, 2)
    assert [m["wallet"] for m in listed.json()] == [member]
    assert updated.json()["roles"] == ["admin", "interaction_manager"]
    assert removed.status_code == 204
    assert (await api.get(url, headers=bearer(key))).json() == []
    actions = list(await db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["member.add", "member.update", "member.remove"]


async def test_member_session__acts_with_its_roles(api, db_session):
    product, key = await make_product(db_session)
    member = wallet()
    await api.post(
        f"{BASE}/{product.id}/members",
        json={"wallet": member, "roles": ["campaign_manager"]},
        headers=bearer(key),
    )
    token = await session_token(db_session, member)

    readable = await api.get(f"{BASE}/{product.id}", headers=bearer(token))
    admin_only = await api.patch(f"{BASE}/{product.id}", json={"name": "x"}, headers=bearer(token))

    assert readable.status_code == 200
    assert admin_only.status_code == 403


async def test_owner_session__holds_every_role(api, db_session):
    owner = wallet()
    product, _ = await make_product(db_session, owner=owner)
    token = await session_token(db_session, owner)
    response = await api.patch(f"{BASE}/{product.id}", json={"name": "Mine"}, headers=bearer(token))
    assert response.status_code == 200


async def test_members__duplicate__is_409(api, db_session):
    product, key = await make_product(db_session)
    body = {"wallet": wallet(), "roles": ["admin"]}
    await api.post(f"{BASE}/{product.id}/members", json=body, headers=bearer(key))
    again = await api.post(f"{BASE}/{product.id}/members", json=body, headers=bearer(key))
    assert again.status_code == 409 and again.json()["error"]["code"] == "member_exists"


async def test_members__owner_as_member__is_409(api, db_session):
    product, key = await make_product(db_session)
    response = await api.post(
        f"{BASE}/{product.id}/members",
        json={"wallet": product.owner_wallet, "roles": ["admin"]},
        headers=bearer(key),
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"wallet": "0x12", "roles": ["admin"]}, "wallet"),
        ({"wallet": "0x" + "ab" * 20, "roles": []}, "roles"),
        ({"wallet": "0x" + "ab" * 20, "roles": ["owner"]}, "roles"),
        ({"wallet": "0x" + "ab" * 20, "roles": ["admin"], "x": 1}, "x"),
    ],
)
async def test_members__invalid_body__is_422(api, db_session, body, field):
    product, key = await make_product(db_session)
    response = await api.post(f"{BASE}/{product.id}/members", json=body, headers=bearer(key))
    assert response.status_code == 422
    assert field in str(response.json()["error"])


async def test_members__unknown_member__is_404(api, db_session):
    product, key = await make_product(db_session)
    url = f"{BASE}/{product.id}/members/{wallet()}"
    assert (await api.delete(url, headers=bearer(key))).status_code == 404
    assert (await api.patch(url, json={"roles": ["admin"]}, headers=bearer(key))).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "/members", None),
        ("POST", "/members", {"wallet": "0x" + "ab" * 20, "roles": ["admin"]}),
        ("PATCH", "/members/0x" + "ab" * 20, {"roles": ["admin"]}),
        ("DELETE", "/members/0x" + "ab" * 20, None),
        ("GET", "/api-keys", None),
        ("POST", "/api-keys", {"name": "ci", "roles": ["admin"]}),
        ("DELETE", "/api-keys/00000000-0000-0000-0000-000000000000", None),
        ("POST", "/tokens", {"address": "0x" + "ab" * 20}),
        ("GET", "/audit", None),
    ],
)
async def test_admin_endpoints__campaign_manager__is_403__other_product__is_404(
    api, db_session, method, suffix, body
):
    product, manager_key = await make_product(db_session, roles=Role.CAMPAIGN_MANAGER)
    _, other_key = await make_product(db_session)
    url = f"{BASE}/{product.id}{suffix}"

    denied = await api.request(method, url, json=body, headers=bearer(manager_key))
    hidden = await api.request(method, url, json=body, headers=bearer(other_key))

    assert denied.status_code == 403 and denied.json()["error"]["code"] == "missing_role"
    assert hidden.status_code == 404


async def test_api_keys__create_list_revoke(api, db_session):
    product, key = await make_product(db_session)
    url = f"{BASE}/{product.id}/api-keys"

    created = await api.post(
        url, json={"name": "ci", "roles": ["interaction_manager"]}, headers=bearer(key)
    )
    new_key = created.json()["api_key"]
    listed = await api.get(url, headers=bearer(key))
    works = await api.get(f"{BASE}/{product.id}", headers=bearer(new_key))
    revoked = await api.delete(f"{url}/{created.json()['key']['id']}", headers=bearer(key))
    after = await api.get(f"{BASE}/{product.id}", headers=bearer(new_key))

    assert created.status_code == 201 and new_key.startswith(created.json()["key"]["prefix"])
    rows = listed.json()
    assert [r["name"] for r in rows] == ["test", "ci"]
    assert all(new_key not in str(r) for r in rows) and "key_hash" not in rows[0]
    assert rows[1]["roles"] == ["interaction_manager"]
    assert works.status_code == 200
    assert revoked.status_code == 204
    assert after.status_code == 401 and after.json()["error"]["code"] == "invalid_api_key"


async def test_api_keys__invalid_body__is_422(api, db_session):
    product, key = await make_product(db_session)
    response = await api.post(
        f"{BASE}/{product.id}/api-keys", json={"name": "", "roles": ["admin"]}, headers=bearer(key)
    )
    assert response.status_code == 422 and "name" in response.json()["error"]["message"]


async def test_api_keys__revoke_unknown__is_404(api, db_session):
    product, key = await make_product(db_session)
    response = await api.delete(f"{BASE}/{product.id}/api-keys/not-a-uuid", headers=bearer(key))
    assert response.status_code == 404
