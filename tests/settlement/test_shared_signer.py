"""The pusher and the API's admin sends share the signer key without sharing a nonce."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from backend.campaigns.budgets import allocate, on_chain_budget
from backend.chain.nonces import SenderNonce, sender_lock
from backend.core.locks import advisory_lock
from backend.settlement.job import push_once
from backend.settlement.models import SettlementTransaction
from tests.factories import wallet
from tests.settlement.conftest import FAST, SIGNER, TOKENS, Env, assert_consistent


async def test_admin_send__waits_while_the_signer_lock_is_held(env: Env):
    campaign = env.campaigns[1]
    async with advisory_lock(env.ctx.engine, sender_lock(31337, SIGNER)):
        task = asyncio.create_task(allocate(env.ctx, env.bank, campaign, 5 * TOKENS))
        await asyncio.sleep(1.0)
        assert not task.done()  # a pusher between nonce choice and broadcast blocks it
    await asyncio.wait_for(task, 60)
    assert await on_chain_budget(env.ctx, env.bank, campaign) == (True, 5 * TOKENS)


async def test_admin_send__starts_at_the_stored_nonce_floor(env: Env):
    pending = env.w3.eth.get_transaction_count(SIGNER, "pending")
    async with env.ctx.sessions() as session:
        session.add(SenderNonce(chain_id=31337, sender=SIGNER, next_nonce=pending))
        await session.commit()
    tx_hash = await allocate(env.ctx, env.bank, env.campaigns[1], 7 * TOKENS)
    assert tx_hash is not None
    assert env.w3.eth.get_transaction(tx_hash)["nonce"] == pending


async def test_pushes_and_admin_sends_at_once__no_nonce_collision(env: Env):
    wallets = [wallet() for _ in range(12)]

    async def pusher() -> None:
        for round_ in range(3):
            async with env.ctx.sessions() as session:
                chunk = wallets[round_ * 4 : round_ * 4 + 4]
                await env.add_rewards(session, env.campaigns[0], [(w, TOKENS) for w in chunk])
            await push_once(env.ctx, options=FAST)

    async def admin() -> None:
        for step in range(1, 5):
            await allocate(env.ctx, env.bank, env.campaigns[1], step * TOKENS)

    await asyncio.gather(pusher(), admin())
    await push_once(env.ctx, options=FAST)  # settle whatever the last round left in flight

    async with env.ctx.sessions() as session:
        statuses = set((await session.scalars(select(SettlementTransaction.status))).all())
    assert statuses == {"mined"}  # nothing dropped or replaced: no nonce was taken twice
    assert await on_chain_budget(env.ctx, env.bank, env.campaigns[1]) == (True, 4 * TOKENS)
    await assert_consistent(env, wallets)
