"""Bundles: the batches of several banks in one ProductBankFactory.pushMany.

Each test drives the real push cycle against anvil and Postgres and ends with the money
invariants (chain credit == pushed rows, nothing stuck, no nonce gap, reconcile clean).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from backend.campaigns import refunds
from backend.campaigns.models import Campaign
from backend.rewards.models import Reward
from backend.settlement.chain import NONCE_CANCELLED, ChainReader
from backend.settlement.job import push_once
from backend.settlement.models import SettlementTransactionBatch as TxBatch
from tests.factories import wallet
from tests.settlement.conftest import FAST, PATIENT, TOKENS, Env, another_bank, assert_consistent
from tests.settlement.helpers import SimulatedCrash, crash_at


async def _links(env: Env, tx_id: int) -> set[str]:
    async with env.ctx.sessions() as session:
        query = select(TxBatch.batch_id).where(TxBatch.tx_id == tx_id)
        return {str(batch_id) for batch_id in await session.scalars(query)}


async def _statuses(env: Env) -> dict[str, int]:
    async with env.ctx.sessions() as session:
        rows = (await session.scalars(select(Reward.status))).all()
    return {status: rows.count(status) for status in set(rows)}


async def test_push__batches_of_three_banks__one_transaction_pays_them_all(env: Env):
    second, third = await another_bank(env), await another_bank(env)
    paid: dict[str, int] = {}
    async with env.ctx.sessions() as session:
        for each, amount in ((env, 3), (second, 5), (third, 7)):
            user = wallet()
            await each.add_rewards(session, each.campaigns[0], [(user, amount * TOKENS)])
            paid[user] = amount * TOKENS

    report = await push_once(env.ctx, options=FAST)

    assert report.batches_pushed == 3 and len(report.tx_hashes) == 1
    assert {user: env.onchain(user) for user in paid} == paid
    (tx,) = await env.transactions()
    assert (tx.kind, tx.batch_id, tx.status) == ("push_many", None, "mined")
    batches = await env.batches()
    assert await _links(env, tx.id) == {str(batch.id) for batch in batches}
    assert {batch.bank_address for batch in batches} == {env.bank, second.bank, third.bank}
    assert {batch.mined_tx_hash for batch in batches} == {tx.tx_hash}
    # the transaction's gas, shared by its batches (what the reports and metrics add up)
    receipt = env.w3.eth.get_transaction_receipt(tx.tx_hash)
    assert sum(batch.gas_used or 0 for batch in batches) == receipt["gasUsed"]
    assert receipt["to"] == env.core["bank_factory"]
    await assert_consistent(env, paid)


async def test_push__a_batch_refused_inside_the_bundle__others_pay__its_nonce_cancelled(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    second = await another_bank(env)
    monkeypatch.setattr(env.ctx.settings, "batch_size", 1)
    campaign = env.campaigns[0]
    env.allocate(campaign, TOKENS)  # room for one of its two batches
    users = [wallet() for _ in range(3)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, campaign, [(users[0], TOKENS), (users[1], TOKENS)])
        await second.add_rewards(session, second.campaigns[0], [(users[2], 2 * TOKENS)])

    # Each batch simulates alone within the budget; in the bundle the later one of the
    # campaign finds it spent. The bundle pays the others, and the same cycle cancels
    # the refused batch's nonce before its row goes back to pending.
    report = await push_once(env.ctx, options=FAST)

    assert report.batches_created == 3
    assert report.batches_pushed == 2 and report.voided == 1
    bundle, cancel = await env.transactions()
    assert (bundle.kind, cancel.kind) == ("push_many", "cancel_nonce")
    assert await _statuses(env) == {"pushed": 2, "pending": 1}
    assert env.onchain(users[2]) == 2 * TOKENS
    assert sorted([env.onchain(users[0]), env.onchain(users[1])]) == [0, TOKENS]
    refused = next(batch for batch in await env.batches() if batch.status == "void")
    assert refused.error_code == "budget_exceeded"
    nonce = bytes.fromhex(refused.nonce[2:])
    assert env.bank_contract.functions.nonceState(nonce).call() == NONCE_CANCELLED
    async with env.ctx.sessions() as session:
        status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign.id))
    assert status == "budget_exhausted"
    await assert_consistent(env, users)


async def test_push__killed_after_storing_a_bundle__restart_sends_the_same_bytes(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    second = await another_bank(env)
    users = [wallet(), wallet()]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(users[0], TOKENS)])
        await second.add_rewards(session, second.campaigns[0], [(users[1], TOKENS)])
    crash_at(monkeypatch, "tx_stored")
    with pytest.raises(SimulatedCrash):
        await push_once(env.ctx, options=FAST)
    (stored,) = await env.transactions()
    assert stored.kind == "push_many"
    assert {batch.status for batch in await env.batches()} == {"submitted"}
    monkeypatch.undo()

    report = await push_once(env.ctx, options=FAST)

    assert report.batches_pushed == 2
    (mined,) = await env.transactions()
    assert (mined.tx_hash, mined.status) == (stored.tx_hash, "mined")
    assert env.onchain(users[0]) == env.onchain(users[1]) == TOKENS
    await assert_consistent(env, users)


async def test_refund_while_a_bundle_is_in_flight__cancel_takes_its_slot__the_other_batch_pays(
    env: Env, automine: None
):
    users = [wallet(), wallet()]
    async with env.ctx.sessions() as session:
        ids = await env.add_rewards(session, env.campaigns[0], [(users[0], 2 * TOKENS)])
        await env.add_rewards(session, env.campaigns[1], [(users[1], 5 * TOKENS)])
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert len(first.tx_hashes) == 1  # both campaigns' batches in one pushMany
    async with env.ctx.sessions() as session:
        interaction_id = await session.scalar(
            select(Reward.interaction_id).where(Reward.id == ids[0])
        )
        await refunds.cancel_interaction_rewards(session, [interaction_id], "order refunded")
        await session.commit()

    second = await push_once(env.ctx, options=PATIENT, wait_s=0)

    # the refunded batch's cancelNonces outbids the bundle in its account-nonce slot
    (cancel_hash,) = second.tx_hashes
    bundle, cancel = await env.transactions()
    assert (bundle.kind, cancel.kind) == ("push_many", "cancel_nonce")
    assert cancel.account_nonce == bundle.account_nonce and cancel.tx_hash == cancel_hash
    refunded = next(b for b in await env.batches() if b.campaign_id == env.campaigns[0].id)
    assert cancel.batch_id == refunded.id
    env.rpc("evm_mine")  # the cancel takes the slot: the bundle never mines
    env.rpc("evm_setAutomine", [True])

    await push_once(env.ctx, options=FAST)

    by_campaign = {batch.campaign_id: batch for batch in await env.batches()}
    refunded, other = (by_campaign[campaign.id] for campaign in env.campaigns)
    assert (refunded.status, refunded.error_code) == ("void", "nonce_cancelled")
    assert other.status == "pushed"  # unpaid when its bundle lost the slot: sent again
    assert env.onchain(users[0]) == 0 and env.onchain(users[1]) == 5 * TOKENS
    kinds = [tx.kind for tx in await env.transactions()]
    assert kinds == ["push_many", "cancel_nonce", "push"]
    await assert_consistent(env, users)


async def test_push__void_bundle_lost_again__slot_filled_by_a_cancel_that_lists_its_batches(
    env: Env, automine: None
):
    second = await another_bank(env)
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), TOKENS)])
        await second.add_rewards(session, second.campaigns[0], [(wallet(), TOKENS)])
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    (lost,) = first.tx_hashes
    env.rpc("anvil_dropTransaction", [lost])
    env.rpc("evm_increaseTime", [PATIENT.deadline_s + 60])
    env.rpc("evm_mine")  # an empty block past both deadlines
    voiding = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert voiding.voided == 2
    env.rpc("anvil_dropTransaction", [lost])  # re-sent while its batches were live, lost again

    third = await push_once(env.ctx, options=PATIENT, wait_s=0)

    assert lost not in third.rebroadcast
    txs = await env.transactions()
    nonce = next(tx.account_nonce for tx in txs if tx.tx_hash == lost)
    bundle, cancel = [tx for tx in txs if tx.account_nonce == nonce]
    assert (bundle.tx_hash, bundle.kind, cancel.kind) == (lost, "push_many", "cancel")
    assert cancel.tx_hash in third.replaced
    assert await _links(env, cancel.id) == await _links(env, bundle.id)
    env.rpc("evm_mine")  # the cancel fills the slot; the rows' new batches pay after it
    env.rpc("evm_setAutomine", [True])
    await push_once(env.ctx, options=FAST)
    slot = [tx.status for tx in await env.transactions() if tx.account_nonce == nonce]
    assert slot == ["replaced", "mined"]
    assert await _statuses(env) == {"pushed": 2}
    await assert_consistent(env, [])


async def test_push__a_cycle_reads_each_recent_block_once_across_its_heal_passes(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    second = await another_bank(env)
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), TOKENS)])
    await push_once(env.ctx, options=FAST)  # pushed: its block is in the reorg window now
    env.rpc("evm_mine")  # so that block is not the head the new batch is checked at
    async with env.ctx.sessions() as session:
        await second.add_rewards(session, second.campaigns[0], [(wallet(), 2 * TOKENS)])
    reads: Counter[int | str] = Counter()
    original = ChainReader.block

    async def block(self: ChainReader, number: int | str) -> Any:
        reads[number] += 1
        return await original(self, number)

    monkeypatch.setattr(ChainReader, "block", block)

    report = await push_once(env.ctx, options=FAST)  # heals, sends, waits, heals again

    assert report.batches_pushed == 1
    (first,) = [b for b in await env.batches() if b.bank_address == env.bank]
    assert first.block_number is not None and first.status == "pushed"
    assert reads[first.block_number] == 1


async def test_push__head_and_deadline_blocks_read_once_per_pass_whatever_the_batches(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    banks = [env, await another_bank(env), await another_bank(env)]
    heads: list[int] = []
    original = ChainReader.head

    async def head(self: ChainReader) -> int:
        value = await original(self)
        heads.append(value)
        return value

    monkeypatch.setattr(ChainReader, "head", head)

    async def cycle(rewards: int) -> tuple[int, int]:
        async with env.ctx.sessions() as session:
            for index in range(rewards):
                each = banks[index % 3]
                campaign = each.campaigns[index // 3 % len(each.campaigns)]
                await each.add_rewards(session, campaign, [(wallet(), TOKENS)])
        heads.clear()
        report = await push_once(env.ctx, options=FAST)
        assert report.rewards_pushed == rewards
        return report.batches_pushed, len(heads)

    (one_batch, heads_for_one), (batches, heads_for_many) = await cycle(1), await cycle(6)
    assert (one_batch, batches >= 4) == (1, True)
    assert heads_for_many == heads_for_one  # one per resolution pass and heal, not per batch
