"""Settlement metrics move by exactly what a real push cycle on anvil did.

cascade_settlement_batches_total{outcome} for pushed, failed, reorged and void;
cascade_settlement_rewards_pushed_total; cascade_settlement_transactions_total{kind};
cascade_gas_spent_total (wei, gas used x effective gas price of the receipt).
"""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from backend.chain import send
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.options import load_options
from tests.factories import wallet
from tests.observability.samples import Samples, delta, rendered, value
from tests.settlement.conftest import (  # noqa: F401
    FAST,
    KEY,
    TOKENS,
    Env,
    automine,
    core,
    env,
    w3,
)

BATCHES = "cascade_settlement_batches_total"
PATIENT = load_options(replace_after_s=3600, retry_base_s=0)
EAGER = load_options(replace_after_s=0, retry_base_s=0)


def _outcomes(before: Samples, after: Samples) -> dict[str, float]:
    found = {
        outcome: delta(before, after, BATCHES, outcome=outcome)
        for outcome in ("pushed", "void", "failed", "reorged")
    }
    return {outcome: n for outcome, n in found.items() if n}


async def _rewards(env: Env, count: int, campaign: int = 0) -> list[str]:  # noqa: F811
    wallets = [wallet() for _ in range(count)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[campaign], [(w, TOKENS) for w in wallets])
    return wallets


async def test_push__batch_rewards_transaction_and_gas_counted(env: Env):  # noqa: F811
    await _rewards(env, 3)
    before = rendered()

    report = await push_once(env.ctx, options=FAST)

    after = rendered()
    assert report.batches_pushed == 1
    assert _outcomes(before, after) == {"pushed": 1}
    assert delta(before, after, "cascade_settlement_rewards_pushed_total") == 3
    assert delta(before, after, "cascade_settlement_transactions_total", kind="push") == 1
    (tx_hash,) = report.tx_hashes
    receipt = env.w3.eth.get_transaction_receipt(tx_hash)
    paid = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert paid > 0
    # a Prometheus counter is a float: the difference of two running totals is exact to
    # the totals' own resolution (one ulp each), however small the step is beside them
    total = value(after, "cascade_gas_spent_total")
    assert delta(before, after, "cascade_gas_spent_total") == pytest.approx(
        paid, abs=2 * math.ulp(total)
    )


async def test_push__campaign_deactivated_onchain__failed_counted(env: Env):  # noqa: F811
    campaign = env.campaigns[1]
    await _rewards(env, 1, campaign=1)
    cid = bytes.fromhex(campaign.chain_campaign_id[2:])
    send(env.w3, KEY, env.bank_contract.functions.deactivateCampaign(cid))
    before = rendered()

    report = await push_once(env.ctx, options=FAST)

    assert report.failed == 1
    assert _outcomes(before, rendered()) == {"failed": 1}


async def test_push__reorged_out_then_pushed_again__both_counted(env: Env):  # noqa: F811
    await _rewards(env, 2)
    await push_once(env.ctx, options=FAST)
    env.rpc("anvil_reorg", [1, []])  # the push's block is replaced by an empty one
    before = rendered()

    report = await push_once(env.ctx, options=FAST)

    assert report.reorged == 1
    assert _outcomes(before, rendered()) == {"reorged": 1, "pushed": 1}


async def test_push__deadline_passed_unused__void_and_cancel_transaction_counted(
    env: Env,  # noqa: F811
    automine: None,  # noqa: F811
):
    await _rewards(env, 2)
    env.rpc("evm_setAutomine", [False])
    first = await push_once(env.ctx, options=PATIENT, wait_s=0)
    (stuck,) = first.tx_hashes
    env.rpc("anvil_dropTransaction", [stuck])
    env.rpc("evm_increaseTime", [PATIENT.deadline_s + 60])
    env.rpc("evm_mine")  # an empty block past the deadline
    before = rendered()

    second = await push_once(env.ctx, options=PATIENT, wait_s=0)
    await push_once(env.ctx, options=EAGER, wait_s=0)  # fills the void batch's account nonce

    after = rendered()
    assert second.voided == 1
    assert _outcomes(before, after) == {"void": 1}
    assert delta(before, after, "cascade_settlement_transactions_total", kind="cancel") == 1
    async with env.ctx.sessions() as session:
        statuses = (await session.scalars(select(SettlementBatch.status))).all()
    assert "void" in statuses
