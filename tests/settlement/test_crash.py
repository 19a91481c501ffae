"""Crash matrix: the pusher is SIGKILLed after each step, restarted; nothing is paid twice."""

from __future__ import annotations

import asyncio
import random
import signal

import pytest

from backend.settlement.faults import STEPS
from tests.factories import wallet
from tests.settlement.conftest import TOKENS, Env, assert_consistent
from tests.settlement.subprocess_push import run_push

KILLED = -signal.SIGKILL


async def _seed(env: Env, count: int) -> list[str]:
    wallets = [wallet() for _ in range(count)]
    async with env.ctx.sessions() as session:
        for index, campaign in enumerate(env.campaigns):
            await env.add_rewards(
                session, campaign, [(w, (index + 1) * TOKENS + i) for i, w in enumerate(wallets)]
            )
    return wallets


@pytest.mark.parametrize("step", STEPS)
async def test_push__killed_after_step__restart_settles_everything_once(env: Env, step: str):
    wallets = await _seed(env, 6)  # 2 campaigns x 6 wallets, 4 per batch: 4 batches

    code, output = await asyncio.to_thread(run_push, env, 4, CASCADE_CRASH_AT=step)
    assert code == KILLED, output
    code, output = await asyncio.to_thread(run_push, env, 4)
    assert code == 0, output

    await assert_consistent(env, wallets)


async def test_push__killed_at_random_points__invariants_hold_after_each_restart(env: Env):
    rng = random.Random(20261121)
    wallets: list[str] = []
    for _ in range(3):
        wallets += await _seed(env, rng.randint(2, 6))
        step, after = rng.choice(STEPS), rng.randint(1, 3)
        code, output = await asyncio.to_thread(
            run_push, env, 3, CASCADE_CRASH_AT=step, CASCADE_CRASH_AFTER=str(after)
        )
        assert code in (KILLED, 0), output
        code, output = await asyncio.to_thread(run_push, env, 3)
        assert code == 0, output
        await assert_consistent(env, wallets)
