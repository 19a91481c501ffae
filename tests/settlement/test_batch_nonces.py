"""Batch nonces: salt << 128 | sequence per bank, so a bank's pushes share nonce words."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, select

from backend.chain import send
from backend.core.context import AppContext
from backend.rewards.models import Reward
from backend.settlement import eip712
from backend.settlement.batch_nonces import next_batch_nonce
from backend.settlement.chain import NONCE_PAID
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch, SettlementNonceCounter
from tests.factories import wallet
from tests.settlement.conftest import FAST, KEY, Env, assert_consistent
from tests.settlement.helpers import SimulatedCrash, crash_at

BANK, OTHER_BANK = "0x" + "ab" * 20, "0x" + "cd" * 20
LOW_HALF = 2**128 - 1


def split(nonce: bytes) -> tuple[int, int]:
    number = int.from_bytes(nonce, "big")
    return number >> 128, number & LOW_HALF


async def test_push_once__two_batches_of_one_bank__consecutive_nonces_of_one_salt(env: Env):
    wallets = [wallet() for _ in range(4)]
    async with env.ctx.sessions() as session:
        for campaign, pair in zip(env.campaigns, (wallets[:2], wallets[2:]), strict=True):
            await env.add_rewards(session, campaign, [(pair[0], 5), (pair[1], 7)])

    # each batch alone, so each pays its own nonce write (bundled, they share the gas)
    report = await push_once(env.ctx, options=FAST.model_copy(update={"bundle_gas": 0}))

    assert report.batches_created == 2 and report.batches_pushed == 2
    async with env.ctx.sessions() as session:
        batches = (await session.scalars(select(SettlementBatch))).all()
        counter = (await session.scalars(select(SettlementNonceCounter))).one()
    parts = sorted(split(bytes.fromhex(batch.nonce[2:])) for batch in batches)
    assert parts == [(counter.salt, 0), (counter.salt, 1)]
    assert (counter.chain_id, counter.bank, counter.last_sequence) == (31337, env.bank, 1)
    for batch in batches:
        state = env.bank_contract.functions.nonceState(bytes.fromhex(batch.nonce[2:])).call()
        assert state == NONCE_PAID
    # One push set the nonce word, the other rewrote it: ~17,100 gas apart (same shape).
    gas = sorted(batch.gas_used or 0 for batch in batches)
    assert gas[1] - gas[0] >= 15_000
    await assert_consistent(env, wallets)


async def test_next_batch_nonce__a_new_counter_row__draws_a_new_salt(clean_db: AppContext):
    async with clean_db.sessions() as session:
        first = [await next_batch_nonce(session, 31337, BANK) for _ in range(3)]
        other = await next_batch_nonce(session, 31337, OTHER_BANK)
        elsewhere = await next_batch_nonce(session, 10, BANK)
        await session.commit()
    salt = split(first[0])[0]
    assert [split(n) for n in first] == [(salt, 0), (salt, 1), (salt, 2)]
    # every counter row draws its own salt: other banks and chains never share nonces
    assert split(other)[1] == 0 and split(other)[0] != salt
    assert split(elsewhere)[1] == 0 and split(elsewhere)[0] not in (salt, split(other)[0])

    async with clean_db.sessions() as session:  # what an operator does after a restore
        await session.execute(delete(SettlementNonceCounter))
        await session.commit()
    async with clean_db.sessions() as session:
        again = await next_batch_nonce(session, 31337, BANK)
        await session.commit()

    assert split(again)[1] == 0
    assert split(again)[0] != salt
    assert again not in first


async def test_next_batch_nonce__rolled_back__the_number_is_handed_out_again(
    clean_db: AppContext,
):
    async with clean_db.sessions() as session:
        kept = await next_batch_nonce(session, 31337, BANK)
        await session.commit()
    async with clean_db.sessions() as session:
        lost = await next_batch_nonce(session, 31337, BANK)
        await session.rollback()  # the batch failed before its commit: never stored nor sent
    async with clean_db.sessions() as session:
        reused = await next_batch_nonce(session, 31337, BANK)
        await session.commit()

    assert split(lost) == (split(kept)[0], 1)
    assert reused == lost


async def test_resolve__our_nonce_paid_by_another_batch__void_and_rows_paid_afresh(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    """A reused nonce (a restored database kept its salt) never marks unpaid rows pushed."""
    campaign, ours, theirs = env.campaigns[0], wallet(), wallet()
    salt = eip712.new_salt()
    async with env.ctx.sessions() as session:
        await session.execute(
            insert(SettlementNonceCounter).values(
                chain_id=31337, bank=env.bank, salt=salt, last_sequence=0
            )
        )
        await session.commit()
        await env.add_rewards(session, campaign, [(ours, 5)])
    crash_at(monkeypatch, "batch_signed")
    with pytest.raises(SimulatedCrash):
        await push_once(env.ctx, options=FAST)
    monkeypatch.undo()
    # The batch the old database signed under the same nonce pays first, other rewards.
    nonce = eip712.sequence_nonce(salt, 1)
    typed = eip712.push_rewards_typed_data(
        chain_id=31337,
        bank_address=env.bank,
        campaign_id=bytes.fromhex(campaign.chain_campaign_id[2:]),
        token=env.token,
        rewards=[(theirs, 9)],
        nonce=nonce,
        deadline=env.w3.eth.get_block("latest")["timestamp"] + 3600,
    )
    args = eip712.push_call_args(typed, eip712.sign_push(KEY, typed))
    send(env.w3, KEY, env.bank_contract.functions.pushRewards(*args))

    await push_once(env.ctx, options=FAST)

    async with env.ctx.sessions() as session:
        batches = {b.nonce: b for b in (await session.scalars(select(SettlementBatch))).all()}
        statuses = (await session.scalars(select(Reward.status))).all()
    collided = batches["0x" + nonce.hex()]
    assert (collided.status, collided.error_code) == ("void", "nonce_paid_elsewhere")
    afresh = batches["0x" + eip712.sequence_nonce(salt, 2).hex()]
    assert afresh.status == "pushed"
    assert statuses == ["pushed"]
    assert env.onchain(ours) == 5
    assert env.onchain(theirs) == 9
