"""`cascade reconcile`: zero mismatches after settlement, a mismatch when one is injected."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from sqlalchemy import select, update

from backend.rewards.models import Reward
from backend.settlement.job import push_once
from backend.settlement.reconcile import reconcile
from tests.factories import wallet
from tests.settlement.conftest import FAST, TOKENS, Env
from tests.settlement.subprocess_push import REPO, push_env


def _cli_reconcile(env: Env) -> tuple[int, str]:
    command = [
        sys.executable,
        "-c",
        "from backend.cli.main import cli; cli()",
        "reconcile",
        "--json",
    ]
    done = subprocess.run(
        command, cwd=REPO, env=push_env(env, 10), capture_output=True, timeout=120
    )
    return done.returncode, done.stdout.decode()


async def test_reconcile__after_settlement__no_mismatch_then_injected_one_found(env: Env):
    wallets = [wallet() for _ in range(4)]
    async with env.ctx.sessions() as session:
        for campaign in env.campaigns:
            await env.add_rewards(
                session, campaign, [(w, TOKENS + i) for i, w in enumerate(wallets)]
            )
    await push_once(env.ctx, options=FAST)

    report = await reconcile(env.ctx)
    assert report.source == "logs"
    assert report.pairs == 4 and report.mismatches == []
    code, out = await asyncio.to_thread(_cli_reconcile, env)
    assert code == 0 and json.loads(out)["mismatches"] == []

    async with env.ctx.sessions() as session:
        reward_id = await session.scalar(
            select(Reward.id).where(Reward.wallet == wallets[2]).limit(1)
        )
        await session.execute(update(Reward).where(Reward.id == reward_id).values(amount=1))
        await session.commit()

    report = await reconcile(env.ctx)
    assert [(m.wallet, m.chain - m.database) for m in report.mismatches] == [
        (wallets[2], TOKENS + 2 - 1)
    ]
    code, out = await asyncio.to_thread(_cli_reconcile, env)
    assert code == 1
    assert json.loads(out)["mismatches"][0]["wallet"] == wallets[2]


async def test_reconcile_job__mismatch_opens_critical_alert_and_fix_resolves_it(env: Env):
    from backend.core.models import Alert
    from backend.runtime.jobs import reconcile_job

    wallets = [wallet() for _ in range(2)]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(w, TOKENS) for w in wallets])
    await push_once(env.ctx, options=FAST)

    async def open_alerts() -> list[Alert]:
        async with env.ctx.sessions() as session:
            return list(
                await session.scalars(
                    select(Alert).where(
                        Alert.code == "reconcile_mismatch", Alert.resolved_at.is_(None)
                    )
                )
            )

    await reconcile_job(env.ctx)
    assert await open_alerts() == []

    async with env.ctx.sessions() as session:
        row = await session.scalar(select(Reward).where(Reward.wallet == wallets[0]))
        assert row is not None
        original = row.amount
        row.amount = original + 1
        await session.commit()
    await reconcile_job(env.ctx)
    alerts = await open_alerts()
    assert [(a.severity, a.subject) for a in alerts] == [("critical", "reconcile")]
    assert alerts[0].details["mismatches"][0]["wallet"] == wallets[0]

    async with env.ctx.sessions() as session:
        await session.execute(update(Reward).where(Reward.id == row.id).values(amount=original))
        await session.commit()
    await reconcile_job(env.ctx)
    assert await open_alerts() == []
