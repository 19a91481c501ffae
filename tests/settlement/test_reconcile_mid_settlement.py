"""Reconcile at any moment of a real push cycle (CONFIRMATIONS=2): zero mismatches, always.

A push mined and confirmed but not yet recorded by the push job, a push mined but
not confirmed, and a push recorded above the compared block are all normal states:
each must count on both sides or on neither.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import select

from backend.rewards.models import Reward
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.options import load_options
from backend.settlement.reconcile import ReconcileReport, reconcile
from indexer.rpc import Rpc
from indexer.runner import Indexer
from indexer.settings import IndexerSettings
from tests.factories import wallet
from tests.settlement.conftest import FAST, TOKENS, Env

Checker = Callable[..., Awaitable[ReconcileReport]]


def _mine(env: Env, blocks: int) -> None:
    env.rpc("anvil_mine", [hex(blocks)])


def _with_confirmations(env: Env, monkeypatch: pytest.MonkeyPatch, blocks: int) -> None:
    settings = env.ctx.settings.model_copy(update={"confirmations": blocks})
    monkeypatch.setattr(env.ctx, "settings", settings)


@pytest.fixture(params=["logs", "indexer"])
async def check(
    request: pytest.FixtureRequest, env: Env, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Checker]:
    """`await check(unrecorded=n)`: reconcile from the given source, assert zero mismatches."""
    _with_confirmations(env, monkeypatch, 2)
    rpc = Rpc(env.rpc_url)
    indexer = Indexer(
        env.ctx.sessions,
        rpc,
        IndexerSettings(
            chain_id=31337,
            push_pull=env.core["push_pull"],
            bank_factory=env.core["bank_factory"],
            finality_depth=0,
            # start at the block that deployed this test's bank: no eth_getCode search of
            # old state, and nothing older than the head the test began on (anvil 1.7.1 can
            # lose blocks below its head when an earlier test reverts a snapshot)
            start_block=env.first_block + 1,
        ),
    )

    async def run(*, unrecorded: int = 0, pairs: int | None = None) -> ReconcileReport:
        if request.param == "indexer":
            await indexer.catch_up()
        report = await reconcile(env.ctx)
        assert report.source == request.param
        assert report.mismatches == []
        assert report.unrecorded_batches == unrecorded
        if pairs is not None:
            assert report.pairs == pairs
        return report

    yield run
    await rpc.close()


async def _statuses(env: Env) -> list[str]:
    async with env.ctx.sessions() as session:
        return sorted((await session.scalars(select(SettlementBatch.status))).all())


async def _pushed_total(env: Env, wallet_address: str) -> int:
    async with env.ctx.sessions() as session:
        amounts = await session.scalars(
            select(Reward.amount).where(Reward.wallet == wallet_address, Reward.status == "pushed")
        )
        return sum(int(amount) for amount in amounts)


async def test_reconcile__through_a_push_cycle_with_two_confirmations__never_a_mismatch(
    env: Env, check: Checker
):
    first = [wallet() for _ in range(3)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(
            session, env.campaigns[0], [(w, TOKENS + i) for i, w in enumerate(first)]
        )
    await push_once(env.ctx, options=FAST)
    assert await _statuses(env) == ["submitted"]
    await check(pairs=0)  # mined, not confirmed: on neither side

    second = [first[0], wallet()]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[1], [(w, 7 * TOKENS) for w in second])
    await push_once(env.ctx, options=FAST)  # first still unconfirmed: nothing recorded
    assert await _statuses(env) == ["submitted", "submitted"]

    _mine(env, 1)  # first confirmed (not recorded), second mined but not confirmed
    await check(unrecorded=1, pairs=3)
    _mine(env, 1)  # both confirmed, neither recorded
    await check(unrecorded=2, pairs=4)

    await push_once(env.ctx, options=FAST)  # records both
    assert await _statuses(env) == ["pushed", "pushed"]
    await check(unrecorded=0, pairs=4)
    for w in first + second:
        assert env.onchain(w) == await _pushed_total(env, w)


async def test_reconcile__push_recorded_above_the_compared_block__counts_on_neither_side(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    early, late = wallet(), wallet()
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(early, 3 * TOKENS)])
    await push_once(env.ctx, options=FAST)
    _mine(env, 5)
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(early, TOKENS), (late, 2 * TOKENS)])
    await push_once(env.ctx, options=FAST)  # CONFIRMATIONS=0 here: recorded at once
    assert await _statuses(env) == ["pushed", "pushed"]

    # A reconcile that read its head just before the push job recorded the second push.
    _with_confirmations(env, monkeypatch, 3)
    report = await reconcile(env.ctx)

    assert report.mismatches == [] and report.unrecorded_batches == 0
    assert report.pairs == 1  # only `early`, with its first push only


async def test_reconcile__cancelled_nonce_of_a_refused_batch__not_counted_as_paid(
    env: Env, monkeypatch: pytest.MonkeyPatch, automine: None
):
    monkeypatch.setattr(env.ctx.settings, "batch_size", 2)
    env.allocate(env.campaigns[0], 2 * TOKENS)  # room for the first batch only
    wallets = [wallet() for _ in range(4)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(w, TOKENS) for w in wallets])
    env.rpc("evm_setAutomine", [False])
    patient = load_options(replace_after_s=3600, retry_base_s=3600)
    await push_once(env.ctx, options=patient, wait_s=0)
    env.rpc("evm_mine")  # the first batch pays, the second reverts on budget
    await push_once(env.ctx, options=patient, wait_s=0)  # sends cancelNonces for the second
    env.rpc("evm_mine")
    assert await _statuses(env) == ["cancelling", "pushed"]

    # its nonce is used on the bank, but it paid nothing: nonceState says cancelled
    report = await reconcile(env.ctx)

    assert report.mismatches == [] and report.unrecorded_batches == 0
    assert report.pairs == 2
