"""The product's bank: idempotent deployment through the factory, and its live view."""

from __future__ import annotations

from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.chain.client import connect, contract, send
from backend.chain.deploy import deploy_bank
from backend.products.bank import DISTRIBUTOR_ROLE
from backend.products.models import ProductBank, Role
from tests.factories import make_campaign, make_product
from tests.products.fixtures import bank_contract, bearer, funded_account, live_product, owner_send

BASE = "/api/business/products"


async def test_deploy__creates_the_bank_owned_by_the_product_owner(api, db_session, core, rpc_url):
    owner = funded_account(rpc_url)
    product, key = await make_product(db_session, owner=owner.address)

    response = await api.post(f"{BASE}/{product.id}/bank", headers=bearer(key))

    assert response.status_code == 201, response.text
    body = response.json()
    factory = contract(connect(rpc_url), "ProductBankFactory", core["bank_factory"])
    predicted = factory.functions.predictBankAddress(bytes.fromhex(product.id[2:])).call()
    assert body["address"] == predicted
    assert (body["owner"], body["managed"], body["paused"]) == (owner.address, True, False)
    assert body["deploy_tx_hash"].startswith("0x") and body["chain_id"] == 31337
    row = await db_session.get(ProductBank, product.id)
    assert row.address == predicted
    entry = await db_session.scalar(select(AuditEntry).where(AuditEntry.action == "bank.deploy"))
    assert entry.after["address"] == predicted


async def test_deploy__second_call__returns_the_same_bank_without_redeploying(
    api, db_session, rpc_url
):
    product, key = await make_product(db_session, owner=funded_account(rpc_url).address)
    first = await api.post(f"{BASE}/{product.id}/bank", headers=bearer(key))
    nonce = connect(rpc_url).eth.get_transaction_count(first.json()["signer"])

    second = await api.post(f"{BASE}/{product.id}/bank", headers=bearer(key))

    assert second.status_code == 200
    assert second.json()["address"] == first.json()["address"]
    assert connect(rpc_url).eth.get_transaction_count(first.json()["signer"]) == nonce


async def test_deploy__bank_on_chain_but_not_recorded__is_adopted(
    api, db_session, core, rpc_url, chain_settings
):
    owner = funded_account(rpc_url).address
    product, key = await make_product(db_session, owner=owner)
    address = deploy_bank(
        connect(rpc_url),
        chain_settings.effective_signer_key(),
        core["bank_factory"],
        bytes.fromhex(product.id[2:]),
        owner,
    )

    response = await api.post(f"{BASE}/{product.id}/bank", headers=bearer(key))

    assert response.status_code == 201
    assert response.json()["address"] == address
    assert response.json()["deploy_tx_hash"] is None


async def test_deploy__without_factory_configured__is_503(client, db_session):
    product, key = await make_product(db_session)
    response = await client.post(f"{BASE}/{product.id}/bank", headers=bearer(key))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "chain_not_configured"


async def test_deploy__without_admin_role__is_403(api, db_session):
    product, key = await make_product(db_session, roles=Role.CAMPAIGN_MANAGER)
    assert (await api.post(f"{BASE}/{product.id}/bank", headers=bearer(key))).status_code == 403


async def test_deploy__another_products_key__is_404(api, db_session):
    product, _ = await make_product(db_session)
    _, other_key = await make_product(db_session)
    response = await api.post(f"{BASE}/{product.id}/bank", headers=bearer(other_key))
    assert response.status_code == 404


async def test_get__reads_balances_pause_and_budgets_live(
    api, db_session, rpc_url, reward_token, chain_settings
):
    product, key, owner, bank = await live_product(api, db_session, rpc_url, reward_token)
    w3 = connect(rpc_url)
    deployer = chain_settings.effective_deployer_key()
    token = contract(w3, "MockERC20", reward_token)
    send(w3, deployer, token.functions.mint(owner.address, 5_000))
    owner_send(rpc_url, owner, "MockERC20", reward_token, "approve", bank, 5_000)
    owner_send(rpc_url, owner, "ProductBank", bank, "deposit", reward_token, 1_234)
    owner_send(rpc_url, owner, "ProductBank", bank, "pause")
    campaign = await make_campaign(
        db_session, product, token=reward_token, status="draft", budget_cap=700
    )
    activated = await api.post(
        f"/api/business/campaigns/{campaign.id}/activate", headers=bearer(key)
    )
    assert activated.status_code == 200, activated.text

    response = await api.get(f"{BASE}/{product.id}/bank", headers=bearer(key))

    assert response.status_code == 200
    body = response.json()
    assert body["paused"] is True and body["managed"] is True
    assert body["balances"] == [
        {"token": reward_token, "symbol": "RWD", "decimals": 18, "balance": "1234"}
    ]
    (budget,) = body["campaign_budgets"]
    assert (budget["campaign_id"], budget["remaining"], budget["active_on_chain"]) == (
        str(campaign.id),
        "700",
        True,
    )
    assert budget["unlimited"] is False


async def test_get__owner_revoked_the_signer__reports_not_managed(
    api, db_session, rpc_url, reward_token
):
    product, key, owner, bank = await live_product(api, db_session, rpc_url, reward_token)
    body = (await api.get(f"{BASE}/{product.id}/bank", headers=bearer(key))).json()
    assert body["managed"] is True
    assert bank_contract(rpc_url, bank).functions.hasRole(DISTRIBUTOR_ROLE, body["signer"]).call()

    owner_send(rpc_url, owner, "ProductBank", bank, "revokeRole", DISTRIBUTOR_ROLE, body["signer"])

    after = (await api.get(f"{BASE}/{product.id}/bank", headers=bearer(key))).json()
    assert (after["managed"], after["signer_is_manager"], after["signer_is_distributor"]) == (
        False,
        True,
        False,
    )


async def test_get__no_bank_yet__is_404(api, db_session):
    product, key = await make_product(db_session)
    response = await api.get(f"{BASE}/{product.id}/bank", headers=bearer(key))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "bank_not_found"


async def test_get__any_role_reads__another_products_key_is_404(
    api, db_session, rpc_url, reward_token
):
    product, viewer, _, _ = await live_product(
        api, db_session, rpc_url, reward_token, roles=Role.INTERACTION_MANAGER
    )
    _, other_key = await make_product(db_session)
    assert (await api.get(f"{BASE}/{product.id}/bank", headers=bearer(viewer))).status_code == 200
    assert (
        await api.get(f"{BASE}/{product.id}/bank", headers=bearer(other_key))
    ).status_code == 404
