"""Settlement cadence: a campaign's ready rewards wait for their queue to be due, then go whole.

Real push cycles against anvil and Postgres; each ends with the money invariants.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from backend.campaigns.models import Campaign
from backend.rewards.models import Reward
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from tests.factories import wallet
from tests.settlement.conftest import FAST, TOKENS, Env, assert_consistent


async def _cadence(env: Env, campaign: Campaign, **values: object) -> None:
    async with env.ctx.sessions() as session:
        await session.execute(update(Campaign).where(Campaign.id == campaign.id).values(**values))
        await session.commit()


async def _add(env: Env, campaign: Campaign, amounts: list[int]) -> tuple[list[str], list[int]]:
    wallets = [wallet() for _ in amounts]
    async with env.ctx.sessions() as session:
        ids = await env.add_rewards(session, campaign, list(zip(wallets, amounts, strict=True)))
        # available (and ready: the tests' cooldown is 0) from now, not an hour ago
        await session.execute(
            update(Reward).where(Reward.id.in_(ids)).values(available_at=func.now())
        )
        await session.commit()
    return wallets, ids


async def _age(env: Env, reward_id: int, seconds: int) -> None:
    """Make a row as old as if it had become available `seconds` ago."""
    async with env.ctx.sessions() as session:
        await session.execute(
            update(Reward)
            .where(Reward.id == reward_id)
            .values(available_at=Reward.available_at - timedelta(seconds=seconds))
        )
        await session.commit()


async def _statuses(env: Env, ids: list[int]) -> list[str]:
    async with env.ctx.sessions() as session:
        rows = await session.execute(select(Reward.id, Reward.status).where(Reward.id.in_(ids)))
        by_id = dict(rows.all())
    return [by_id[i] for i in ids]


async def _batches(env: Env) -> list[SettlementBatch]:
    async with env.ctx.sessions() as session:
        return list((await session.scalars(select(SettlementBatch))).all())


async def test_push__hourly_campaign__queue_waits_then_goes_whole_once_oldest_waited_an_hour(
    env: Env,
):
    hourly = env.campaigns[0]
    await _cadence(env, hourly, settle_max_wait_s=3600)
    wallets, ids = await _add(env, hourly, [TOKENS, 2 * TOKENS])

    early = await push_once(env.ctx, options=FAST)

    assert early.batches_created == 0
    assert await _statuses(env, ids) == ["pending", "pending"]
    await _age(env, ids[0], 3599)  # one second short of the promise
    assert (await push_once(env.ctx, options=FAST)).batches_created == 0

    await _age(env, ids[0], 2)
    report = await push_once(env.ctx, options=FAST)

    assert (report.batches_created, report.batches_pushed, report.rewards_pushed) == (1, 1, 2)
    assert await _statuses(env, ids) == ["pushed", "pushed"]  # the young row went with it
    assert env.onchain(wallets[0]) == TOKENS and env.onchain(wallets[1]) == 2 * TOKENS
    await assert_consistent(env, wallets)


async def test_push__queue_size_reached__settles_before_the_max_wait(env: Env):
    campaign = env.campaigns[0]
    await _cadence(env, campaign, settle_max_wait_s=86_400, settle_min_rewards=3)
    wallets, ids = await _add(env, campaign, [TOKENS, TOKENS])
    assert (await push_once(env.ctx, options=FAST)).batches_created == 0

    more, more_ids = await _add(env, campaign, [TOKENS])
    report = await push_once(env.ctx, options=FAST)

    assert (report.batches_created, report.rewards_pushed) == (1, 3)
    assert await _statuses(env, ids + more_ids) == ["pushed"] * 3
    await assert_consistent(env, wallets + more)


async def test_push__queue_value_reached__settles_before_the_max_wait(env: Env):
    campaign = env.campaigns[0]
    await _cadence(env, campaign, settle_max_wait_s=86_400, settle_min_amount=10 * TOKENS)
    wallets, ids = await _add(env, campaign, [4 * TOKENS, 5 * TOKENS])
    assert (await push_once(env.ctx, options=FAST)).batches_created == 0

    more, more_ids = await _add(env, campaign, [TOKENS])  # 10 tokens: exactly the value
    report = await push_once(env.ctx, options=FAST)

    assert (report.batches_created, report.amount_pushed) == (1, 10 * TOKENS)
    assert await _statuses(env, ids + more_ids) == ["pushed"] * 3
    await assert_consistent(env, wallets + more)


async def test_push__asap_campaign_next_to_a_daily_one__only_the_asap_queue_settles(env: Env):
    asap, daily = env.campaigns
    await _cadence(env, daily, settle_max_wait_s=86_400)
    fast_wallets, fast_ids = await _add(env, asap, [TOKENS])
    slow_wallets, slow_ids = await _add(env, daily, [TOKENS])

    report = await push_once(env.ctx, options=FAST)

    assert report.rewards_pushed == 1
    (batch,) = await _batches(env)
    assert batch.campaign_id == asap.id
    assert await _statuses(env, fast_ids + slow_ids) == ["pushed", "pending"]
    assert env.onchain(slow_wallets[0]) == 0
    await assert_consistent(env, fast_wallets + slow_wallets)
