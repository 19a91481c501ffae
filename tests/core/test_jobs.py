"""serve and the demo run one set of jobs; the campaign and idempotency jobs do their work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.campaigns.models import Campaign
from backend.core.context import AppContext
from backend.core.models import IdempotencyKey
from backend.core.scheduler import Scheduler
from backend.runtime.jobs import expire_campaigns_job, purge_idempotency_job, register_all_jobs
from tests.factories import make_campaign, make_product


def _job_names(context: AppContext) -> set[str]:
    scheduler = Scheduler(context)
    register_all_jobs(scheduler)
    return {job.id for job in scheduler._scheduler.get_jobs()}


def test_register_all_jobs__names_every_background_job(settings, database_url, rpc_url):
    configured = settings.model_copy(
        update={"push_pull_address": "0x" + "11" * 20, "bank_factory_address": "0x" + "22" * 20}
    )
    assert _job_names(AppContext(configured, database_url, rpc_url)) == {
        "settlement.push",
        "relayer.track",
        "indexer",
        "webhook_delivery",
        "monitors",
        "campaigns.expire",
        "idempotency.purge",
        "notifications.produce",
        "interactions.api_key_usage",
        "interactions.partitions",
        "rewards.totals",
        "settlement.reconcile",
        "fraud.expire_holds",
        "fraud.purge_signals",
    }


def test_register_all_jobs__no_contracts_means_no_indexer(app_context):
    names = _job_names(app_context)
    assert "indexer" not in names and "settlement.push" in names
    assert "settlement.reconcile" not in names


async def test_expire_job__ends_campaigns_past_ends_at(db_session, clean_db):
    product, _ = await make_product(db_session)
    past = datetime.now(UTC) - timedelta(minutes=1)
    ended = await make_campaign(
        db_session, product, starts_at=past - timedelta(days=1), ends_at=past
    )
    running = await make_campaign(db_session, product, ends_at=past + timedelta(days=1))

    await expire_campaigns_job(clean_db)

    async with clean_db.sessions() as session:
        statuses = dict((await session.execute(select(Campaign.id, Campaign.status))).all())
    assert statuses == {ended.id: "expired", running.id: "active"}


async def test_purge_job__deletes_only_expired_idempotency_keys(db_session, clean_db):
    now = datetime.now(UTC)
    for key, expires in (("old", now - timedelta(seconds=1)), ("fresh", now + timedelta(hours=1))):
        db_session.add(
            IdempotencyKey(
                scope="api_key:x", key=key, request_hash="h", status="done", expires_at=expires
            )
        )
    await db_session.commit()

    await purge_idempotency_job(clean_db)

    async with clean_db.sessions() as session:
        keys = set((await session.scalars(select(IdempotencyKey.key))).all())
    assert keys == {"fresh"}
