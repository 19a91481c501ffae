"""A campaign closed because its rewards reserved the whole cap still pays what it granted.

Found by the ledger model check: the engine marks a capped campaign
`budget_exhausted` ("budget fully used") once its rewards reserve the cap, and
the batch builder used to hold every pending row of a `budget_exhausted`
campaign, a state meant for campaigns the chain refused. Those rewards were
earned within budget and the bank's allocation covers them, so they stayed
pending forever.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from backend.campaigns.models import Campaign
from backend.rewards.models import Reward
from backend.settlement.job import push_once
from tests.factories import wallet
from tests.settlement.conftest import FAST, TOKENS, Env, assert_consistent


async def _close_campaign(env: Env, reason: str, *, chain_refused: bool = False) -> list[str]:
    campaign = env.campaigns[0]
    wallets = [wallet(), wallet()]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, campaign, [(w, 5 * TOKENS) for w in wallets])
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(
                status="budget_exhausted",
                status_reason=reason,
                chain_refused=chain_refused,
                budget_cap=10 * TOKENS,
                used_budget=10 * TOKENS,
            )
        )
        await session.commit()
    return wallets


async def _pending(env: Env) -> int:
    async with env.ctx.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Reward).where(Reward.status == "pending")
        )
    return int(count or 0)


async def test_push__campaign_closed_at_its_cap__granted_rewards_still_settle(env: Env):
    wallets = await _close_campaign(env, "budget fully used")

    report = await push_once(env.ctx, options=FAST)

    assert report.rewards_pushed == 2 and await _pending(env) == 0
    assert [env.onchain(w) for w in wallets] == [5 * TOKENS, 5 * TOKENS]
    await assert_consistent(env, wallets)


async def test_push__campaign_the_chain_refused__rows_wait_for_the_owner(env: Env):
    await _close_campaign(env, "bank: budget exceeded", chain_refused=True)

    report = await push_once(env.ctx, options=FAST)

    assert report.batches_created == 0 and await _pending(env) == 2
