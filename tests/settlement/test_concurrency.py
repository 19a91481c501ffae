"""Two pushers at once never put one row into two batches, and never pay twice."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from backend.rewards.models import Reward
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from tests.factories import wallet
from tests.settlement.conftest import FAST, Env, assert_consistent
from tests.settlement.subprocess_push import start_push


async def _seed(env: Env, count: int) -> list[str]:
    wallets = [wallet() for _ in range(count)]
    async with env.ctx.sessions() as session:
        for campaign in env.campaigns:
            await env.add_rewards(session, campaign, [(w, 10 + i) for i, w in enumerate(wallets)])
            await env.add_rewards(session, campaign, [(w, 1) for w in wallets[::2]])
    return wallets


async def _assert_each_row_in_one_batch(env: Env) -> None:
    async with env.ctx.sessions() as session:
        batches = (await session.scalars(select(SettlementBatch))).all()
        for batch in batches:
            rows = await session.execute(
                select(func.count(), func.sum(Reward.amount)).where(Reward.batch_id == batch.id)
            )
            count, total = rows.one()
            assert (count, int(total)) == (batch.reward_count, batch.total)
        assert sum(b.reward_count for b in batches if b.status == "pushed") == await session.scalar(
            select(func.count()).select_from(Reward)
        )


async def test_two_pushers_in_one_process__never_share_a_row(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(env.ctx.settings, "batch_size", 3)
    wallets = await _seed(env, 12)

    await asyncio.gather(push_once(env.ctx, options=FAST), push_once(env.ctx, options=FAST))
    await push_once(env.ctx, options=FAST)

    await _assert_each_row_in_one_batch(env)
    await assert_consistent(env, wallets)


async def test_two_pusher_processes__never_share_a_row(env: Env):
    wallets = await _seed(env, 12)

    processes = [start_push(env, 3), start_push(env, 3)]
    outputs = await asyncio.gather(
        *(asyncio.to_thread(p.communicate, None, 120) for p in processes)
    )
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, (out + err).decode(errors="replace")
    # A pusher skips a batch the other holds locked (skip_locked), so a batch mined in the
    # last moments can be left for the next cycle, as in the in-process test above.
    await push_once(env.ctx, options=FAST)

    await _assert_each_row_in_one_batch(env)
    await assert_consistent(env, wallets)
