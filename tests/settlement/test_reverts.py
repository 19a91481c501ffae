"""Reverts: budget and role problems return rows to pending, mark the campaign, alert."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.campaigns.models import Campaign
from backend.core.models import Alert
from backend.rewards.models import Reward
from backend.settlement.chain import DISTRIBUTOR_ROLE, ChainReader
from backend.settlement.health import check_settlement
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.options import load_options
from tests.factories import wallet
from tests.settlement.conftest import FAST, KEY, SIGNER, TOKENS, Env, assert_consistent


async def _statuses(env: Env) -> dict[str, int]:
    async with env.ctx.sessions() as session:
        rows = (await session.scalars(select(Reward.status))).all()
    return {status: rows.count(status) for status in set(rows)}


async def _alert_codes(env: Env, open_only: bool = True) -> list[str]:
    async with env.ctx.sessions() as session:
        query = select(Alert.code)
        if open_only:
            query = query.where(Alert.resolved_at.is_(None))
        return list((await session.scalars(query)).all())


async def test_push__budget_exhausted_mid_run__rows_back_to_pending_and_campaign_marked(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(env.ctx.settings, "batch_size", 2)
    campaign = env.campaigns[0]
    env.allocate(campaign, 4 * TOKENS)  # two batches of two wallets, 1 token each
    wallets = [wallet() for _ in range(6)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, campaign, [(w, TOKENS) for w in wallets])

    report = await push_once(env.ctx, options=FAST)

    # the refused batch's nonce is cancelled on the bank before its rows return to pending
    assert report.batches_created == 3 and report.batches_pushed == 2 and report.voided == 1
    assert await _statuses(env) == {"pushed": 4, "pending": 2}
    async with env.ctx.sessions() as session:
        refreshed = await session.get(Campaign, campaign.id)
        assert refreshed is not None and refreshed.status == "budget_exhausted"
        assert "budget exceeded" in (refreshed.status_reason or "")
    assert await _alert_codes(env) == ["budget_exhausted_onchain"]
    again = await push_once(env.ctx, options=FAST)  # the rows wait for budget
    assert again.batches_created == 0
    await assert_consistent(env, wallets)

    env.allocate(campaign, 10 * TOKENS)  # the owner re-funds and re-activates
    async with env.ctx.sessions() as session:
        refreshed = await session.get(Campaign, campaign.id)
        assert refreshed is not None
        refreshed.status = "active"
        await session.commit()
    final = await push_once(env.ctx, options=FAST)
    assert final.rewards_pushed == 2
    assert await _statuses(env) == {"pushed": 6}
    await assert_consistent(env, wallets)


async def test_push__budget_revert_after_broadcast__nonce_cancelled_before_rows_return(
    env: Env, monkeypatch: pytest.MonkeyPatch, automine: None
):
    monkeypatch.setattr(env.ctx.settings, "batch_size", 2)
    campaign = env.campaigns[0]
    env.allocate(campaign, 2 * TOKENS)
    wallets = [wallet() for _ in range(4)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, campaign, [(w, TOKENS) for w in wallets])
    env.rpc("evm_setAutomine", [False])  # both simulate fine; the second reverts when mined
    # each alone: in one pushMany the second would be skipped, not reverted
    # (test_bundles.py), and its transaction would carry the first as well
    options = load_options(replace_after_s=3600, retry_base_s=3600, bundle_gas=0)
    first = await push_once(env.ctx, options=options, wait_s=0)
    assert len(first.tx_hashes) == 2
    env.rpc("evm_mine")
    second = await push_once(env.ctx, options=options, wait_s=0)

    # the reverted batch's signature is public: its rows stay batched while a
    # cancelNonces transaction burns its nonce on the bank
    assert await _statuses(env) == {"pushed": 2, "batched": 2}
    assert len(second.tx_hashes) == 1  # the cancel
    async with env.ctx.sessions() as session:
        refreshed = await session.get(Campaign, campaign.id)
        assert refreshed is not None and refreshed.status == "budget_exhausted"
        statuses = sorted((await session.scalars(select(SettlementBatch.status))).all())
        assert statuses == ["cancelling", "pushed"]
    env.rpc("evm_mine")  # the cancel mines, well before the deadline
    report = await push_once(env.ctx, options=options, wait_s=0)
    assert report.voided == 1
    assert await _statuses(env) == {"pushed": 2, "pending": 2}
    env.rpc("evm_setAutomine", [True])
    await assert_consistent(env, wallets)


async def test_push__signer_not_distributor__bank_halted_with_alert_then_resumes(env: Env):
    wallets = [wallet() for _ in range(2)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(w, 5) for w in wallets])
    from backend.chain import send

    send(env.w3, KEY, env.bank_contract.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))

    report = await push_once(env.ctx, options=FAST)
    assert report.halted_banks == [env.bank]
    assert report.batches_created == 0
    assert await _statuses(env) == {"pending": 2}
    assert await _alert_codes(env) == ["signer_not_distributor"]
    health = await check_settlement(env.ctx)
    assert health["ok"] is False and health["halted_banks"] == [env.bank]

    send(env.w3, KEY, env.bank_contract.functions.grantRole(DISTRIBUTOR_ROLE, SIGNER))
    resumed = await push_once(env.ctx, options=FAST)
    assert resumed.rewards_pushed == 2 and resumed.halted_banks == []
    assert await _alert_codes(env) == []
    assert (await check_settlement(env.ctx))["ok"] is True
    await assert_consistent(env, wallets)


async def test_push__campaign_deactivated_onchain__rows_cancelled_campaign_deactivated(env: Env):
    campaign = env.campaigns[1]
    wallets = [wallet()]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, campaign, [(wallets[0], 9)])
    from backend.chain import send

    cid = bytes.fromhex(campaign.chain_campaign_id[2:])
    send(env.w3, KEY, env.bank_contract.functions.deactivateCampaign(cid))

    report = await push_once(env.ctx, options=FAST)
    assert report.failed == 1
    assert await _statuses(env) == {"cancelled": 1}  # the bank can never pay them
    async with env.ctx.sessions() as session:
        refreshed = await session.get(Campaign, campaign.id)
        assert refreshed is not None and refreshed.status == "deactivated"
        assert (await session.scalars(select(SettlementBatch.status))).all() == ["failed"]
    assert await _alert_codes(env) == ["campaign_deactivated_onchain"]
    await assert_consistent(env, wallets)


async def test_push__idle_bank_without_role__not_asked_until_it_has_work(env: Env):
    from backend.chain import send

    send(env.w3, KEY, env.bank_contract.functions.revokeRole(DISTRIBUTOR_ROLE, SIGNER))
    calls: list[str] = []
    original = ChainReader.is_distributor

    async def counted(self: ChainReader, bank: str, account: str, *at: int | str) -> bool:
        calls.append(bank)
        return await original(self, bank, account, *at)

    ChainReader.is_distributor = counted  # type: ignore[method-assign]
    try:
        idle = await push_once(env.ctx, options=FAST)
        assert calls == [] and idle.halted_banks == []  # nothing to do: no call per bank
        assert await _alert_codes(env) == []

        async with env.ctx.sessions() as session:
            await env.add_rewards(session, env.campaigns[0], [(wallet(), 5)])
        busy = await push_once(env.ctx, options=FAST)
        assert calls == [env.bank] and busy.halted_banks == [env.bank]
        assert await _alert_codes(env) == ["signer_not_distributor"]
    finally:
        ChainReader.is_distributor = original  # type: ignore[method-assign]


async def test_simulate__reverting_call__its_reason__a_good_call__none(env: Env):
    reader = ChainReader(env.ctx.w3)
    bank = reader.bank(env.bank)
    data = bank.encode_abi("cancelNonces", [[b"\x01" * 32]])
    stranger = wallet()

    refused = await reader.simulate({"from": stranger, "to": env.bank, "data": data})
    allowed = await reader.simulate({"from": SIGNER, "to": env.bank, "data": data})

    assert (refused, allowed) == ("bank: not authorised", None)
