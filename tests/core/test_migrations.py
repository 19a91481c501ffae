"""The schema changes only through Alembic, and the migrations match the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.core import migrate
from backend.core.db import create_engine
from backend.interactions import partitions
from backend.models import metadata


@pytest.fixture
async def scratch_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """A separate empty database on the same server, so other tests keep theirs."""
    admin = create_engine(postgres_url, pool_size=1, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text("DROP DATABASE IF EXISTS cascade_scratch"))
        await conn.execute(text("CREATE DATABASE cascade_scratch"))
    base, _, query = postgres_url.partition("?")
    scratch_url = base.rsplit("/", 1)[0] + "/cascade_scratch" + (f"?{query}" if query else "")
    engine = create_engine(scratch_url, pool_size=1)
    yield engine
    await engine.dispose()
    async with admin.connect() as conn:
        await conn.execute(text("DROP DATABASE IF EXISTS cascade_scratch"))
    await admin.dispose()


async def _tables(engine: AsyncEngine) -> set[str]:
    """Every table but interactions' monthly partitions (made by a job, not by models)."""
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return {name for name in names if not partitions.is_partition(name)}


async def test_upgrade_downgrade_upgrade__round_trips_every_table(scratch_engine):
    expected = set(metadata.tables)

    await migrate.upgrade(scratch_engine)
    assert await _tables(scratch_engine) == expected | {"alembic_version"}
    assert await migrate.current_revision(scratch_engine) == migrate.head_revision()

    await migrate.downgrade(scratch_engine, "base")
    assert await _tables(scratch_engine) <= {"alembic_version"}
    assert await migrate.current_revision(scratch_engine) is None

    await migrate.upgrade(scratch_engine)
    assert await _tables(scratch_engine) == expected | {"alembic_version"}


async def test_models_and_migrations__agree(scratch_engine):
    await migrate.upgrade(scratch_engine)

    def diff(sync_conn):
        def include_object(obj, name, type_, reflected, compare_to):
            return not (type_ == "table" and partitions.is_partition(name))

        context = MigrationContext.configure(
            sync_conn, opts={"compare_type": True, "include_object": include_object}
        )
        return compare_metadata(context, metadata)

    async with scratch_engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_amount_columns__are_numeric_78_0(database_url):
    engine = create_engine(database_url, pool_size=1)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT table_name, column_name, numeric_precision, numeric_scale "
                    "FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type = 'numeric'"
                )
            )
        ).all()
    await engine.dispose()
    money_columns = {(r.table_name, r.column_name) for r in rows}
    assert ("rewards", "amount") in money_columns
    assert ("campaigns", "budget_cap") in money_columns
    assert ("settlement_batches", "total") in money_columns
    assert all((r.numeric_precision, r.numeric_scale) == (78, 0) for r in rows)


async def test_amount_type__stores_uint256_max_exactly(db_session):
    from backend.core.db import UINT256_MAX

    value = await db_session.scalar(
        text("SELECT CAST(:v AS NUMERIC(78,0)) + 0"), {"v": UINT256_MAX}
    )
    assert int(value) == UINT256_MAX


async def _product_at_old_revision(conn) -> str:
    product = "0x" + "ab" * 32
    await conn.execute(
        text(
            "INSERT INTO products (id, name, primary_domain, domains, owner_wallet) "
            "VALUES (:id, 'shop', 'shop.example', ARRAY['shop.example'], :owner)"
        ),
        {"id": product, "owner": "0x" + "11" * 20},
    )
    return product


async def test_referral_edges_migration__copies_accepted_claims_only(scratch_engine):
    await migrate.upgrade(scratch_engine, "0016_refused_epoch_ahead")
    a, b, c = ("0x" + d * 20 for d in ("aa", "bb", "cc"))
    async with scratch_engine.begin() as conn:
        product = await _product_at_old_revision(conn)
        insert = text(
            "INSERT INTO interactions (id, product_id, wallet, type, referrer_wallet, flag, "
            "source, received_at) VALUES (:id, :p, :w, :t, :r, :f, 'cli', CAST(:at AS timestamptz))"
        )
        for row in (
            (1, a, "referral.referred", b, None),  # accepted: an edge
            (2, a, "referral.referred", c, "already_referred"),  # refused claim
            (3, b, "referral.referred", a, "referral_cycle"),
            (4, c, "webshop.open", None, None),
            (5, c, "referral.referred", a, None),  # accepted
        ):
            iid, wallet, kind, referrer, flag = row
            await conn.execute(
                insert,
                {
                    "id": iid,
                    "p": product,
                    "w": wallet,
                    "t": kind,
                    "r": referrer,
                    "f": flag,
                    "at": datetime(2026, 12, iid, 10, tzinfo=UTC),
                },
            )

    await migrate.upgrade(scratch_engine)

    async with scratch_engine.connect() as conn:
        edges = (
            await conn.execute(
                text(
                    "SELECT product_id, wallet, referrer_wallet, interaction_id, "
                    "to_char(referred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day "
                    "FROM referral_edges ORDER BY interaction_id"
                )
            )
        ).all()
        claims = await conn.scalar(text("SELECT count(*) FROM interactions"))
    assert [tuple(e) for e in edges] == [
        (product, a, b, 1, "2026-12-01"),
        (product, c, a, 5, "2026-12-05"),
    ]
    assert claims == 5  # the claims themselves stay interactions


async def test_partition_migration__rows_ids_queue_and_sequence_survive_both_ways(
    scratch_engine,
):
    await migrate.upgrade(scratch_engine, "0017_referral_edges")
    now = datetime.now(UTC)
    times = [now - timedelta(days=70), now - timedelta(days=3), now]  # three months at most
    async with scratch_engine.begin() as conn:
        product = await _product_at_old_revision(conn)
        for iid, at in zip((7, 8, 9), times, strict=True):
            await conn.execute(
                text(
                    "INSERT INTO interactions (id, product_id, wallet, type, source, data, "
                    "received_at) VALUES (:id, :p, :w, 'webshop.open', 'cli', "
                    "CAST(:d AS jsonb), :at)"
                ),
                {"id": iid, "p": product, "w": "0x" + "aa" * 20, "d": f'{{"n": {iid}}}', "at": at},
            )
        await conn.execute(text("SELECT setval('interactions_id_seq', 9)"))
        await conn.execute(  # 9 waits for evaluation; 100 lost its interaction
            text(
                "INSERT INTO evaluation_queue (interaction_id, product_id) "
                "VALUES (9, :p), (100, :p)"
            ),
            {"p": product},
        )

    await migrate.upgrade(scratch_engine)

    async with scratch_engine.begin() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, data ->> 'n' AS n, received_at, tableoid::regclass::text AS part "
                    "FROM interactions ORDER BY id"
                )
            )
        ).all()
        queue = dict(
            (await conn.execute(text("SELECT interaction_id, received_at FROM evaluation_queue")))
            .tuples()
            .all()
        )
        queued_at = dict(
            (await conn.execute(text("SELECT interaction_id, queued_at FROM evaluation_queue")))
            .tuples()
            .all()
        )
        fresh = await conn.scalar(
            text(
                "INSERT INTO interactions (product_id, wallet, type, source) "
                "VALUES (:p, :w, 'webshop.open', 'cli') RETURNING id"
            ),
            {"p": product, "w": "0x" + "bb" * 20},
        )
    assert [(r.id, r.n, r.received_at) for r in rows] == [
        (iid, str(iid), at) for iid, at in zip((7, 8, 9), times, strict=True)
    ]
    assert [r.part for r in rows] == [
        partitions.partition_name(partitions.month_start(at)) for at in times
    ]
    assert queue[9] == times[2]  # the row's own received_at, which names its month
    assert queue[100] == queued_at[100]  # no interaction: any value (the evaluator drops it)
    assert fresh == 10  # the sequence carried on

    await migrate.downgrade(scratch_engine, "0017_referral_edges")

    async with scratch_engine.connect() as conn:
        kept = (await conn.execute(text("SELECT id FROM interactions ORDER BY id"))).scalars()
        assert list(kept) == [7, 8, 9, 10]
        assert await conn.scalar(text("SELECT count(*) FROM pg_inherits")) == 0
        assert await conn.scalar(text("SELECT nextval('interactions_id_seq')")) == 11
