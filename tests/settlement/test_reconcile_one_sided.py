"""Reconcile compares every (token, wallet) seen on either side, not only those on both.

A pushed row the chain never credited, and a chain credit no row accounts for, are
each a mismatch, reported by `reconcile` and raised as a critical alert by the
hourly job. So is a credit paid by a batch the database calls void: counting it as
"in flight" would hide a double payment.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from backend.core.models import Alert
from backend.rewards.models import Reward
from backend.runtime.jobs import reconcile_job
from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from backend.settlement.reconcile import Mismatch, reconcile
from tests.factories import wallet
from tests.settlement.conftest import FAST, TOKENS, Env


async def _settle(env: Env, wallets: list[str]) -> None:
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(w, TOKENS) for w in wallets])
    await push_once(env.ctx, options=FAST)
    report = await reconcile(env.ctx)
    assert report.mismatches == [] and report.pairs == len(wallets)


async def _open_alert_wallets(env: Env) -> list[tuple[str, str, str]]:
    """(wallet, database, chain) of the open reconcile alert's mismatches."""
    async with env.ctx.sessions() as session:
        alerts = (
            await session.scalars(
                select(Alert).where(Alert.code == "reconcile_mismatch", Alert.resolved_at.is_(None))
            )
        ).all()
    assert [(a.severity, a.subject) for a in alerts] == [("critical", "reconcile")]
    return [(m["wallet"], m["database"], m["chain"]) for m in alerts[0].details["mismatches"]]


async def test_reconcile__pushed_row_without_chain_credit__is_a_mismatch_and_alerts(env: Env):
    paid = [wallet(), wallet()]
    await _settle(env, paid)
    ghost = wallet()
    async with env.ctx.sessions() as session:
        batch = await session.scalar(
            select(SettlementBatch).where(SettlementBatch.status == "pushed")
        )
        assert batch is not None
        (row,) = await env.add_rewards(session, env.campaigns[0], [(ghost, 5 * TOKENS)])
        await session.execute(
            update(Reward)
            .where(Reward.id == row)
            .values(status="pushed", batch_id=batch.id, tx_hash=batch.mined_tx_hash)
        )
        await session.commit()

    report = await reconcile(env.ctx)

    assert report.mismatches == [Mismatch(env.token, ghost, 5 * TOKENS, 0)]
    assert report.pairs == 3
    await reconcile_job(env.ctx)
    assert await _open_alert_wallets(env) == [(ghost, str(5 * TOKENS), "0")]


async def test_reconcile__chain_credit_without_pushed_row__is_a_mismatch_and_alerts(env: Env):
    paid = [wallet(), wallet()]
    await _settle(env, paid)
    async with env.ctx.sessions() as session:
        await session.execute(delete(Reward).where(Reward.wallet == paid[1]))
        await session.commit()

    report = await reconcile(env.ctx)

    assert report.mismatches == [Mismatch(env.token, paid[1], 0, TOKENS)]
    await reconcile_job(env.ctx)
    assert await _open_alert_wallets(env) == [(paid[1], "0", str(TOKENS))]


async def test_reconcile__credit_paid_by_a_batch_marked_void__is_a_mismatch(env: Env):
    paid = [wallet()]
    await _settle(env, paid)
    async with env.ctx.sessions() as session:
        # what a recovery that voids without asking the bank about the nonce would leave
        await session.execute(update(SettlementBatch).values(status="void"))
        await session.execute(update(Reward).values(status="pending", batch_id=None))
        await session.commit()

    report = await reconcile(env.ctx)

    assert report.unrecorded_batches == 0
    assert report.mismatches == [Mismatch(env.token, paid[0], 0, TOKENS)]
