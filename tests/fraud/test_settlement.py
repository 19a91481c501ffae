"""Held rewards and the chain: a held reward is never pushed; a review moves money exactly."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from backend.campaigns.models import Campaign
from backend.fraud import service
from backend.products.ids import new_api_key
from backend.products.models import ApiKey, Role
from backend.rewards.models import Reward
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from tests.evaluator.helpers import drain
from tests.factories import make_campaign, wallet
from tests.fraud.helpers import act
from tests.settlement.conftest import FAST, TOKENS, Env, assert_consistent


async def _key(env: Env) -> str:
    key, prefix, key_hash = new_api_key()
    async with env.ctx.sessions() as session:
        session.add(
            ApiKey(
                product_id=env.product.id,
                name="fraud",
                prefix=prefix,
                key_hash=key_hash,
                roles=int(Role.ALL),
            )
        )
        await session.commit()
    return key


async def _referral_campaign(env: Env) -> Campaign:
    async with env.ctx.sessions() as session:
        campaign = await make_campaign(
            session, env.product, token=env.token, trigger="referral.referred"
        )
    env.allocate(campaign, 0)
    return campaign


async def _ring(env: Env, client: httpx.AsyncClient, key: str, size: int) -> list[str]:
    ring = [wallet() for _ in range(size)]
    for member in ring:
        await act(env.ctx, client, key, env.product.id, member, "webshop.open", device="farm")
    for index, member in enumerate(ring):
        await act(
            env.ctx,
            client,
            key,
            env.product.id,
            ring[(index + 1) % size],
            "referral.referred",
            device="farm",
            referrer=member,
        )
    await drain(env.ctx)
    return ring


async def _held_ids(env: Env) -> list[int]:
    async with env.ctx.sessions() as session:
        found = await session.scalars(select(Reward.id).where(Reward.status == "held"))
        return sorted(found.all())


async def test_sybil_ring__held__push_job_sends_nothing_for_it(env: Env, client):
    key = await _key(env)
    await _referral_campaign(env)
    ring = await _ring(env, client, key, 20)

    report = await push_once(env.ctx, options=FAST)

    assert report.batches_created == 0
    assert all(env.onchain(member) == 0 for member in ring)
    async with env.ctx.sessions() as session:
        assert (await session.scalars(select(SettlementBatch))).all() == []
        statuses = set((await session.scalars(select(Reward.status))).all())
    assert statuses == {"held"}
    await assert_consistent(env, ring)


async def test_review__approve_some_reject_others__money_moves_exactly(env: Env, client):
    key = await _key(env)
    campaign = await _referral_campaign(env)
    ring = await _ring(env, client, key, 4)  # 3 paying referrals, 10 tokens each
    held = await _held_ids(env)
    async with env.ctx.sessions() as session:
        rows = (await session.scalars(select(Reward).where(Reward.id.in_(held)))).all()
        by_interaction: dict[int, list[Reward]] = {}
        for row in rows:
            by_interaction.setdefault(row.interaction_id, []).append(row)
        used_before = (await session.get(Campaign, campaign.id)).used_budget
    first, *rest = sorted(by_interaction)
    approve = [r.id for r in by_interaction[first]]
    reject = [r.id for iid in rest for r in by_interaction[iid]]
    rejected_amount = sum(r.amount for iid in rest for r in by_interaction[iid])
    assert used_before == 3 * 10 * TOKENS

    async with env.ctx.sessions() as session:
        approved = await service.review(
            session,
            product_id=env.product.id,
            reward_ids=approve,
            decision="approve",
            actor="test",
        )
        refused = await service.review(
            session,
            product_id=env.product.id,
            reward_ids=reject + approve,
            decision="reject",
            actor="test",
        )
        await session.commit()
    assert approved.approved == sorted(approve)
    assert refused.rejected == sorted(reject)
    assert refused.skipped == sorted(approve)  # approved already: a later reject leaves them

    report = await push_once(env.ctx, options=FAST)

    assert report.rewards_pushed == len(approve)
    async with env.ctx.sessions() as session:
        used_after = (await session.get(Campaign, campaign.id)).used_budget
        statuses = {
            r.id: r.status
            for r in (await session.scalars(select(Reward).where(Reward.id.in_(held)))).all()
        }
    assert used_after == used_before - rejected_amount == 10 * TOKENS
    assert {i: statuses[i] for i in approve} == dict.fromkeys(approve, "pushed")
    assert {i: statuses[i] for i in reject} == dict.fromkeys(reject, "cancelled")
    paid = {r.wallet: r.amount for r in by_interaction[first]}
    for member in ring:
        assert env.onchain(member) == paid.get(member, 0)
    await assert_consistent(env, ring)
