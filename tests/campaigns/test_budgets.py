"""Campaign budgets on the bank: compare-and-set writes, cap edits with batches in flight."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from eth_account import Account
from sqlalchemy import insert, update

from backend.campaigns import budgets
from backend.chain.client import connect, contract, send
from backend.chain.nonces import sender_lock
from backend.core.locks import advisory_lock
from backend.interactions.models import Interaction
from backend.products.chain import signer_address, transact
from backend.rewards.models import Reward
from backend.settlement import eip712
from backend.settlement.models import SettlementBatch
from backend.settlement.signer import Signer
from tests.factories import make_campaign, wallet
from tests.products.fixtures import bank_contract, bearer, live_product, owner_send

API = "/api/business/campaigns"
UNLIMITED = 2**256 - 1


def budget(rpc_url: str, bank: str, campaign) -> tuple[bool, int]:
    """(isCampaignActive, getCampaignBudget) as the bank answers now."""
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


async def _active(api, db_session, live, cap: int):
    product, key, _, _, token = live
    campaign = await make_campaign(db_session, product, token=token, status="draft", budget_cap=cap)
    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))
    assert response.status_code == 200, response.text
    return campaign


async def _batch_in_flight(
    db_session, chain_settings, rpc_url, live, campaign, amount: int, *, paid: bool
):
    """A signed batch of `amount`, its rows `batched`; if `paid`, mined but not yet confirmed."""
    product, _, _, bank, token = live
    user = wallet()
    signer = Signer(Account.from_key(chain_settings.effective_signer_key()))
    w3 = connect(rpc_url)
    signed = signer.sign_batch(
        chain_id=w3.eth.chain_id,
        bank=bank,
        chain_campaign_id=campaign.chain_campaign_id,
        token=token,
        rewards=[(user, amount)],
        deadline=w3.eth.get_block("latest")["timestamp"] + 3600,
    )
    batch_id = uuid.uuid4()
    db_session.add(
        SettlementBatch(
            id=batch_id,
            product_id=product.id,
            bank_address=bank,
            campaign_id=campaign.id,
            chain_campaign_id=campaign.chain_campaign_id,
            chain_id=w3.eth.chain_id,
            token=token,
            nonce=signed.nonce,
            deadline=signed.deadline,
            signature=signed.signature,
            payload=signed.payload,
            total=amount,
            reward_count=1,
            status="submitted" if paid else "signed",
        )
    )
    await db_session.flush()
    interaction_id = await db_session.scalar(
        insert(Interaction)
        .values(product_id=product.id, wallet=user, type="purchase.completed", source="cli")
        .returning(Interaction.id)
    )
    db_session.add(
        Reward(
            product_id=product.id,
            campaign_id=campaign.id,
            interaction_id=interaction_id,
            wallet=user,
            level=0,
            token=token,
            amount=amount,
            status="batched",
            batch_id=batch_id,
        )
    )
    await db_session.commit()
    if not paid:
        return
    key = chain_settings.effective_signer_key()
    send(w3, key, contract(w3, "MockERC20", token).functions.mint(bank, amount))
    bank_contract = contract(w3, "ProductBank", bank)
    send(
        w3,
        key,
        bank_contract.functions.pushRewards(
            bytes.fromhex(campaign.chain_campaign_id[2:]),
            token,
            eip712.reward_words([(user, amount)]),
            bytes.fromhex(signed.nonce[2:]),
            signed.deadline,
            bytes.fromhex(signed.signature[2:]),
        ),
    )


async def test_edit_cap__batch_paid_but_unconfirmed__bank_moves_by_the_delta(
    api, db_session, rpc_url, live, chain_settings
):
    _, key, _, bank, _ = live
    campaign = await _active(api, db_session, live, 900)
    await _batch_in_flight(db_session, chain_settings, rpc_url, live, campaign, 300, paid=True)
    await _batch_in_flight(db_session, chain_settings, rpc_url, live, campaign, 200, paid=False)
    assert budget(rpc_url, bank, campaign) == (True, 600)

    response = await api.patch(
        f"{API}/{campaign.id}", json={"budget_cap": "1200"}, headers=bearer(key)
    )

    assert response.status_code == 200, response.text
    # 1200 of cap, 300 already paid on-chain: 900 left, of which the batch not yet
    # sent will take 200. Not 1200 (the database's pushed sum does not know the paid
    # batch yet), nor 700 (the unsent one counted as paid).
    assert budget(rpc_url, bank, campaign) == (True, 900)


async def test_edit_cap__retried_after_its_allocation_mined__sends_nothing(
    api, db_session, rpc_url, live, chain_settings
):
    _, key, _, bank, _ = live
    campaign = await _active(api, db_session, live, 900)
    # A first attempt's transaction mined, then the process died before its commit.
    signer_key = chain_settings.effective_signer_key()
    w3 = connect(rpc_url)
    cid = bytes.fromhex(campaign.chain_campaign_id[2:])
    transact(
        w3,
        signer_key,
        "ProductBank",
        bank,
        "allocateCampaignBudget",
        cid,
        campaign.token,
        900,
        2500,
    )
    sender = w3.eth.account.from_key(signer_key).address
    nonce = w3.eth.get_transaction_count(sender)

    response = await api.patch(
        f"{API}/{campaign.id}", json={"budget_cap": "2500"}, headers=bearer(key)
    )

    assert response.status_code == 200, response.text
    assert budget(rpc_url, bank, campaign) == (True, 2500)  # not 2500 + 1600
    assert w3.eth.get_transaction_count(sender) == nonce


async def test_edit_cap__to_unlimited_and_back(api, db_session, rpc_url, live):
    _, key, _, bank, _ = live
    campaign = await _active(api, db_session, live, 900)

    uncapped = await api.patch(
        f"{API}/{campaign.id}", json={"budget_cap": "0"}, headers=bearer(key)
    )
    assert uncapped.status_code == 200, uncapped.text
    assert budget(rpc_url, bank, campaign) == (True, UNLIMITED)

    capped = await api.patch(
        f"{API}/{campaign.id}", json={"budget_cap": "400"}, headers=bearer(key)
    )
    assert capped.status_code == 200, capped.text
    assert budget(rpc_url, bank, campaign) == (True, 400)


async def test_allocate__budget_changed_meanwhile__retried_from_a_fresh_read(
    api, db_session, rpc_url, live, chain_context
):
    _, _, owner, bank, _ = live
    campaign = await _active(api, db_session, live, 900)
    signer = signer_address(chain_context)
    lock = sender_lock(connect(rpc_url).eth.chain_id, signer)
    cid = bytes.fromhex(campaign.chain_campaign_id[2:])

    async with advisory_lock(chain_context.engine, lock):
        task = asyncio.create_task(budgets.allocate(chain_context, bank, campaign, 5000))
        await asyncio.sleep(1.0)  # it has read 900 and waits for the signer
        assert not task.done()
        # The owner changes the budget meanwhile: the write naming 900 must not land.
        owner_send(
            rpc_url,
            owner,
            "ProductBank",
            bank,
            "allocateCampaignBudget",
            cid,
            campaign.token,
            900,
            700,
        )
    tx_hash = await asyncio.wait_for(task, 60)

    assert tx_hash is not None
    assert budget(rpc_url, bank, campaign) == (True, 5000)


async def test_edit_cap__down_to_what_was_paid__bank_allows_nothing_more(
    api, db_session, rpc_url, live, chain_settings
):
    _, key, _, bank, _ = live
    campaign = await _active(api, db_session, live, 1000)
    await _batch_in_flight(db_session, chain_settings, rpc_url, live, campaign, 900, paid=True)
    await db_session.execute(  # the push job confirmed it
        update(Reward).where(Reward.campaign_id == campaign.id).values(status="pushed")
    )
    await db_session.execute(
        update(SettlementBatch)
        .where(SettlementBatch.campaign_id == campaign.id)
        .values(status="pushed")
    )
    await db_session.commit()
    assert budget(rpc_url, bank, campaign) == (True, 100)

    response = await api.patch(
        f"{API}/{campaign.id}", json={"budget_cap": "900"}, headers=bearer(key)
    )

    assert response.status_code == 200, response.text
    assert budget(rpc_url, bank, campaign) == (True, 0)  # the cap is spent: not one unit more


async def test_edit_cap__uncapped_with_a_batch_in_flight__the_cap_counts_it_as_paid(
    api, db_session, rpc_url, live, chain_settings
):
    _, key, _, bank, _ = live
    campaign = await _active(api, db_session, live, 0)
    assert budget(rpc_url, bank, campaign) == (True, UNLIMITED)
    await _batch_in_flight(db_session, chain_settings, rpc_url, live, campaign, 200, paid=False)

    response = await api.patch(
        f"{API}/{campaign.id}", json={"budget_cap": "1000"}, headers=bearer(key)
    )

    assert response.status_code == 200, response.text
    # the unsent batch may still land: the bank allows the cap less it, never the whole cap
    assert budget(rpc_url, bank, campaign) == (True, 800)


async def test_deactivate__draft_never_allocated__no_transaction_sent(
    api, db_session, rpc_url, live, chain_settings
):
    product, key, _, bank, token = live
    campaign = await make_campaign(db_session, product, token=token, status="draft", budget_cap=9)
    w3 = connect(rpc_url)
    sender = w3.eth.account.from_key(chain_settings.effective_signer_key()).address
    nonce = w3.eth.get_transaction_count(sender)

    response = await api.post(f"{API}/{campaign.id}/deactivate", headers=bearer(key))

    assert response.status_code == 200 and response.json()["status"] == "deactivated"
    assert w3.eth.get_transaction_count(sender) == nonce  # nothing to revoke on the bank
    assert budget(rpc_url, bank, campaign) == (False, 0)
