"""Reconcile at its edges: which source it reads when the indexer lags, the last block of a
log range, and the smallest possible difference (one base unit)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from backend.products.models import ProductBank
from backend.rewards.models import Reward
from backend.settlement import reconcile as reconcile_module
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.reconcile import Mismatch, reconcile
from indexer.models import IndexerCheckpoint
from tests.factories import wallet
from tests.settlement.conftest import FAST, TOKENS, Env


async def test_reconcile__indexer_behind_the_last_push__reads_the_logs_at_the_confirmed_head(
    env: Env,
):
    paid = [wallet(), wallet()]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(w, TOKENS) for w in paid])
    await push_once(env.ctx, options=FAST)
    async with env.ctx.sessions() as session:  # an indexer that stopped before the push
        session.add(
            IndexerCheckpoint(
                chain_id=31337, name="main", block_number=1, block_hash="0x" + "aa" * 32
            )
        )
        await session.commit()
    head = int(env.rpc("eth_blockNumber"), 16)

    report = await reconcile(env.ctx)

    assert (report.source, report.to_block) == ("logs", head)
    assert report.pairs == 2 and report.mismatches == []


async def test_reconcile__one_base_unit_credited_without_a_row__is_a_mismatch(env: Env):
    dust, other = wallet(), wallet()
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(dust, 1), (other, TOKENS)])
    await push_once(env.ctx, options=FAST)
    async with env.ctx.sessions() as session:
        await session.execute(delete(Reward).where(Reward.wallet == dust))
        await session.commit()

    report = await reconcile(env.ctx)

    assert report.mismatches == [Mismatch(env.token, dust, 0, 1)]


async def test_reconcile__push_alone_in_the_last_log_chunk__is_counted(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    """Logs are read in chunks from the bank's deploy block up to and including the compared
    block: with chunks that end right before the push's block, the push is alone in the last
    one, and still counts. (The chunk size is shrunk: 10,000 real blocks take minutes.)"""
    paid = wallet()
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(paid, TOKENS)])
    await push_once(env.ctx, options=FAST)
    async with env.ctx.sessions() as session:
        start = await session.scalar(
            select(ProductBank.deploy_block).where(ProductBank.address == env.bank)
        )
        (pushed_in,) = (await session.scalars(select(SettlementBatch.block_number))).all()
    monkeypatch.setattr(reconcile_module, "LOG_CHUNK", pushed_in - (start or 0))

    report = await reconcile(env.ctx)

    assert (report.source, report.to_block) == ("logs", pushed_in)
    assert report.pairs == 1 and report.mismatches == []
