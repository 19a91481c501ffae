"""Reward tokens: registered per product, symbol and decimals read from the chain."""

from __future__ import annotations

from tests.factories import make_product
from tests.products.fixtures import bearer

BASE = "/api/business/products"


async def test_register__reads_symbol_and_decimals_on_chain(
    api, db_session, reward_token, usdc_token
):
    product, key = await make_product(db_session)
    url = f"{BASE}/{product.id}/tokens"

    rwd = await api.post(url, json={"address": reward_token.lower()}, headers=bearer(key))
    usdc = await api.post(url, json={"address": usdc_token}, headers=bearer(key))
    listed = await api.get(url, headers=bearer(key))

    assert rwd.status_code == 201, rwd.text
    assert (rwd.json()["address"], rwd.json()["symbol"], rwd.json()["decimals"]) == (
        reward_token,
        "RWD",
        18,
    )
    assert (usdc.json()["symbol"], usdc.json()["decimals"]) == ("USDC", 6)
    assert [t["symbol"] for t in listed.json()] == ["RWD", "USDC"]


async def test_register__twice__is_409(api, db_session, reward_token):
    product, key = await make_product(db_session)
    url = f"{BASE}/{product.id}/tokens"
    await api.post(url, json={"address": reward_token}, headers=bearer(key))
    again = await api.post(url, json={"address": reward_token}, headers=bearer(key))
    assert again.status_code == 409 and again.json()["error"]["code"] == "token_exists"


async def test_register__address_without_code__is_422(api, db_session):
    product, key = await make_product(db_session)
    response = await api.post(
        f"{BASE}/{product.id}/tokens", json={"address": "0x" + "12" * 20}, headers=bearer(key)
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "address"


async def test_register__contract_that_is_not_a_token__is_422(api, db_session, core):
    product, key = await make_product(db_session)
    response = await api.post(
        f"{BASE}/{product.id}/tokens", json={"address": core["push_pull"]}, headers=bearer(key)
    )
    assert response.status_code == 422
    assert "ERC-20" in response.json()["error"]["message"]


async def test_register__malformed_address__is_422(api, db_session):
    product, key = await make_product(db_session)
    response = await api.post(
        f"{BASE}/{product.id}/tokens", json={"address": "bob"}, headers=bearer(key)
    )
    assert response.status_code == 422 and "address" in response.json()["error"]["message"]


async def test_list__another_products_key__is_404(api, db_session):
    product, _ = await make_product(db_session)
    _, other_key = await make_product(db_session)
    response = await api.get(f"{BASE}/{product.id}/tokens", headers=bearer(other_key))
    assert response.status_code == 404
