"""The role view: roles and epochs from the banks' role logs, not one call per bank per cycle."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select, update

from backend.chain import send
from backend.core.models import Alert
from backend.rewards.models import Reward
from backend.settlement import roles
from backend.settlement.chain import DISTRIBUTOR_ROLE, ChainReader
from backend.settlement.job import check_distributors, make_sender, push_once
from backend.settlement.models import SettlementBankRole, SettlementBatch, SettlementRoleCursor
from tests.factories import wallet
from tests.settlement.conftest import (
    FAST,
    KEY,
    SIGNER,
    TOKENS,
    Env,
    another_bank,
    assert_consistent,
)
from tests.settlement.helpers import Calls, SimulatedCrash


async def _alerts(env: Env) -> list[str]:
    async with env.ctx.sessions() as session:
        query = select(Alert.subject).where(Alert.resolved_at.is_(None))
        return list((await session.scalars(query)).all())


async def _stored(env: Env, bank: str) -> tuple[bool, int] | None:
    async with env.ctx.sessions() as session:
        row = await session.get(SettlementBankRole, (31337, SIGNER, bank))
        return None if row is None else (row.is_distributor, row.epoch)


async def _check(env: Env) -> tuple[set[str], dict[str, int]]:
    sender = await make_sender(env.ctx, options=FAST)
    halted = await check_distributors(env.ctx, sender)
    return halted, dict(sender.reader.epochs)


async def test_push__revoked_then_regranted__seen_from_logs_with_no_call_per_bank(
    env: Env, calls: Calls
):
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), 5)])
    first = await push_once(env.ctx, options=FAST)  # the bank is read once: its role view
    assert first.rewards_pushed == 1

    send(env.w3, KEY, env.bank_contract.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), 6)])
    calls.clear()
    revoked = await push_once(env.ctx, options=FAST)
    assert revoked.halted_banks == [env.bank] and revoked.batches_created == 0
    assert await _alerts(env) == [env.bank]
    counts = calls.count()
    assert (counts["hasRole"], counts["distributorEpoch"], counts["roleLogs"]) == (0, 0, 1)
    assert await _stored(env, env.bank) == (False, 1)

    send(env.w3, KEY, env.bank_contract.functions.grantRole(DISTRIBUTOR_ROLE, SIGNER))
    calls.clear()
    resumed = await push_once(env.ctx, options=FAST)
    assert resumed.rewards_pushed == 1 and resumed.halted_banks == []
    assert await _alerts(env) == []
    assert calls.count()["hasRole"] == 0
    async with env.ctx.sessions() as session:
        epochs = (await session.scalars(select(SettlementBatch.epoch))).all()
    assert sorted(epochs) == [0, 1]  # the new batch was signed for the epoch after revocation
    assert env.bank_contract.functions.distributorEpoch().call() == 1


async def test_push__revoked_and_regranted_between_cycles__signs_for_the_bumped_epoch(
    env: Env, calls: Calls
):
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), 5)])
    await push_once(env.ctx, options=FAST)
    bank = env.bank_contract
    for _ in range(2):  # another distributor's revocation bumps the epoch too
        other = wallet()
        send(env.w3, KEY, bank.functions.grantRole(DISTRIBUTOR_ROLE, other))
        send(env.w3, KEY, bank.functions.revokeRole(DISTRIBUTOR_ROLE, other))
    send(env.w3, KEY, bank.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))
    send(env.w3, KEY, bank.functions.grantRole(DISTRIBUTOR_ROLE, SIGNER))
    assert bank.functions.distributorEpoch().call() == 3
    wallets = [wallet(), wallet()]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(w, TOKENS) for w in wallets])
    calls.clear()

    report = await push_once(env.ctx, options=FAST)

    assert report.rewards_pushed == 2 and report.halted_banks == []
    assert (calls.count()["hasRole"], calls.count()["roleLogs"]) == (0, 1)
    async with env.ctx.sessions() as session:
        newest = await session.scalar(
            select(SettlementBatch.epoch).order_by(SettlementBatch.created_at.desc()).limit(1)
        )
    assert newest == 3
    await assert_consistent(env, wallets)


async def _bank_with_work(env: Env) -> str:
    other = await another_bank(env, funded=False)
    async with env.ctx.sessions() as session:
        await other.add_rewards(session, other.campaigns[0], [(wallet(), 7)])
    return other.bank


async def test_check__work_at_50_banks__a_constant_number_of_role_calls(env: Env, calls: Calls):
    banks = [await _bank_with_work(env) for _ in range(50)]
    send(env.w3, KEY, env.bank_contract.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), 5)])

    calls.clear()
    halted, epochs = await _check(env)  # first sight: each bank is read once
    assert halted == {env.bank}
    assert calls.count()["hasRole"] == 51 and calls.count()["distributorEpoch"] == 51

    send(env.w3, KEY, contract_of(env, banks[7]).functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))
    send(env.w3, KEY, env.bank_contract.functions.grantRole(DISTRIBUTOR_ROLE, SIGNER))
    calls.clear()
    halted, epochs = await _check(env)

    assert halted == {banks[7]}
    assert epochs[banks[7]] == 1 and epochs[env.bank] == 1 and epochs[banks[0]] == 0
    assert len(epochs) == 51
    assert calls.role_calls() == 1  # one eth_getLogs for all 51 banks
    counts = calls.count()
    assert sum(counts.values()) - counts["eth_chainId"] <= 3  # + head block, + stored block
    assert sorted(await _alerts(env)) == [banks[7]]


def contract_of(env: Env, bank: str) -> Any:
    from backend.chain import contract

    return contract(env.w3, "ProductBank", bank)


async def test_check__nothing_to_do__no_call_at_all(env: Env, calls: Calls):
    for _ in range(3):
        await _bank_with_work(env)
    async with env.ctx.sessions() as session:
        await session.execute(update(Reward).values(status="cancelled"))
        await session.commit()
    calls.clear()
    halted, epochs = await _check(env)
    assert (halted, epochs) == (set(), {})
    assert calls.count() == Counter({"eth_chainId": calls.count()["eth_chainId"]})


async def test_view__stored_block_left_the_chain__banks_read_again(env: Env):
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), 5)])
    assert await _check(env) == (set(), {env.bank: 0})
    snapshot = env.rpc("evm_snapshot")
    send(env.w3, KEY, env.bank_contract.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))
    assert await _check(env) == ({env.bank}, {env.bank: 1})
    assert env.rpc("evm_revert", [snapshot]) is True  # the revocation never happened
    env.rpc("anvil_mine", [3])

    assert await _check(env) == (set(), {env.bank: 0})
    assert await _stored(env, env.bank) == (True, 0)
    assert await _alerts(env) == []


async def test_view__crash_while_reading__nothing_stored_no_log_applied_twice(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), 5)])
    await _check(env)
    async with env.ctx.sessions() as session:
        before = (await session.scalars(select(SettlementRoleCursor.block))).one()
    bank = env.bank_contract
    send(env.w3, KEY, bank.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))
    send(env.w3, KEY, bank.functions.grantRole(DISTRIBUTOR_ROLE, SIGNER))
    other = await _bank_with_work(env)  # a new bank: read from the chain after the logs
    original = ChainReader.is_distributor

    async def crash(self: ChainReader, bank: str, account: str, *at: int | str) -> bool:
        raise SimulatedCrash("reading a new bank")

    monkeypatch.setattr(ChainReader, "is_distributor", crash)
    with pytest.raises(SimulatedCrash):
        await _check(env)
    monkeypatch.setattr(ChainReader, "is_distributor", original)
    async with env.ctx.sessions() as session:
        assert (await session.scalars(select(SettlementRoleCursor.block))).one() == before
    assert await _stored(env, env.bank) == (True, 0)

    assert await _check(env) == (set(), {env.bank: 1, other: 0})
    assert await _check(env) == (set(), {env.bank: 1, other: 0})  # and stays so


async def test_view__unconfirmed_revocation__used_now_stored_once_confirmed(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(env.ctx.settings, "confirmations", 3)
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), 5)])
    await _check(env)
    send(env.w3, KEY, env.bank_contract.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))

    for _ in range(2):  # read again every cycle, never counted twice
        assert await _check(env) == ({env.bank}, {env.bank: 1})
        assert await _stored(env, env.bank) == (True, 0)
    env.rpc("anvil_mine", [3])
    assert await _check(env) == ({env.bank}, {env.bank: 1})
    assert await _stored(env, env.bank) == (False, 1)
    assert await _check(env) == ({env.bank}, {env.bank: 1})


async def test_push__view_wrong_about_the_epoch__refusal_reads_the_bank_again(env: Env):
    wallets = [wallet(), wallet()]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(w, TOKENS) for w in wallets])
    await _check(env)
    async with env.ctx.sessions() as session:  # a view gone wrong, whatever the cause
        await session.execute(update(SettlementBankRole).values(epoch=5))
        await session.commit()

    refused = await push_once(env.ctx, options=FAST)
    assert refused.rewards_pushed == 0  # the bank is the authority: nothing paid
    async with env.ctx.sessions() as session:
        batch = (await session.scalars(select(SettlementBatch))).one()
    # signed for an epoch the bank has not reached: not dead (epochs grow, it could pay
    # after five revocations), so its nonce was burnt before its rows moved
    assert (batch.epoch, batch.status, batch.error_code) == (5, "void", "epoch_ahead")
    assert env.bank_contract.functions.nonceState(bytes.fromhex(batch.nonce[2:])).call() == 2

    healed = await push_once(env.ctx, options=FAST)

    assert healed.rewards_pushed == 2
    assert await _stored(env, env.bank) == (True, 0)
    await assert_consistent(env, wallets)


async def test_view__no_banks__no_call(env: Env, calls: Calls):
    calls.clear()
    reader = ChainReader(env.ctx.w3)
    assert (
        await roles.view(
            env.ctx.sessions, reader, chain_id=31337, signer=SIGNER, banks=[], confirmations=0
        )
        == {}
    )
    assert calls.seen == []
