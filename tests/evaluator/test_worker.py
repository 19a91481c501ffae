"""The background evaluator: woken by this process's stores, by NOTIFY from others, by a poll."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from backend.core import pg_events
from backend.evaluation import metrics
from backend.evaluation.batch import PRODUCT_LOCK_SPACE
from backend.evaluation.worker import Evaluator
from tests.evaluator.helpers import age_interactions, store
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import count


async def _evaluated_within(db_session, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if not await count(db_session, "SELECT count(*) FROM evaluation_queue"):
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"still queued after {seconds} s")


async def _raw_store(db_session, product_id: str) -> None:
    """An interaction stored by another process: rows only, no wake-up in this one."""
    interaction_id = await db_session.scalar(
        text(
            "INSERT INTO interactions (product_id, wallet, type, source) "
            "VALUES (:p, :w, 'webshop.open', 'cli') RETURNING id"
        ),
        {"p": product_id, "w": wallet()},
    )
    await db_session.execute(
        text(
            "INSERT INTO evaluation_queue (interaction_id, product_id, received_at) "
            "SELECT id, product_id, received_at FROM interactions WHERE id = :i"
        ),
        {"i": interaction_id},
    )


async def test_worker__interaction_stored_here__evaluated_without_waiting_for_the_poll(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    evaluator = Evaluator(clean_db, poll_s=30)
    await evaluator.start()
    try:
        await asyncio.sleep(0.2)  # the loop found nothing and sleeps
        await store(client, key, product.id, wallet(), "webshop.open")
        took = await _evaluated_within(db_session, 5)
    finally:
        await evaluator.stop()

    assert took < 1.0
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1


async def test_worker__notify_from_another_process__wakes_the_loop(db_session, clean_db):
    product, _ = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    evaluator = Evaluator(clean_db, poll_s=30)
    await evaluator.start()
    try:
        started = time.monotonic()
        while not pg_events.live():  # the loop's listening connection is up
            assert time.monotonic() - started < 10
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        await _raw_store(db_session, product.id)
        await db_session.execute(text("SELECT pg_notify('cascade_interactions', '')"))
        await db_session.commit()
        took = await _evaluated_within(db_session, 5)
    finally:
        await evaluator.stop()

    assert took < 1.0  # the poll would have taken 30 s


async def test_worker__no_notification__the_poll_finds_it(db_session, clean_db):
    product, _ = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    evaluator = Evaluator(clean_db, poll_s=0.3)
    await evaluator.start()
    try:
        await asyncio.sleep(0.1)
        await _raw_store(db_session, product.id)
        await db_session.commit()
        took = await _evaluated_within(db_session, 5)
    finally:
        await evaluator.stop()

    assert took < 2.0
    assert await count(db_session, "SELECT count(*) FROM rewards") == 1


async def test_worker__queue_held_elsewhere__oldest_age_gauge_shows_the_lag(db_session, clean_db):
    product, _ = await make_product(db_session)
    await _raw_store(db_session, product.id)
    await age_interactions(db_session, 4)
    evaluator = Evaluator(clean_db, poll_s=0.1)
    async with clean_db.engine.connect() as other:  # another evaluator holds the product
        await other.execute(
            text("SELECT pg_advisory_xact_lock(:s, hashtext(:p))"),
            {"s": PRODUCT_LOCK_SPACE, "p": product.id},
        )
        await evaluator.start()
        try:
            await asyncio.sleep(0.5)
            lag = metrics.QUEUE_OLDEST._value.get()  # the gauge as last set
        finally:
            await evaluator.stop()
        await other.rollback()

    assert 4.0 <= lag < 60


async def test_worker__two_processes_share_the_queue__each_interaction_once(
    client, db_session, clean_db
):
    products = [await make_product(db_session) for _ in range(4)]
    for product, _ in products:
        await make_campaign(db_session, product, trigger="webshop.open")
    evaluators = [Evaluator(clean_db, poll_s=0.2, batch_size=10) for _ in range(2)]
    for evaluator in evaluators:
        await evaluator.start()
    try:
        for n in range(120):
            product, key = products[n % 4]
            await store(client, key, product.id, wallet(), "webshop.open")
        await _evaluated_within(db_session, 20)
    finally:
        for evaluator in evaluators:
            await evaluator.stop()

    assert await count(db_session, "SELECT count(*) FROM rewards") == 120
    twice = (
        "SELECT count(*) FROM (SELECT 1 FROM rewards GROUP BY interaction_id HAVING count(*) > 1) d"
    )
    assert await count(db_session, twice) == 0


async def test_api_process__forwards_its_stores__first_at_once_then_one_per_window(
    clean_db, monkeypatch
):
    """With the evaluator in another process, this process's stores reach it by NOTIFY: the
    first store of a quiet spell at once, the stores within the window after it as one."""
    from backend.core.pg_events import Listener
    from backend.evaluation import worker

    monkeypatch.setattr(worker, "FORWARD_S", 1.5)
    heard: list[float] = []
    first = asyncio.Event()

    def hear(_payload: str) -> None:
        heard.append(time.monotonic())
        first.set()

    ear = Listener(clean_db.database_url, name="test-ear")
    ear.subscribe(pg_events.INTERACTIONS, hear)
    ear.start()
    api = Evaluator(clean_db, mode="process")
    await api.start()
    try:
        assert api.listener is not None
        await asyncio.wait_for(ear.connected.wait(), 10)
        await asyncio.wait_for(api.listener.connected.wait(), 10)
        started = time.monotonic()
        pg_events.dispatch(pg_events.QUEUED_HERE, "p1")
        await asyncio.wait_for(first.wait(), 1.0)  # not held for the window
        assert len(heard) == 1 and heard[0] - started < 1.0  # not held for the window
        for _ in range(3):  # within the window: one more notification, at its end
            pg_events.dispatch(pg_events.QUEUED_HERE, "p1")
        await asyncio.sleep(2.5)
        assert len(heard) == 2
        assert heard[1] - heard[0] >= 1.4
    finally:
        await api.stop()
        await ear.stop()
