"""Stuck, dropped and reorged transactions: the batch settles once, on whichever hash mined."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.chain import send
from backend.rewards.models import Reward
from backend.settlement.chain import DISTRIBUTOR_ROLE
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.options import load_options
from backend.settlement.transactions import _bump
from tests.factories import wallet
from tests.settlement.conftest import FAST, KEY, PATIENT, SIGNER, TOKENS, Env, assert_consistent
from tests.settlement.helpers import SimulatedCrash, crash_at

EAGER = load_options(replace_after_s=0, retry_base_s=0)


async def _one_batch(env: Env) -> list[str]:
    wallets = [wallet() for _ in range(3)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(w, 2 * TOKENS) for w in wallets])
    return wallets


async def _batch(env: Env) -> SettlementBatch:
    async with env.ctx.sessions() as session:
        query = select(SettlementBatch).order_by(SettlementBatch.created_at.desc()).limit(1)
        return (await session.scalars(query)).one()


async def test_push__stuck_transaction__replaced_with_bumped_fees_and_settles_on_replacement(
    env: Env, automine: None
):
    wallets = await _one_batch(env)
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert len(first.tx_hashes) == 1 and first.batches_pushed == 0

    second = await push_once(env.ctx, options=EAGER, wait_s=0)
    assert len(second.replaced) == 1
    original, replacement = await env.transactions()
    assert replacement.account_nonce == original.account_nonce
    assert replacement.max_fee_per_gas * 1000 >= original.max_fee_per_gas * 1125
    assert replacement.max_priority_fee_per_gas * 1000 >= original.max_priority_fee_per_gas * 1125

    env.rpc("evm_mine")
    third = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert third.batches_pushed == 1
    batch = await _batch(env)
    assert batch.mined_tx_hash == replacement.tx_hash
    statuses = {tx.tx_hash: tx.status for tx in await env.transactions()}
    assert statuses == {original.tx_hash: "replaced", replacement.tx_hash: "mined"}
    await assert_consistent(env, wallets)


async def test_push__replacement_never_broadcast__settles_on_original(
    env: Env, automine: None, monkeypatch: pytest.MonkeyPatch
):
    wallets = await _one_batch(env)
    env.rpc("evm_setAutomine", [False])
    await push_once(env.ctx, options=PATIENT, wait_s=0)
    crash_at(monkeypatch, "tx_stored")  # the replacement is stored, then the process dies
    with pytest.raises(SimulatedCrash):
        await push_once(env.ctx, options=EAGER, wait_s=0)
    monkeypatch.undo()
    original, replacement = await env.transactions()

    env.rpc("evm_mine")  # the node only ever saw the original
    report = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert report.batches_pushed == 1
    assert (await _batch(env)).mined_tx_hash == original.tx_hash
    statuses = {tx.tx_hash: tx.status for tx in await env.transactions()}
    assert statuses == {original.tx_hash: "mined", replacement.tx_hash: "replaced"}
    await assert_consistent(env, wallets)


async def test_push__dropped_transaction__rebroadcast_with_the_same_bytes(env: Env, automine: None):
    wallets = await _one_batch(env)
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    (tx_hash,) = first.tx_hashes
    env.rpc("anvil_dropTransaction", [tx_hash])
    assert env.rpc("eth_getTransactionByHash", [tx_hash]) is None

    second = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert second.rebroadcast == [tx_hash]
    assert env.rpc("eth_getTransactionByHash", [tx_hash]) is not None
    (stored,) = await env.transactions()
    assert stored.tx_hash == tx_hash  # same raw bytes, hence the same hash

    env.rpc("evm_mine")
    third = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert third.batches_pushed == 1
    assert (await _batch(env)).mined_tx_hash == tx_hash
    await assert_consistent(env, wallets)


async def test_push__reorg_removes_confirmed_push__resubmitted_and_settled_once(env: Env):
    wallets = await _one_batch(env)
    first = await push_once(env.ctx, options=FAST)
    assert first.batches_pushed == 1
    pushed = await _batch(env)
    assert env.onchain(wallets[0]) == 2 * TOKENS

    env.rpc("anvil_reorg", [1, []])  # the push's block is replaced by an empty one
    assert env.onchain(wallets[0]) == 0

    second = await push_once(env.ctx, options=FAST)
    assert second.reorged == 1
    assert second.rebroadcast == [pushed.mined_tx_hash]  # the same payload, the same bytes
    again = await _batch(env)
    assert again.status == "pushed" and again.id == pushed.id
    assert again.block_hash != pushed.block_hash
    assert env.onchain(wallets[0]) == 2 * TOKENS
    await assert_consistent(env, wallets)


async def test_push__reorg_takes_key_rotation_and_push__nonce_gap_filled_and_settled_once(
    env: Env,
):
    """The signer's key also sends what settlement never stores (here the owner's key
    rotation); a reorg that takes it and our later push away leaves a nonce gap below the
    push. The node holds everything above a gap back for good: the gap is filled with
    self-transfers, the batch (signed for an epoch the chain no longer reached) is
    cancelled, and its rows settle once under a new batch."""
    wallets = await _one_batch(env)
    bank = env.bank_contract.functions
    before = env.w3.eth.get_transaction_count(SIGNER)
    send(env.w3, KEY, bank.revokeRole(DISTRIBUTOR_ROLE, SIGNER))  # two account nonces
    send(env.w3, KEY, bank.grantRole(DISTRIBUTOR_ROLE, SIGNER))  # settlement never stored
    first = await push_once(env.ctx, options=FAST)
    assert first.batches_pushed == 1
    (push,) = await env.transactions()
    assert push.account_nonce == before + 2

    env.rpc("anvil_reorg", [3, []])  # rotation and push leave the chain, nothing re-sent
    assert env.w3.eth.get_transaction_count(SIGNER) == before
    for _ in range(4):
        await push_once(env.ctx, options=FAST)
        env.rpc("evm_mine")

    async with env.ctx.sessions() as session:
        batches = (await session.scalars(select(SettlementBatch.status))).all()
    assert sorted(batches) == ["pushed", "void"]  # before the fix: stuck in cancelling
    await assert_consistent(env, wallets)  # no gap left, nothing unsettled, paid once
    fillers = [tx for tx in await env.transactions() if tx.kind == "cancel"]
    assert sorted(tx.account_nonce for tx in fillers) == [before, before + 1]
    assert {(tx.batch_id, tx.relay_id, tx.status) for tx in fillers} == {(None, None, "mined")}


async def test_push__deadline_passed_with_stuck_tx__void_cancelled_and_rebatched(
    env: Env, automine: None
):
    wallets = await _one_batch(env)
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    (stuck,) = first.tx_hashes
    env.rpc("anvil_dropTransaction", [stuck])
    env.rpc("evm_increaseTime", [PATIENT.deadline_s + 60])
    env.rpc("evm_mine")  # an empty block past the deadline

    second = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert second.voided == 1
    assert second.rebroadcast == [stuck]  # the slot stays open: its nonce must be used
    assert second.batches_created == 1  # the rows, back in pending, under a new nonce

    third = await push_once(env.ctx, options=EAGER, wait_s=0)
    txs = await env.transactions()
    stuck_nonce = next(tx.account_nonce for tx in txs if tx.tx_hash == stuck)
    slot = [tx for tx in txs if tx.account_nonce == stuck_nonce]
    assert [tx.kind for tx in slot] == ["push", "cancel"]  # the void batch's nonce is burnt
    assert slot[1].tx_hash in third.replaced

    env.rpc("evm_mine")
    await push_once(env.ctx, options=PATIENT, wait_s=0)
    async with env.ctx.sessions() as session:
        statuses = sorted((await session.scalars(select(SettlementBatch.status))).all())
        assert statuses == ["pushed", "void"]
        assert set((await session.scalars(select(Reward.status))).all()) == {"pushed"}
    statuses_by_kind = {
        (tx.kind, tx.status) for tx in await env.transactions() if tx.account_nonce == stuck_nonce
    }
    assert ("cancel", "mined") in statuses_by_kind
    await assert_consistent(env, wallets)


@pytest.mark.parametrize(("fee", "bumped"), [(0, 1), (1, 2), (7, 8), (10**9, 1_125_000_000)])
def test_fee_bump__always_strictly_higher_by_at_least_the_bump(fee, bumped):
    assert _bump(fee, 1_250) == bumped
