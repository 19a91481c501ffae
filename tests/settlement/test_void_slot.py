"""A void batch's lost push is never sent again: its nonce slot is filled with a cancel."""

from __future__ import annotations

from sqlalchemy import select

from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.signer import push_calldata
from tests.settlement.conftest import PATIENT, Env, push_and_lose


async def test_push__void_batchs_push_lost_again__slot_filled_by_a_cancel_not_resent(
    env: Env, automine: None
):
    lost = await push_and_lose(env)
    env.rpc("evm_increaseTime", [PATIENT.deadline_s + 60])
    env.rpc("evm_mine")  # an empty block past the deadline
    second = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert second.voided == 1
    env.rpc("anvil_dropTransaction", [lost])  # re-sent while the batch was live, lost again

    third = await push_once(env.ctx, options=PATIENT, wait_s=0)

    assert lost not in third.rebroadcast
    txs = await env.transactions()
    nonce = next(tx.account_nonce for tx in txs if tx.tx_hash == lost)
    slot = [tx for tx in txs if tx.account_nonce == nonce]
    assert [tx.kind for tx in slot] == ["push", "cancel"]
    assert slot[1].tx_hash in third.replaced


async def test_push__batch_paid_by_someone_elses_transaction__own_lost_push_not_resent(
    env: Env, automine: None
):
    ours = await push_and_lose(env)
    async with env.ctx.sessions() as session:
        batch = (await session.scalars(select(SettlementBatch))).one()
    # the signed payload is public: another account sends it first
    data = push_calldata(env.bank_contract, batch, None)  # the signed batch
    other = env.w3.eth.accounts[3]
    env.w3.eth.send_transaction({"from": other, "to": env.bank, "data": data, "gas": 500_000})
    env.rpc("evm_mine")
    second = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert second.batches_pushed == 1  # confirmed from the bank's nonce, whoever sent it
    env.rpc("anvil_dropTransaction", [ours])  # re-sent while the batch looked unpaid, lost again

    third = await push_once(env.ctx, options=PATIENT, wait_s=0)

    assert ours not in third.rebroadcast  # the batch is paid: its bytes would only revert
    txs = await env.transactions()
    assert [tx.kind for tx in txs] == ["push", "cancel"]
    assert txs[1].tx_hash in third.replaced
