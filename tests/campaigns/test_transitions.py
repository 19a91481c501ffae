"""Campaign status transitions: the explicit state machine and what it does on the bank."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.campaigns.transitions import TRANSITIONS
from backend.chain.client import connect
from backend.products.bank import MANAGER_ROLE
from backend.products.chain import transact
from backend.products.models import Role
from tests.factories import make_campaign, make_product
from tests.products.fixtures import bank_contract, bearer, live_product, owner_send

API = "/api/business/campaigns"
UNLIMITED = 2**256 - 1


def budget(rpc_url: str, bank: str, campaign) -> tuple[bool, int]:
    contract = bank_contract(rpc_url, bank)
    cid = bytes.fromhex(campaign.chain_campaign_id[2:])
    return (
        contract.functions.isCampaignActive(cid, campaign.token).call(),
        contract.functions.getCampaignBudget(cid, campaign.token).call(),
    )


@pytest.fixture
async def live(api, db_session, rpc_url, reward_token):
    """(product, key, owner, bank, token): a product with a registered token and a bank."""
    return (*await live_product(api, db_session, rpc_url, reward_token), reward_token)


async def test_activate__capped__allocates_the_cap_on_the_bank(api, db_session, rpc_url, live):
    product, key, _, bank, _ = live
    campaign = await make_campaign(
        db_session, product, token=live_token(live), status="draft", budget_cap=10**21
    )

    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "active" and body["budget_allocated_tx"].startswith("0x")
    assert budget(rpc_url, bank, campaign) == (True, 10**21)


async def test_activate__uncapped__allocates_an_unlimited_budget(api, db_session, rpc_url, live):
    product, key, _, bank, _ = live
    campaign = await make_campaign(db_session, product, token=live_token(live), status="draft")
    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))
    assert response.status_code == 200
    assert budget(rpc_url, bank, campaign) == (True, UNLIMITED)


async def test_activate__allocation_already_mined__sends_nothing_new(
    api, db_session, rpc_url, live, chain_settings
):
    product, key, _, bank, _ = live
    campaign = await make_campaign(
        db_session, product, token=live_token(live), status="draft", budget_cap=500
    )
    signer_key = chain_settings.effective_signer_key()
    w3 = connect(rpc_url)
    cid = bytes.fromhex(campaign.chain_campaign_id[2:])
    transact(
        w3, signer_key, "ProductBank", bank, "allocateCampaignBudget", cid, campaign.token, 0, 500
    )
    sender = w3.eth.account.from_key(signer_key).address
    nonce = w3.eth.get_transaction_count(sender)

    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))

    assert response.status_code == 200
    assert response.json()["budget_allocated_tx"] is None
    assert w3.eth.get_transaction_count(sender) == nonce
    assert budget(rpc_url, bank, campaign) == (True, 500)


async def test_pause_then_activate__keeps_the_on_chain_budget(api, db_session, rpc_url, live):
    product, key, _, bank, _ = live
    campaign = await make_campaign(
        db_session, product, token=live_token(live), status="draft", budget_cap=900
    )
    first = (await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))).json()

    paused = await api.post(f"{API}/{campaign.id}/pause", headers=bearer(key))
    resumed = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))

    assert paused.json()["status"] == "paused"
    assert resumed.json()["status"] == "active"
    assert resumed.json()["budget_allocated_tx"] == first["budget_allocated_tx"]
    assert budget(rpc_url, bank, campaign) == (True, 900)


async def test_deactivate__active__deactivates_on_chain(api, db_session, rpc_url, live):
    product, key, _, bank, _ = live
    campaign = await make_campaign(
        db_session, product, token=live_token(live), status="draft", budget_cap=900
    )
    await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))

    response = await api.post(f"{API}/{campaign.id}/deactivate", headers=bearer(key))

    assert response.json()["status"] == "deactivated"
    assert budget(rpc_url, bank, campaign) == (False, 0)


async def test_deactivate__draft__needs_no_transaction(api, db_session, rpc_url, live):
    product, key, _, bank, _ = live
    campaign = await make_campaign(db_session, product, token=live_token(live), status="draft")
    response = await api.post(f"{API}/{campaign.id}/deactivate", headers=bearer(key))
    assert response.status_code == 200 and response.json()["status"] == "deactivated"
    assert budget(rpc_url, bank, campaign) == (False, 0)


async def test_edit_budget_cap__of_an_active_campaign__resizes_it_on_chain(
    api, db_session, rpc_url, live
):
    product, key, _, bank, _ = live
    campaign = await make_campaign(
        db_session, product, token=live_token(live), status="draft", budget_cap=900
    )
    await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))

    response = await api.patch(
        f"{API}/{campaign.id}", json={"budget_cap": "2500"}, headers=bearer(key)
    )

    assert response.status_code == 200
    assert budget(rpc_url, bank, campaign) == (True, 2500)


@pytest.mark.parametrize("system_status", ["budget_exhausted", "expired"])
async def test_activate__from_a_system_status__is_allowed_once_the_cause_is_gone(
    api, db_session, rpc_url, live, system_status
):
    product, key, _, bank, _ = live
    campaign = await make_campaign(
        db_session,
        product,
        token=live_token(live),
        status=system_status,
        budget_cap=100,
        used_budget=40,
    )
    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))
    assert response.status_code == 200, response.text
    assert budget(rpc_url, bank, campaign) == (True, 100)  # nothing pushed yet: the whole cap


async def test_activate__without_a_bank__is_409_bank_required(api, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, status="draft")
    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "bank_required"


async def test_activate__after_ends_at__is_409(api, db_session, live):
    product, key, _, _, _ = live
    ended = datetime.now(UTC) - timedelta(days=1)
    campaign = await make_campaign(
        db_session,
        product,
        token=live_token(live),
        status="draft",
        starts_at=ended - timedelta(days=1),
        ends_at=ended,
    )
    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"


async def test_activate__budget_used_up__is_409(api, db_session, live):
    product, key, _, _, _ = live
    campaign = await make_campaign(
        db_session,
        product,
        token=live_token(live),
        status="budget_exhausted",
        budget_cap=100,
        used_budget=100,
    )
    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))
    assert response.status_code == 409
    assert response.json()["error"]["details"]["field"] == "budget_cap"


async def test_activate__signer_no_longer_manager__is_409_bank_not_managed(
    api, db_session, rpc_url, live
):
    product, key, owner, bank, _ = live
    signer = (
        await api.get(f"/api/business/products/{product.id}/bank", headers=bearer(key))
    ).json()["signer"]
    owner_send(rpc_url, owner, "ProductBank", bank, "revokeRole", MANAGER_ROLE, signer)
    campaign = await make_campaign(db_session, product, token=live_token(live), status="draft")

    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "bank_not_managed"
    assert (await api.get(f"{API}/{campaign.id}", headers=bearer(key))).json()["status"] == "draft"


ACTIONS = {"active": "activate", "paused": "pause", "deactivated": "deactivate"}
ILLEGAL = [
    (current, action)
    for current, allowed in TRANSITIONS.items()
    for target, action in ACTIONS.items()
    if target not in allowed
]


@pytest.mark.parametrize(("current", "action"), ILLEGAL)
async def test_transition__not_allowed__is_409_invalid_transition(api, db_session, current, action):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, status=current)
    response = await api.post(f"{API}/{campaign.id}/{action}", headers=bearer(key))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    assert (await api.get(f"{API}/{campaign.id}", headers=bearer(key))).json()["status"] == current


def test_transitions__every_status_may_be_deactivated_except_deactivated():
    assert all("deactivated" in allowed for s, allowed in TRANSITIONS.items() if s != "deactivated")
    assert TRANSITIONS["deactivated"] == frozenset()


@pytest.mark.parametrize("action", ["activate", "pause", "deactivate"])
async def test_transition__without_campaign_manager_role__is_403(api, db_session, action):
    product, key = await make_product(db_session, roles=Role.INTERACTION_MANAGER)
    campaign = await make_campaign(db_session, product, status="active")
    response = await api.post(f"{API}/{campaign.id}/{action}", headers=bearer(key))
    assert response.status_code == 403


@pytest.mark.parametrize("action", ["activate", "pause", "deactivate"])
async def test_transition__another_products_key__is_404(api, db_session, action):
    product, _ = await make_product(db_session)
    _, other_key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, status="active")
    response = await api.post(f"{API}/{campaign.id}/{action}", headers=bearer(other_key))
    assert response.status_code == 404


def live_token(live) -> str:
    return live[4]


async def test_concurrent_transitions__exactly_one_wins(api, db_session):
    import asyncio

    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, status="active")

    responses = await asyncio.gather(
        *(api.post(f"{API}/{campaign.id}/pause", headers=bearer(key)) for _ in range(5))
    )

    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409]
    assert (await api.get(f"{API}/{campaign.id}", headers=bearer(key))).json()["version"] == 2
