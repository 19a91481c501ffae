"""PUSH_COOLDOWN_S: a reward younger than the cooldown waits, even in a group that is paid."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from backend.rewards.models import Reward
from backend.settlement.job import push_once
from tests.factories import wallet
from tests.settlement.conftest import FAST, TOKENS, Env


async def test_push__row_younger_than_the_cooldown__waits_while_an_older_one_is_paid(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    settings = env.ctx.settings.model_copy(update={"push_cooldown_s": 600})
    monkeypatch.setattr(env.ctx, "settings", settings)
    old, fresh = wallet(), wallet()
    async with env.ctx.sessions() as session:
        old_id, fresh_id = await env.add_rewards(
            session, env.campaigns[0], [(old, TOKENS), (fresh, 2 * TOKENS)]
        )
        # available an hour ago, and just now (add_rewards makes both an hour old)
        await session.execute(
            update(Reward).where(Reward.id == fresh_id).values(available_at=func.now())
        )
        await session.commit()

    await push_once(env.ctx, options=FAST)

    async with env.ctx.sessions() as session:
        statuses = dict((await session.execute(select(Reward.id, Reward.status))).all())
    assert statuses == {old_id: "pushed", fresh_id: "pending"}
    assert (env.onchain(old), env.onchain(fresh)) == (TOKENS, 0)
