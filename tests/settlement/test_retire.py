"""Batches that must not pay: refunds in flight, refused funding, revoked keys, refused bytes.

Each test drives the real push cycle against anvil and Postgres and ends with the money
invariants (chain credit == pushed rows, nothing stuck, no nonce gap, reconcile clean).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from eth_utils import keccak
from sqlalchemy import select, update

from backend.campaigns import refunds
from backend.campaigns.models import Campaign
from backend.chain import contract, deploy_contract, send
from backend.core.models import Alert
from backend.products.models import Product
from backend.rewards.models import Reward
from backend.settlement.chain import NONCE_CANCELLED, NONCE_PAID
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.signer import push_calldata
from tests.factories import make_campaign, wallet
from tests.settlement.conftest import FAST, KEY, PATIENT, SIGNER, TOKENS, Env, assert_consistent
from tests.settlement.helpers import SimulatedCrash, crash_at

DISTRIBUTOR_ROLE = keccak(text="DISTRIBUTOR_ROLE")


async def _seed(env: Env, campaign: Campaign, amounts: list[int]) -> tuple[list[str], list[int]]:
    """Rows for fresh wallets; the campaign's used_budget charged for them, as the engine would."""
    wallets = [wallet() for _ in amounts]
    async with env.ctx.sessions() as session:
        ids = await env.add_rewards(session, campaign, list(zip(wallets, amounts, strict=True)))
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(used_budget=Campaign.used_budget + sum(amounts))
        )
        await session.commit()
    return wallets, ids


async def _refund(env: Env, reward_id: int) -> None:
    """The refund path of the order webhook: cancel what the interaction earned."""
    async with env.ctx.sessions() as session:
        interaction_id = await session.scalar(
            select(Reward.interaction_id).where(Reward.id == reward_id)
        )
        assert interaction_id is not None
        await refunds.cancel_interaction_rewards(session, [interaction_id], "order refunded")
        await session.commit()


async def _row(env: Env, reward_id: int) -> Reward:
    async with env.ctx.sessions() as session:
        row = await session.get(Reward, reward_id)
        assert row is not None
        return row


async def _used(env: Env, campaign: Campaign) -> int:
    async with env.ctx.sessions() as session:
        return int(
            await session.scalar(select(Campaign.used_budget).where(Campaign.id == campaign.id))
            or 0
        )


def _nonce_state(env: Env, batch: SettlementBatch) -> int:
    return int(env.bank_contract.functions.nonceState(bytes.fromhex(batch.nonce[2:])).call())


# --- refunds while a batch is in flight ---------------------------------------------------


async def test_refund_while_batched__batch_voided_at_deadline__row_cancelled_budget_released(
    env: Env, automine: None
):
    campaign = env.campaigns[0]
    wallets, ids = await _seed(env, campaign, [2 * TOKENS, 3 * TOKENS, 4 * TOKENS])
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    (stuck,) = first.tx_hashes
    await _refund(env, ids[0])
    assert (await _row(env, ids[0])).status == "batched"  # flagged, not yet cancelled
    env.rpc("anvil_dropTransaction", [stuck])
    env.rpc("evm_increaseTime", [PATIENT.deadline_s + 60])
    env.rpc("evm_mine")  # an empty block past the deadline
    env.rpc("evm_setAutomine", [True])

    report = await push_once(env.ctx, options=FAST)

    assert report.voided == 1
    refunded = await _row(env, ids[0])
    assert refunded.status == "cancelled" and refunded.cancelled_reason == "order refunded"
    assert not refunded.refunded_after_settlement
    assert [(await _row(env, i)).status for i in ids[1:]] == ["pushed", "pushed"]
    assert env.onchain(wallets[0]) == 0
    assert env.onchain(wallets[1]) == 3 * TOKENS and env.onchain(wallets[2]) == 4 * TOKENS
    assert await _used(env, campaign) == 7 * TOKENS  # the refunded 2 came back
    # the void batch's account-nonce slot was filled (its stale push, re-sent, reverted
    # on the deadline), not left as a gap
    slot = [tx for tx in await env.transactions() if tx.batch_id == (await env.batches())[0].id]
    assert [tx.status for tx in slot][-1] == "mined"
    await assert_consistent(env, wallets)


async def test_refund_while_push_in_flight__cancel_replaces_push__refunded_row_never_paid(
    env: Env, automine: None
):
    campaign = env.campaigns[0]
    wallets, ids = await _seed(env, campaign, [2 * TOKENS, 5 * TOKENS])
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    (push_hash,) = first.tx_hashes
    await _refund(env, ids[0])

    second = await push_once(env.ctx, options=PATIENT, wait_s=0)
    (cancel_hash,) = second.tx_hashes
    push_tx, cancel_tx = await env.transactions()
    assert (push_tx.tx_hash, cancel_tx.tx_hash) == (push_hash, cancel_hash)
    assert cancel_tx.kind == "cancel_nonce" and cancel_tx.account_nonce == push_tx.account_nonce
    assert cancel_tx.max_fee_per_gas > push_tx.max_fee_per_gas  # outbids the push
    (batch,) = await env.batches()
    assert batch.status == "cancelling"

    env.rpc("evm_mine")  # the cancel, not the push, takes the slot
    env.rpc("evm_setAutomine", [True])
    await push_once(env.ctx, options=FAST)

    first_batch, second_batch = await env.batches()
    assert _nonce_state(env, first_batch) == NONCE_CANCELLED
    assert (first_batch.status, first_batch.error_code) == ("void", "nonce_cancelled")
    assert second_batch.status == "pushed" and second_batch.total == 5 * TOKENS
    assert (await _row(env, ids[0])).status == "cancelled"
    assert env.onchain(wallets[0]) == 0 and env.onchain(wallets[1]) == 5 * TOKENS
    assert await _used(env, campaign) == 5 * TOKENS
    await assert_consistent(env, wallets)


async def test_refund_while_push_in_flight__push_mines_first__row_paid_and_flagged(
    env: Env, automine: None
):
    campaign = env.campaigns[0]
    wallets, ids = await _seed(env, campaign, [2 * TOKENS, 5 * TOKENS])
    env.rpc("evm_setAutomine", [False])
    await push_once(env.ctx, options=PATIENT, wait_s=0)
    await _refund(env, ids[0])
    env.rpc("evm_mine")  # the push mines before the next cycle could cancel it
    env.rpc("evm_setAutomine", [True])

    report = await push_once(env.ctx, options=FAST)

    assert report.batches_pushed == 1
    paid = await _row(env, ids[0])
    assert paid.status == "pushed" and paid.refunded_after_settlement
    assert env.onchain(wallets[0]) == 2 * TOKENS
    assert await _used(env, campaign) == 7 * TOKENS  # paid: nothing to give back
    await assert_consistent(env, wallets)


# --- funding refused, keys revoked: the signature must die before its rows move -------------


async def test_funding_refused__nonce_cancelled_before_rows_return__old_signature_never_pays(
    env: Env,
):
    campaign = env.campaigns[0]
    env.allocate(campaign, 3 * TOKENS)
    wallets, ids = await _seed(env, campaign, [2 * TOKENS, 2 * TOKENS])

    report = await push_once(env.ctx, options=FAST)

    (batch,) = await env.batches()
    assert (batch.status, report.voided) == ("void", 1)
    assert _nonce_state(env, batch) == NONCE_CANCELLED
    assert {(await _row(env, i)).status for i in ids} == {"pending"}
    async with env.ctx.sessions() as session:
        refreshed = await session.get(Campaign, campaign.id)
        assert refreshed is not None and refreshed.status == "budget_exhausted"
        assert refreshed.chain_refused  # the flag, not the wording, keeps its rows waiting
    # anyone holding the old signed payload: the bank refuses it for good
    data = push_calldata(env.bank_contract, batch, None)  # the signed batch
    with pytest.raises(Exception, match="bank: nonce used"):
        env.w3.eth.call({"from": SIGNER, "to": env.bank, "data": data})

    env.allocate(campaign, 10 * TOKENS)  # the owner raises the on-chain budget
    async with env.ctx.sessions() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == campaign.id).values(status="active")
        )
        await session.commit()
    again = await push_once(env.ctx, options=FAST)
    assert again.rewards_pushed == 2
    assert env.onchain(wallets[0]) == 2 * TOKENS and env.onchain(wallets[1]) == 2 * TOKENS
    await assert_consistent(env, wallets)


async def test_distributor_revoked_and_regranted__old_batch_void__rows_paid_once_under_new_epoch(
    env: Env, automine: None
):
    wallets, _ = await _seed(env, env.campaigns[0], [TOKENS, 2 * TOKENS])
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    env.rpc("anvil_dropTransaction", [first.tx_hashes[0]])
    env.rpc("evm_setAutomine", [True])
    bank = env.bank_contract
    send(env.w3, KEY, bank.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))
    send(env.w3, KEY, bank.functions.grantRole(DISTRIBUTOR_ROLE, SIGNER))
    assert bank.functions.distributorEpoch().call() == 1

    await push_once(env.ctx, options=FAST)

    old, new = await env.batches()
    assert (old.status, old.error_code, old.epoch) == ("void", "signature_revoked", 0)
    assert (new.status, new.epoch) == ("pushed", 1)
    assert _nonce_state(env, old) != NONCE_PAID
    assert env.onchain(wallets[0]) == TOKENS and env.onchain(wallets[1]) == 2 * TOKENS
    await assert_consistent(env, wallets)


# --- the node refuses the stored bytes --------------------------------------------------------


@pytest.fixture
def base_fee_restored(env: Env) -> Iterator[None]:
    """A base-fee spike must not outlive its test (anvil keeps it across snapshot reverts)."""
    before = int(env.w3.eth.get_block("latest")["baseFeePerGas"])
    yield
    env.rpc("anvil_setNextBlockBaseFeePerGas", [hex(before)])
    env.rpc("evm_mine")


async def test_rebroadcast_refused_for_base_fee__fee_bumped_replacement_settles(
    env: Env, automine: None, base_fee_restored: None
):
    wallets, _ = await _seed(env, env.campaigns[0], [TOKENS, 2 * TOKENS])
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    (original_hash,) = first.tx_hashes
    env.rpc("anvil_dropTransaction", [original_hash])
    (original,) = await env.transactions()
    spike = original.max_fee_per_gas * 50
    env.rpc("anvil_setNextBlockBaseFeePerGas", [hex(spike)])
    env.rpc("evm_mine")  # the base fee is now far above what the stored bytes may pay
    refused = env.w3.provider.make_request("eth_sendRawTransaction", ["0x" + original.raw_tx.hex()])
    assert "error" in refused  # the node really refuses the stored bytes

    second = await push_once(env.ctx, options=PATIENT, wait_s=0)

    assert second.rebroadcast == [] and len(second.replaced) == 1
    _, replacement = await env.transactions()
    assert replacement.account_nonce == original.account_nonce and replacement.kind == "push"
    assert replacement.max_fee_per_gas > spike
    env.rpc("evm_mine")
    third = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert third.batches_pushed == 1
    (batch,) = await env.batches()
    assert batch.mined_tx_hash == replacement.tx_hash
    await assert_consistent(env, wallets)


# --- batching and resolution that must not pay twice or pay the wrong campaign -------------


async def test_push__killed_after_broadcast__mined__deadline_passed__ends_pushed_not_void(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    wallets, _ = await _seed(env, env.campaigns[0], [TOKENS, 2 * TOKENS])
    env.rpc("evm_setAutomine", [True])
    crash_at(monkeypatch, "tx_sent")  # broadcast (automine: mined at once), nothing recorded
    with pytest.raises(SimulatedCrash):
        await push_once(env.ctx, options=FAST)
    monkeypatch.undo()
    (sent,) = await env.transactions()
    # anvil's automine mines on its own task after eth_sendRawTransaction returns: wait for it
    receipt = env.w3.eth.wait_for_transaction_receipt(sent.tx_hash, timeout=30, poll_latency=0.05)
    assert receipt["status"] == 1  # the push did pay
    env.rpc("evm_increaseTime", [FAST.deadline_s + 60])
    env.rpc("evm_mine")

    report = await push_once(env.ctx, options=FAST)

    assert (report.voided, report.batches_pushed, report.batches_created) == (0, 1, 0)
    (batch,) = await env.batches()
    assert batch.status == "pushed"
    assert env.onchain(wallets[0]) == TOKENS and env.onchain(wallets[1]) == 2 * TOKENS
    await assert_consistent(env, wallets)


async def test_two_campaigns_one_token__each_onchain_budget_drops_by_its_own_rows(env: Env):
    first, second = env.campaigns
    env.allocate(first, 100 * TOKENS)
    env.allocate(second, 50 * TOKENS)
    shared = wallet()
    only_first, only_second = wallet(), wallet()
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, first, [(shared, 3 * TOKENS), (only_first, 4 * TOKENS)])
        await env.add_rewards(session, second, [(shared, 5 * TOKENS), (only_second, TOKENS)])

    await push_once(env.ctx, options=FAST)

    by_campaign = {b.campaign_id: b for b in await env.batches()}
    assert by_campaign[first.id].total == 7 * TOKENS
    assert by_campaign[second.id].total == 6 * TOKENS
    assert {p["user"] for p in by_campaign[second.id].payload} == {shared, only_second}
    budget = env.bank_contract.functions.getCampaignBudget
    assert budget(bytes.fromhex(first.chain_campaign_id[2:]), env.token).call() == 93 * TOKENS
    assert budget(bytes.fromhex(second.chain_campaign_id[2:]), env.token).call() == 44 * TOKENS
    assert env.onchain(shared) == 8 * TOKENS
    await assert_consistent(env, [shared, only_first, only_second])


async def test_build__one_group_cannot_be_signed__other_groups_still_settle(env: Env):
    broken, healthy = env.campaigns
    whale = wallet()
    async with env.ctx.sessions() as session:
        # two rows whose sum for one wallet overflows uint256: this group can never be signed
        await env.add_rewards(session, broken, [(whale, 2**255), (whale, 2**255)])
    wallets, _ = await _seed(env, healthy, [TOKENS, 2 * TOKENS])

    report = await push_once(env.ctx, options=FAST)

    assert report.rewards_pushed == 2
    assert any(str(broken.id) in error for error in report.errors)
    assert env.onchain(wallets[0]) == TOKENS and env.onchain(wallets[1]) == 2 * TOKENS
    async with env.ctx.sessions() as session:
        statuses = set(
            (
                await session.scalars(select(Reward.status).where(Reward.campaign_id == broken.id))
            ).all()
        )
        assert statuses == {"pending"}
        alert = await session.scalar(select(Alert).where(Alert.code == "settlement_group_failed"))
        assert alert is not None and alert.resolved_at is None


async def test_token_refuses_transfers__campaign_waits_with_alert__pays_once_token_resumes(
    env: Env,
):
    token = deploy_contract(env.w3, KEY, "FalseReturnToken", "Paused", "PSD", 18)
    erc20 = contract(env.w3, "FalseReturnToken", token)
    send(env.w3, KEY, erc20.functions.mint(SIGNER, 10 * TOKENS))
    send(env.w3, KEY, erc20.functions.approve(env.bank, 10 * TOKENS))
    send(env.w3, KEY, env.bank_contract.functions.deposit(token, 10 * TOKENS))
    async with env.ctx.sessions() as session:
        product = await session.get(Product, env.product.id)
        assert product is not None
        campaign = await make_campaign(session, product, token=token, id=uuid.uuid4())
    cid = bytes.fromhex(campaign.chain_campaign_id[2:])
    send(env.w3, KEY, env.bank_contract.functions.allocateCampaignBudget(cid, token, 0, 2**256 - 1))
    user = wallet()
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, campaign, [(user, 3 * TOKENS)])
        await session.execute(
            update(Reward).where(Reward.campaign_id == campaign.id).values(token=token)
        )
        await session.commit()
    send(env.w3, KEY, erc20.functions.setPaused(True))

    report = await push_once(env.ctx, options=FAST)

    assert report.voided == 1 and report.batches_pushed == 0  # its nonce cancelled first
    async with env.ctx.sessions() as session:
        refreshed = await session.get(Campaign, campaign.id)
        assert refreshed is not None and refreshed.status == "budget_exhausted"
        assert "approve failed" in (refreshed.status_reason or "")  # the paused token
        codes = (await session.scalars(select(Alert.code))).all()
        assert "token_transfer_refused_onchain" in codes
        status = await session.scalar(select(Reward.status).where(Reward.wallet == user))
        assert status == "pending"

    send(env.w3, KEY, erc20.functions.setPaused(False))
    async with env.ctx.sessions() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == campaign.id).values(status="active")
        )
        await session.commit()
    again = await push_once(env.ctx, options=FAST)
    assert again.rewards_pushed == 1
    assert env.push_pull.functions.getPendingAmount(token, user).call() == 3 * TOKENS
