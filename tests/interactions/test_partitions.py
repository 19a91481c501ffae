"""Raw interactions live in monthly partitions; the job creates months ahead and drops the
months past the retention period, never one an interaction waiting for evaluation is in,
and never anything outside raw interactions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from backend.core import migrate
from backend.core.config import Settings
from backend.core.models import Alert
from backend.interactions import partitions
from tests.core.test_migrations import scratch_engine  # noqa: F401 - the fixture
from tests.evaluator.helpers import drain, store
from tests.factories import make_campaign, make_product, wallet

PRODUCT = "0x" + "ab" * 32
A, B = "0x" + "aa" * 20, "0x" + "bb" * 20


def at(year: int, month: int, day: int = 15) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


async def _partitions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        names = await conn.scalars(partitions.PARTITIONS_SQL, {"table": "interactions"})
        return sorted(names)


async def _where(engine: AsyncEngine) -> dict[int, str]:
    """interaction id -> the partition holding it."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, tableoid::regclass::text AS part FROM interactions ORDER BY id")
        )
        return {row.id: row.part for row in rows}


async def _insert(engine: AsyncEngine, received_at: datetime, *, queued: bool = False) -> int:
    async with engine.begin() as conn:
        iid = await conn.scalar(
            text(
                "INSERT INTO interactions (product_id, wallet, type, source, received_at) "
                "VALUES (:p, :w, 'webshop.open', 'cli', :at) RETURNING id"
            ),
            {"p": PRODUCT, "w": A, "at": received_at},
        )
        if queued:
            await conn.execute(
                text(
                    "INSERT INTO evaluation_queue (interaction_id, product_id, received_at) "
                    "VALUES (:i, :p, :at)"
                ),
                {"i": iid, "p": PRODUCT, "at": received_at},
            )
        return int(iid)


async def _scratch_with_product(engine: AsyncEngine) -> async_sessionmaker:
    await migrate.upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO products (id, name, primary_domain, domains, owner_wallet) "
                "VALUES (:id, 'shop', 'shop.example', ARRAY['shop.example'], :owner)"
            ),
            {"id": PRODUCT, "owner": B},
        )
    return async_sessionmaker(engine, expire_on_commit=False)


async def test_migration__this_month_and_three_ahead__plus_a_default(scratch_engine):  # noqa: F811
    await migrate.upgrade(scratch_engine)
    now = datetime.now(UTC)
    month = partitions.month_start(now)
    expected = {partitions.DEFAULT}
    for _ in range(partitions.MONTHS_AHEAD + 1):
        expected.add(partitions.partition_name(month))
        month = partitions.next_month(month)

    assert set(await _partitions(scratch_engine)) == expected


async def test_store__through_the_api__row_in_this_month_and_evaluated(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    iid = await store(client, key, product.id, wallet(), "webshop.open")

    await drain(clean_db)

    part = await db_session.scalar(
        text("SELECT tableoid::regclass::text FROM interactions WHERE id = :i"), {"i": iid}
    )
    assert part == partitions.partition_name(partitions.month_start(datetime.now(UTC)))
    rewarded = await db_session.scalar(
        text("SELECT count(*) FROM rewards WHERE interaction_id = :i"), {"i": iid}
    )
    assert rewarded == 1  # the evaluator found the row through its month


async def test_maintain__month_created_later__takes_its_rows_out_of_the_default(
    scratch_engine,  # noqa: F811
    caplog,
):
    caplog.set_level(logging.INFO, logger="backend.interactions")
    sessions = await _scratch_with_product(scratch_engine)
    far = partitions.month_start(datetime.now(UTC)) + timedelta(days=31 * 6)
    early = await _insert(scratch_engine, far + timedelta(days=3))
    assert (await _where(scratch_engine))[early] == partitions.DEFAULT

    async with sessions() as session:
        done = await partitions.maintain(session, far, retention_days=0)

    assert partitions.partition_name(far) in done.created
    [said] = [r for r in caplog.records if r.getMessage() == "interaction partitions maintained"]
    assert said.months_created == done.created  # type: ignore[attr-defined]
    assert (await _where(scratch_engine))[early] == partitions.partition_name(far)
    late = await _insert(scratch_engine, far + timedelta(days=4))
    assert (await _where(scratch_engine))[late] == partitions.partition_name(far)
    assert late > early  # one sequence across the months


async def test_maintain__retention__drops_old_months_only_and_keeps_everything_else(
    scratch_engine,  # noqa: F811
):
    sessions = await _scratch_with_product(scratch_engine)
    async with sessions() as session:  # months of a year ago exist as they would have
        await partitions.maintain(session, at(2025, 1), retention_days=0)
    january = await _insert(scratch_engine, at(2025, 1))
    waiting = await _insert(scratch_engine, at(2025, 2), queued=True)  # evaluation pending
    recent = await _insert(scratch_engine, at(2026, 11, 20))  # before the first month: default
    async with scratch_engine.begin() as conn:  # what outlives raw interactions
        await conn.execute(
            text(
                "INSERT INTO referral_edges (product_id, wallet, referrer_wallet, "
                "interaction_id, referred_at) VALUES (:p, :w, :r, :i, :at)"
            ),
            {"p": PRODUCT, "w": A, "r": B, "i": january, "at": at(2025, 1)},
        )
        await conn.execute(
            text(
                "INSERT INTO interaction_days (product_id, day, type, count) "
                "VALUES (:p, '2025-01-15', 'webshop.open', 1)"
            ),
            {"p": PRODUCT},
        )
    now = at(2026, 12, 6)

    async with sessions() as session:
        done = await partitions.maintain(session, now, retention_days=90)

    assert done.dropped == [
        "interactions_y2025m01",
        "interactions_y2025m03",
        "interactions_y2025m04",
    ]
    assert done.kept_waiting == ["interactions_y2025m02"]
    left = await _where(scratch_engine)
    assert january not in left
    assert left[waiting] == "interactions_y2025m02"
    assert left[recent] == partitions.DEFAULT
    async with scratch_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM referral_edges")) == 1
        assert await conn.scalar(text("SELECT sum(count) FROM interaction_days")) == 1

    async with scratch_engine.begin() as conn:  # evaluated at last: its month may go
        await conn.execute(text("DELETE FROM evaluation_queue"))
    async with sessions() as session:
        done = await partitions.maintain(session, now, retention_days=90)
    assert (done.dropped, done.kept_waiting) == (["interactions_y2025m02"], [])
    assert waiting not in await _where(scratch_engine)


async def test_maintain__retention__old_rows_in_the_default_purged_unless_queued(
    scratch_engine,  # noqa: F811
):
    sessions = await _scratch_with_product(scratch_engine)  # no month of 2025 exists
    old = await _insert(scratch_engine, at(2025, 5))
    queued = await _insert(scratch_engine, at(2025, 5), queued=True)
    fresh = await _insert(scratch_engine, at(2026, 11, 20))

    async with sessions() as session:
        done = await partitions.maintain(session, at(2026, 12, 6), retention_days=30)

    assert done.purged_default == 1
    left = await _where(scratch_engine)
    assert old not in left and queued in left and fresh in left


async def test_maintain__no_retention__drops_nothing(scratch_engine):  # noqa: F811
    sessions = await _scratch_with_product(scratch_engine)
    async with sessions() as session:
        await partitions.maintain(session, at(2025, 1), retention_days=0)
    old = await _insert(scratch_engine, at(2025, 1))

    async with sessions() as session:
        done = await partitions.maintain(session, at(2026, 12, 6), retention_days=0)

    assert done.dropped == [] and done.purged_default == 0
    assert old in await _where(scratch_engine)


def test_expired__month_ends_before_the_cutoff__only_those():
    names = ["interactions_y2026m09", "interactions_y2026m10", partitions.DEFAULT, "other"]
    cutoff_day = at(2026, 12, 1) - timedelta(days=31)  # 2026-10-31: October not yet over

    found = partitions.expired(names, at(2026, 12, 1), retention_days=31)

    assert found == [("interactions_y2026m09", datetime(2026, 9, 1, tzinfo=UTC))]
    assert cutoff_day < datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize("days", [1, 6])
def test_settings__retention_shorter_than_a_week__refused(days):
    with pytest.raises(ValidationError, match="at least 7 days"):
        Settings(interaction_retention_days=days)


@pytest.mark.parametrize("days", [0, 7, 400])
def test_settings__retention_zero_or_a_week_or_more__accepted(days):
    assert Settings(interaction_retention_days=days).interaction_retention_days == days


async def test_default_partition__rows_no_month_covers__alerted_until_moved_out(
    scratch_engine,  # noqa: F811
):
    sessions = await _scratch_with_product(scratch_engine)
    far = partitions.month_start(datetime.now(UTC)) + timedelta(days=31 * 6)
    await _insert(scratch_engine, far + timedelta(days=3))
    await _insert(scratch_engine, far + timedelta(days=4))

    async with sessions() as session:
        report = await partitions.check_default_partition(session)
        await session.commit()
        [alert] = await _open_alerts(session)
    assert report == {"interactions_default_rows": 2}
    assert (alert.severity, alert.subject, alert.details["rows"]) == (
        "warning",
        partitions.DEFAULT,
        2,
    )

    async with sessions() as session:
        await partitions.maintain(session, far, retention_days=0)  # the month, rows moved in
    async with sessions() as session:
        report = await partitions.check_default_partition(session)
        await session.commit()
        assert await _open_alerts(session) == []
    assert report == {"interactions_default_rows": 0}


async def _open_alerts(session) -> list[Alert]:
    query = select(Alert).where(
        Alert.code == "interactions_unpartitioned", Alert.resolved_at.is_(None)
    )
    return list(await session.scalars(query))
