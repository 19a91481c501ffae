"""The happy path and the builder's rules."""

from __future__ import annotations

from sqlalchemy import select

from backend.observability.metrics import REGISTRY
from backend.rewards.models import Reward
from backend.settlement.job import push_once, run_push_job
from backend.settlement.models import SettlementBatch
from tests.factories import wallet
from tests.settlement.conftest import FAST, SIGNER, TOKENS, Env, assert_consistent


async def test_push_once__pending_rewards__pushed_and_credited(env: Env):
    campaign = env.campaigns[0]
    wallets = [wallet() for _ in range(3)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(
            session,
            campaign,
            [(wallets[0], 1 * TOKENS), (wallets[0], 2 * TOKENS), (wallets[1], 5), (wallets[2], 7)],
        )

    report = await push_once(env.ctx, options=FAST)

    assert report.batches_created == 1
    assert report.rewards_batched == 4
    assert report.batches_pushed == 1
    assert report.rewards_pushed == 4
    assert report.gas_used > 0
    assert len(report.tx_hashes) == 1
    assert env.onchain(wallets[0]) == 3 * TOKENS
    async with env.ctx.sessions() as session:
        batch = (await session.scalars(select(SettlementBatch))).one()
        assert batch.status == "pushed"
        assert batch.payload[0] == {"user": wallets[0], "amount": str(3 * TOKENS)}
        assert batch.mined_tx_hash == report.tx_hashes[0]
        statuses = set((await session.scalars(select(Reward.status))).all())
        assert statuses == {"pushed"}
    await assert_consistent(env, wallets)


async def test_run_push_job__observes_its_duration_once_per_run(env: Env):
    def runs() -> float:
        value = REGISTRY.get_sample_value(
            "cascade_job_duration_seconds_count", {"job": "settlement_push"}
        )
        return value or 0.0

    before = runs()
    await run_push_job(env.ctx)
    await run_push_job(env.ctx)
    assert runs() == before + 2


async def test_push_once__sends_few_rewards_unsigned_and_many_signed(env: Env):
    # the job's key is the bank's distributor: a batch that fits pushFewRewardsBy goes
    # without its signature (the bank checks the sender and the epoch); a larger one signed
    few, many = env.campaigns[0], env.campaigns[1]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, few, [(wallet(), 3), (wallet(), 4)])
        await env.add_rewards(session, many, [(wallet(), 5) for _ in range(65)])

    report = await push_once(env.ctx, options=FAST)

    assert report.batches_pushed == 2
    sent = {}
    for tx_hash in report.tx_hashes:
        tx = env.w3.eth.get_transaction(tx_hash)
        assert tx["to"] == env.bank  # one bank: each batch is its own transaction
        function, args = env.bank_contract.decode_function_input(tx["input"])
        sent[function.fn_name] = (tx["from"], args)
    assert set(sent) == {"pushFewRewardsBy", "pushRewards"}
    sender, args = sent["pushFewRewardsBy"]
    assert args["distributor"] == sender == SIGNER
    assert len(args["rewards"]) == 2 and args["epoch"] == 0
    assert len(sent["pushRewards"][1]["rewards"]) == 65
    assert len(sent["pushRewards"][1]["signature"]) == 65
    for batch in await env.batches():
        assert batch.status == "pushed"
        assert env.bank_contract.functions.nonceState(bytes.fromhex(batch.nonce[2:])).call() == 1
