"""The scheduler runs leader-only jobs on exactly one replica, and hands over when it stops."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from backend.core.config import Settings
from backend.core.context import AppContext
from backend.core.scheduler import Scheduler
from backend.rewards.models import Reward
from tests.factories import wallet
from tests.settlement.conftest import Env


async def test_scheduler__two_replicas__only_the_lock_holder_runs_then_hands_over(
    clean_db: AppContext,
):
    ran: list[str] = []

    def job(name: str):
        async def run(ctx: AppContext) -> None:
            ran.append(name)

        return run

    first, second = (
        Scheduler(clean_db, leader_lock="test-leader"),
        Scheduler(clean_db, leader_lock="test-leader"),
    )
    first.add_job("tick", 0.2, job("first"))
    second.add_job("tick", 0.2, job("second"))
    second.add_job("everywhere", 0.2, job("anyone"), leader_only=False)
    first.start()
    await asyncio.sleep(0.3)
    second.start()
    try:
        await asyncio.sleep(1.0)
        assert first.is_leader and not second.is_leader
        assert "first" in ran and "second" not in ran and "anyone" in ran

        await first.shutdown()
        ran.clear()
        await asyncio.sleep(1.0)
        assert second.is_leader
        assert "second" in ran and "first" not in ran
    finally:
        await first.shutdown()
        await second.shutdown()


async def test_create_app__run_jobs__push_job_settles_pending_rewards_at_start(
    settings: Settings, env: Env
):
    from backend.api.app import create_app

    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(wallet(), 5)])
    app = create_app(
        settings,
        database_url=env.ctx.database_url,
        rpc_url=env.ctx.rpc_url,
        context=env.ctx,
        run_jobs=True,
    )
    for hook in app.on_startup:  # the lifespan, on this test's event loop
        await hook(app)
    try:
        for _ in range(100):
            async with env.ctx.sessions() as session:
                if await session.scalar(select(Reward.status)) == "pushed":
                    break
            await asyncio.sleep(0.1)
    finally:
        for hook in app.on_shutdown:
            await hook(app)
    async with env.ctx.sessions() as session:
        assert await session.scalar(select(Reward.status)) == "pushed"


async def test_leader_only_jobs_starting_together__all_run_on_the_leader(clean_db):
    from backend.core.scheduler import Scheduler

    scheduler = Scheduler(clean_db, leader_lock="test-leader-race")
    ran: list[str] = []

    def job(name: str):
        async def run(_ctx) -> None:
            ran.append(name)

        return run

    for name in ("a", "b", "c", "d", "e"):
        scheduler.add_job(name, 3600, job(name), leader_only=True)
    scheduler.start()
    try:
        for _ in range(100):
            if len(ran) == 5:
                break
            await asyncio.sleep(0.05)
    finally:
        await scheduler.shutdown()
    assert sorted(ran) == ["a", "b", "c", "d", "e"]  # none skipped its first run
