"""The scheduler hooks: jobs register under their names and one run drains the due outbox."""

from __future__ import annotations

from backend.core.scheduler import Scheduler
from backend.notifications import jobs
from backend.notifications.events import REWARDS_PUSHED
from backend.notifications.outbox import enqueue_event
from backend.runtime import monitors
from tests.factories import make_product
from tests.notifications.conftest import make_endpoint


async def test_register_jobs__webhooks_on_every_replica_monitor_on_leader(clean_db):
    scheduler = Scheduler(clean_db)
    added: list[tuple[str, float, bool]] = []

    def record(name, interval_s, fn, *, leader_only=True, run_at_start=True):
        added.append((name, interval_s, leader_only))

    scheduler.add_job = record  # type: ignore[method-assign]
    jobs.register_jobs(scheduler)
    monitors.register_jobs(scheduler)

    assert added == [("webhook_delivery", 2.0, False), ("monitors", 60.0, True)]


async def test_run_delivery_job__delivers_what_is_due(clean_db, db_session, receiver):
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, receiver.url)
    await enqueue_event(db_session, product.id, REWARDS_PUSHED, {"n": 1})
    await db_session.commit()

    await jobs.run_delivery_job(clean_db)

    assert len(receiver.hooks()) == 1
