"""Every background job of a running Cascade, registered on one scheduler.

`cascade serve` (through create_app(run_jobs=True)) and `cascade demo` both call
`register_all_jobs`, so the two can never run different sets of jobs.
"""

from __future__ import annotations

import logging

from backend.core.context import AppContext
from backend.core.db import job_session
from backend.core.scheduler import Scheduler

CAMPAIGN_EXPIRY_INTERVAL_S = 60
IDEMPOTENCY_PURGE_INTERVAL_S = 3600
RECONCILE_INTERVAL_S = 3600
EVENT_PRODUCER_INTERVAL_S = 5
API_KEY_USAGE_INTERVAL_S = 30
PARTITIONS_INTERVAL_S = 6 * 3600
REWARD_TOTALS_INTERVAL_S = 300

log = logging.getLogger(__name__)


async def expire_campaigns_job(ctx: AppContext) -> None:
    """Campaigns past ends_at become expired even when no interaction arrives."""
    from backend.campaigns.transitions import expire_campaigns

    async with ctx.sessions() as session:
        await expire_campaigns(session)


async def purge_idempotency_job(ctx: AppContext) -> None:
    """Stored responses of creating POSTs are kept 24 h, then deleted."""
    from backend.core.idempotency import purge_expired

    async with job_session(ctx.sessions) as session:
        await purge_expired(session)


async def produce_events_job(ctx: AppContext) -> None:
    """Owner webhooks for what other jobs and requests committed (see producers.py)."""
    from backend.notifications.producers import produce_events

    await produce_events(ctx)


async def api_key_usage_job(ctx: AppContext) -> None:
    """API keys' last use, counted in memory by ingestion, written in one statement."""
    from backend.interactions.callers import flush_usage

    await flush_usage(ctx.sessions)


async def interaction_partitions_job(ctx: AppContext) -> None:
    """Next months of interactions created ahead; months past the retention dropped."""
    from datetime import UTC, datetime

    from backend.interactions.partitions import maintain

    async with ctx.sessions() as session:  # maintain commits (or rolls back) itself
        await maintain(session, datetime.now(UTC), ctx.settings.interaction_retention_days)


async def reward_totals_job(ctx: AppContext) -> None:
    """The campaign analytics' change rows folded, so a read sums a few rows per status."""
    from backend.rewards.totals import compact

    async with job_session(ctx.sessions) as session:
        folded, kept = await compact(session)
    if folded:
        log.info("reward totals folded", extra={"rows_folded": folded, "rows_kept": kept})


async def reconcile_job(ctx: AppContext) -> None:
    """Database vs chain every hour; a mismatch is a critical alert until it is gone."""
    from backend.settlement.reconcile import reconcile_and_alert

    await reconcile_and_alert(ctx)


def register_all_jobs(scheduler: Scheduler) -> None:
    from backend.fraud.jobs import register_jobs as fraud_jobs
    from backend.notifications.jobs import register_jobs as webhook_jobs
    from backend.relayer.job import register_jobs as relayer_jobs
    from backend.runtime.monitors import register_jobs as monitor_jobs
    from backend.settlement.job import register_jobs as settlement_jobs
    from indexer.jobs import register_jobs as indexer_jobs

    for register in (
        settlement_jobs,
        relayer_jobs,
        indexer_jobs,
        webhook_jobs,
        monitor_jobs,
        fraud_jobs,
    ):
        register(scheduler)
    scheduler.add_job("campaigns.expire", CAMPAIGN_EXPIRY_INTERVAL_S, expire_campaigns_job)
    scheduler.add_job("idempotency.purge", IDEMPOTENCY_PURGE_INTERVAL_S, purge_idempotency_job)
    scheduler.add_job("notifications.produce", EVENT_PRODUCER_INTERVAL_S, produce_events_job)
    scheduler.add_job("interactions.partitions", PARTITIONS_INTERVAL_S, interaction_partitions_job)
    scheduler.add_job("rewards.totals", REWARD_TOTALS_INTERVAL_S, reward_totals_job)
    # every process counts its own requests: not leader-only (the evaluator itself runs in
    # every process with the app, see backend.evaluation.worker)
    scheduler.add_job(
        "interactions.api_key_usage",
        API_KEY_USAGE_INTERVAL_S,
        api_key_usage_job,
        leader_only=False,
        run_at_start=False,
    )
    if scheduler.ctx.settings.push_pull_address:  # nothing on-chain to compare without it
        scheduler.add_job("settlement.reconcile", RECONCILE_INTERVAL_S, reconcile_job)
