"""The daily interaction counts the analytics read (`interaction_days`) always equal a
count of the raw rows: evaluated (off the queue), unflagged, per (product, UTC day, type),
whatever the batches, the flags, a crash or a claim flagged after its evaluation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from backend.core import migrate
from backend.evaluation.batch import evaluate_once
from backend.evaluation.faults import STEPS
from backend.interactions import days
from tests.conftest import TEST_SECRET
from tests.core.test_migrations import scratch_engine  # noqa: F401 - the fixture
from tests.evaluator.test_crash import KILLED, _run_evaluator, _seed
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import rows
from tests.interactions.test_attribution import _claim, _custom, _shop

RAW = """
    SELECT i.product_id, (i.received_at AT TIME ZONE 'UTC')::date AS day, i.type, count(*) AS n
    FROM interactions AS i
    WHERE i.product_id = ANY(CAST(:products AS varchar[])) AND i.flag IS NULL
      AND NOT EXISTS (SELECT 1 FROM evaluation_queue AS q WHERE q.interaction_id = i.id)
    GROUP BY 1, 2, 3
"""
ROLLUP = """
    SELECT product_id, day, type, count AS n FROM interaction_days
    WHERE product_id = ANY(CAST(:products AS varchar[])) AND count <> 0
"""
INSERT = """
    WITH stored AS (
        INSERT INTO interactions (product_id, wallet, type, data, flag, source, received_at)
        SELECT v.p, v.w, v.t, CAST(v.d AS jsonb), v.f, 'api_key', v.at
        FROM unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[]),
                    CAST(:types AS varchar[]), CAST(:datas AS text[]),
                    CAST(:flags AS varchar[]), CAST(:ats AS timestamptz[]))
             AS v(p, w, t, d, f, at)
        RETURNING id, product_id, received_at
    )
    INSERT INTO evaluation_queue (interaction_id, product_id, received_at)
    SELECT id, product_id, received_at FROM stored
"""
TYPES = ("webshop.open", "purchase.completed", "purchase.started", "referral.referred")
MIDNIGHT = datetime(2026, 3, 1, tzinfo=UTC)


async def _counts(db_session, products) -> tuple[dict, dict]:
    raw = await rows(db_session, RAW, products=products)
    rollup = await rows(db_session, ROLLUP, products=products)
    return (
        {(r.product_id, r.day, r.type): int(r.n) for r in raw},
        {(r.product_id, r.day, r.type): int(r.n) for r in rollup},
    )


async def _queued_claim(db_session, order_id: str) -> tuple[Any, Any]:
    """A product and one queued, unflagged purchase.started claim of `order_id` on it."""
    product, _ = await make_product(db_session)
    await db_session.execute(
        text(INSERT),
        {
            "products": [product.id],
            "wallets": [wallet()],
            "types": ["purchase.started"],
            "datas": [f'{{"order_id": "{order_id}"}}'],
            "flags": [None],
            "ats": [MIDNIGHT],
        },
    )
    await db_session.commit()
    [claim] = await rows(
        db_session, "SELECT id FROM interactions WHERE product_id = :p", p=product.id
    )
    return product, claim


interaction = st.tuples(
    st.integers(0, 1),  # product
    st.integers(0, 3),  # wallet
    st.sampled_from(TYPES),
    st.integers(-2, 2),  # day around MIDNIGHT
    st.sampled_from([0, 1, 12 * 3600, 86_399_999]),  # ms into the day: edges included
    st.sampled_from([None, None, None, "self_referral"]),
    st.integers(0, 3),  # the referrer's wallet (referral.referred)
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(interaction, min_size=1, max_size=40), limit=st.integers(1, 7))
async def test_rollup__any_interactions_and_batches__equals_raw_counts_after_every_batch(
    clean_db, db_session, items, limit
):
    made = [(await make_product(db_session))[0] for _ in range(2)]
    products = [p.id for p in made]
    await make_campaign(db_session, made[0], trigger="webshop.open")  # some batches pay
    people = [wallet() for _ in range(4)]
    await db_session.execute(
        text(INSERT),
        {
            "products": [products[p] for p, *_ in items],
            "wallets": [people[w] for _, w, *_ in items],
            "types": [t for _, _, t, *_ in items],
            "datas": [
                f'{{"referrer": "{people[r]}"}}' if t == "referral.referred" else "{}"
                for _, _, t, *_, r in items
            ],
            "flags": [f for *_, f, _ in items],
            "ats": [MIDNIGHT + timedelta(days=d, milliseconds=ms) for *_, d, ms, _, _ in items],
        },
    )
    await db_session.commit()

    while (
        await evaluate_once(clean_db.sessions, secret=TEST_SECRET, products=products, limit=limit)
    ).evaluated:
        raw, rollup = await _counts(db_session, products)
        assert rollup == raw
    raw, rollup = await _counts(db_session, products)
    assert rollup == raw
    # never flagged later: every unflagged interaction other than a referral claim counts
    plain = sum(1 for _, _, t, *_, f, _ in items if f is None and t != "referral.referred")
    assert sum(rollup.values()) >= plain


@pytest.mark.parametrize("step", STEPS)
async def test_rollup__evaluator_killed_at_step__restart_counts_each_interaction_once(
    client, db_session, clean_db, step
):
    campaign, _ = await _seed(client, db_session)
    products = [campaign.product_id]  # type: ignore[attr-defined]

    code, output = await asyncio.to_thread(
        _run_evaluator, clean_db.database_url, CASCADE_CRASH_AT=step
    )
    assert code == KILLED, output
    raw, rollup = await _counts(db_session, products)
    assert rollup == raw
    assert sum(rollup.values()) == (3 if step == "evaluation.committed" else 0)
    code, output = await asyncio.to_thread(_run_evaluator, clean_db.database_url)
    assert code == 0, output

    raw, rollup = await _counts(db_session, products)
    assert rollup == raw
    assert sorted((kind, n) for (_, _, kind), n in rollup.items()) == [
        ("purchase.completed", 3),
        ("referral.referred", 3),
    ]


async def test_rollup__evaluated_claim_flagged_by_the_shops_order__leaves_the_count(
    client, db_session
):
    product, _ = await _shop(db_session)
    thief, buyer = wallet(), wallet()
    await _claim(client, db_session, product.id, "C-7", who=thief)  # evaluated (waited)
    _, before = await _counts(db_session, [product.id])
    assert [(k[2], n) for k, n in before.items()] == [("purchase.started", 1)]

    response = await _custom(client, product.id, {"order_id": "C-7", "wallet": buyer})

    assert response.status_code == 200, response.text
    raw, rollup = await _counts(db_session, [product.id])
    assert rollup == raw
    assert sorted((k[2], n) for k, n in rollup.items()) == [("purchase.completed", 1)]


async def test_rollup__claim_flagged_while_its_batch_counts__counted_by_neither_side(
    clean_db, db_session
):
    """The evaluator's counting statement waits for an uncommitted flag on a claim, then
    leaves it out; the flagging side saw it still queued and took nothing off."""
    from backend.interactions import days

    product, claim = await _queued_claim(db_session, "X-1")
    async with clean_db.sessions() as flagging, clean_db.sessions() as evaluating:
        await flagging.execute(
            text("UPDATE interactions SET flag = 'attribution_disputed' WHERE id = :id"),
            {"id": claim.id},
        )
        await days.uncount(flagging, [claim.id])  # still queued: nothing to take off
        counting = asyncio.create_task(days.count_evaluated(evaluating, [(claim.id, MIDNIGHT)]))
        await asyncio.sleep(0.3)
        assert not counting.done()  # waits for the flag's transaction
        await flagging.commit()
        await counting
        await evaluating.execute(
            text("DELETE FROM evaluation_queue WHERE interaction_id = :id"), {"id": claim.id}
        )
        await evaluating.commit()
    raw, rollup = await _counts(db_session, [product.id])
    assert rollup == raw == {}


async def test_rollup__claim_flagged_after_its_batch_counted__taken_off_once_committed(
    clean_db, db_session
):
    """The flagging UPDATE waits for the evaluator's commit; the next statement sees the
    claim off the queue (a fresh snapshot) and takes it off the day it was counted on."""
    from backend.interactions import days

    product, claim = await _queued_claim(db_session, "X-2")

    async def flag(session) -> None:
        await session.execute(
            text("UPDATE interactions SET flag = 'attribution_disputed' WHERE id = :id"),
            {"id": claim.id},
        )
        await days.uncount(session, [claim.id])
        await session.commit()

    async with clean_db.sessions() as flagging, clean_db.sessions() as evaluating:
        await days.count_evaluated(evaluating, [(claim.id, MIDNIGHT)])
        await evaluating.execute(
            text("DELETE FROM evaluation_queue WHERE interaction_id = :id"), {"id": claim.id}
        )
        flagged = asyncio.create_task(flag(flagging))
        await asyncio.sleep(0.3)
        assert not flagged.done()  # waits for the evaluator's lock
        await evaluating.commit()
        await flagged
    raw, rollup = await _counts(db_session, [product.id])
    assert rollup == raw == {}
    [day] = await rows(
        db_session, "SELECT count FROM interaction_days WHERE product_id = :p", p=product.id
    )
    assert day.count == 0


async def test_migration__backfill__equals_raw_counts(scratch_engine):  # noqa: F811
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revision = script.get_revision("0015_interaction_days")
    assert revision is not None and isinstance(revision.down_revision, str)
    await migrate.upgrade(scratch_engine, revision.down_revision)
    product = "0x" + "ab" * 32
    async with scratch_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO products (id, name, primary_domain, domains, owner_wallet) "
                "VALUES (:p, 'Shop', 'shop.example', ARRAY['shop.example'], :w)"
            ),
            {"p": product, "w": wallet()},
        )
        items = [
            ("webshop.open", None, 0, 0),
            ("webshop.open", None, 0, 86_399_999),
            ("webshop.open", None, 1, 0),
            ("webshop.open", "self_referral", 1, 5),
            ("purchase.completed", None, 1, 7),
            ("purchase.completed", None, 1, 8),  # still queued: not evaluated
        ]
        for n, (kind, flag, day, ms) in enumerate(items):
            stored = await conn.scalar(
                text(
                    "INSERT INTO interactions (product_id, wallet, type, flag, source, "
                    "received_at) VALUES (:p, :w, :t, :f, 'api_key', :at) RETURNING id"
                ),
                {
                    "p": product,
                    "w": wallet(),
                    "t": kind,
                    "f": flag,
                    "at": MIDNIGHT + timedelta(days=day, milliseconds=ms),
                },
            )
            if n == len(items) - 1:
                await conn.execute(
                    text(
                        "INSERT INTO evaluation_queue (interaction_id, product_id) VALUES (:i, :p)"
                    ),
                    {"i": stored, "p": product},
                )

    await migrate.upgrade(scratch_engine)

    async with scratch_engine.connect() as conn:
        raw = {tuple(r[:3]): r[3] for r in await conn.execute(text(RAW), {"products": [product]})}
        rollup = {
            tuple(r[:3]): r[3] for r in await conn.execute(text(ROLLUP), {"products": [product]})
        }
    day0, day1 = MIDNIGHT.date(), (MIDNIGHT + timedelta(days=1)).date()
    assert (
        rollup
        == raw
        == {
            (product, day0, "webshop.open"): 2,
            (product, day1, "webshop.open"): 1,
            (product, day1, "purchase.completed"): 1,
        }
    )


async def _count_buffers(db_session, product_id: str, background: int) -> int:
    """Shared buffers `count_evaluated`'s statement touches for a batch of 50 stored after
    `background` other interactions (measured in a transaction rolled back)."""
    await db_session.execute(
        text(
            "INSERT INTO interactions (product_id, wallet, type, source) "
            "SELECT :p, 'w' || n, 'webshop.open', 'api_key' FROM generate_series(1, :n) AS n"
        ),
        {"p": product_id, "n": background},
    )
    await db_session.commit()
    batch = (
        await db_session.execute(
            text(
                "INSERT INTO interactions (product_id, wallet, type, source) "
                "SELECT :p, 'b' || n, 'webshop.open', 'api_key' FROM generate_series(1, 50) AS n "
                "RETURNING id, received_at"
            ),
            {"p": product_id},
        )
    ).all()
    plan = await db_session.scalar(
        text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + days.COUNT_SQL.text),
        {"ids": [r.id for r in batch], "ats": [r.received_at for r in batch]},
    )
    await db_session.rollback()
    top = plan[0]["Plan"]
    return int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])


async def test_rollup__count_of_a_batch__reads_the_same_pages_whatever_the_table_holds(
    db_session,
):
    # each interaction read by its primary key: a range of received_at over the partitioned
    # table once made the planner walk a whole index, a cost growing with the table
    product, _ = await make_product(db_session)
    product_id = product.id  # the commits below expire the ORM object

    small = await _count_buffers(db_session, product_id, 1_000)
    large = await _count_buffers(db_session, product_id, 60_000)

    assert large <= small * 1.5 + 20, (small, large)
