"""The reward totals the campaign analytics read (`reward_totals`, `reward_wallet_totals`)
always equal an aggregate of the reward rows, whatever statements wrote them: inserts,
status moves of any subset, holds and reviews, cancellations, deletions, a campaign
deleted, and the compaction in between."""

from __future__ import annotations

from typing import Any

from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from backend.core import migrate
from backend.rewards.totals import compact
from tests.core.test_migrations import (
    _product_at_old_revision,
    scratch_engine,  # noqa: F401 - the fixture
)
from tests.factories import TEST_TOKEN, make_campaign, make_product, wallet
from tests.interactions.helpers import rows

# `batched` needs a settlement batch row; to a totals row it is one more status string
STATUSES = ("pending", "pushed", "cancelled", "held")
# cancellations: a rule's refusal (its codes), a review's rejection (the hold reasons), other
REFUSALS = ("fraud: velocity,same_device", "fraud review: rejected by ops", "refunded")
RAW_STATUS = """
    SELECT campaign_id, status, count(*) AS n, sum(amount) AS amount,
           count(*) FILTER (WHERE hold_reasons IS NOT NULL) AS held
    FROM rewards WHERE product_id = :p GROUP BY 1, 2
"""
TOTAL_STATUS = """
    SELECT t.campaign_id, t.status, sum(t.n) AS n, sum(t.amount) AS amount, sum(t.held) AS held
    FROM reward_totals AS t JOIN campaigns AS c ON c.id = t.campaign_id
    WHERE c.product_id = :p GROUP BY 1, 2 HAVING sum(t.n) <> 0
"""
RAW_WALLETS = """
    SELECT campaign_id, wallet, count(*) AS live, count(*) FILTER (WHERE level >= 1) AS referred,
           coalesce(sum(amount) FILTER (WHERE level >= 1), 0) AS referred_amount
    FROM rewards WHERE product_id = :p AND status <> 'cancelled' GROUP BY 1, 2
"""
TOTAL_WALLETS = """
    SELECT t.campaign_id, t.wallet, t.live, t.referred, t.referred_amount
    FROM reward_wallet_totals AS t JOIN campaigns AS c ON c.id = t.campaign_id
    WHERE c.product_id = :p AND t.live <> 0
"""

# the fraud breakdown as the analytics computed it from the reward rows before 0022
RAW_FRAUD = """
    WITH r AS (
        SELECT campaign_id, (created_at AT TIME ZONE 'UTC')::date AS day, amount, hold_reasons,
               CASE WHEN status = 'cancelled' AND cancelled_reason LIKE 'fraud: %'
                    THEN string_to_array(substr(cancelled_reason, 8), ',')
                    WHEN status = 'cancelled' AND cancelled_reason LIKE 'fraud review: rejected%'
                    THEN hold_reasons END AS rejected
        FROM rewards
        WHERE product_id = :p AND (hold_reasons IS NOT NULL OR cancelled_reason LIKE 'fraud%')
    ), tagged AS (
        SELECT campaign_id, day, amount, 'held' AS outcome, unnest(hold_reasons) AS reason
        FROM r WHERE hold_reasons IS NOT NULL
        UNION ALL
        SELECT campaign_id, day, amount, 'rejected', unnest(rejected) FROM r
        WHERE rejected IS NOT NULL
    )
    SELECT campaign_id, day, reason, outcome, count(*) AS n, sum(amount) AS amount
    FROM tagged GROUP BY 1, 2, 3, 4
"""
TOTAL_FRAUD = """
    SELECT t.campaign_id, t.day, t.reason, t.outcome, sum(t.n) AS n, sum(t.amount) AS amount
    FROM reward_fraud_totals AS t JOIN campaigns AS c ON c.id = t.campaign_id
    WHERE c.product_id = :p GROUP BY 1, 2, 3, 4 HAVING sum(t.n) <> 0
"""


async def _assert_totals_match(session, product: str) -> None:
    def keyed(found, key: int) -> dict[Any, tuple[int, ...]]:
        return {tuple(r[:key]): tuple(int(v) for v in r[key:]) for r in found}

    assert keyed(await rows(session, TOTAL_STATUS, p=product), 2) == keyed(
        await rows(session, RAW_STATUS, p=product), 2
    )
    assert keyed(await rows(session, TOTAL_WALLETS, p=product), 2) == keyed(
        await rows(session, RAW_WALLETS, p=product), 2
    )
    assert keyed(await rows(session, TOTAL_FRAUD, p=product), 4) == keyed(
        await rows(session, RAW_FRAUD, p=product), 4
    )


reward = st.tuples(
    st.integers(0, 1),  # campaign
    st.integers(0, 2),  # wallet
    st.integers(0, 2),  # level
    st.integers(1, 10**20),  # amount
    st.sampled_from(STATUSES),
    st.integers(0, 2),  # days ago
)
step = st.one_of(
    st.tuples(st.just("insert"), st.lists(reward, min_size=1, max_size=6)),
    st.tuples(st.just("move"), st.sampled_from(STATUSES), st.integers(0, 2**16)),
    st.tuples(st.just("hold"), st.integers(0, 2**16)),
    st.tuples(st.just("refuse"), st.sampled_from(REFUSALS), st.integers(0, 2**16)),
    st.tuples(st.just("delete"), st.integers(0, 2**16)),
    st.tuples(st.just("compact"), st.integers(0, 3)),
    st.tuples(st.just("drop_campaign"), st.integers(0, 1)),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(step, min_size=1, max_size=12))
async def test_totals__any_statements__equal_the_rows_after_every_commit(
    clean_db, db_session, steps
):
    await db_session.rollback()  # the session outlives an example that failed
    product, _ = await make_product(db_session)
    campaigns = [(await make_campaign(db_session, product)).id for _ in range(2)]
    people = [wallet() for _ in range(3)]
    await db_session.commit()
    interaction = 0
    for kind, *args in steps:
        if kind == "insert":
            for c, w, level, amount, status, days_ago in args[0]:
                interaction += 1
                await db_session.execute(
                    text(
                        "INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, "
                        "level, token, amount, status, batch_id, hold_reasons, created_at) "
                        "SELECT :p, :c, :i, :w, :l, :t, :a, :s, NULL, "
                        "CASE WHEN CAST(:s AS varchar) = 'held' THEN ARRAY['velocity'] END, "
                        "now() - make_interval(days => :d) "
                        "WHERE EXISTS (SELECT 1 FROM campaigns WHERE id = :c)"
                    ),
                    {
                        "s": status,
                        "p": product.id,
                        "c": campaigns[c],
                        "i": interaction,
                        "w": people[w],
                        "l": level,
                        "t": TEST_TOKEN,
                        "a": amount,
                        "d": days_ago,
                    },
                )
        elif kind == "move":  # a subset of rows (picked by the bits of a mask) to a status
            status, mask = args
            await db_session.execute(
                text(
                    "UPDATE rewards SET status = :s, updated_at = now() "
                    "WHERE product_id = :p AND (:m >> (id % 16)::int) & 1 = 1"
                ),
                {"s": status, "p": product.id, "m": mask},
            )
        elif kind == "hold":  # a rule held some: hold_reasons stays after a review
            await db_session.execute(
                text(
                    "UPDATE rewards SET hold_reasons = ARRAY['same_device'] "
                    "WHERE product_id = :p AND (:m >> (id % 16)::int) & 1 = 1"
                ),
                {"p": product.id, "m": args[0]},
            )
        elif kind == "refuse":
            reason, mask = args
            await db_session.execute(
                text(
                    "UPDATE rewards SET status = 'cancelled', cancelled_reason = :r "
                    "WHERE product_id = :p AND (:m >> (id % 16)::int) & 1 = 1"
                ),
                {"r": reason, "p": product.id, "m": mask},
            )
        elif kind == "delete":
            await db_session.execute(
                text(
                    "DELETE FROM rewards WHERE product_id = :p AND (:m >> (id % 16)::int) & 1 = 1"
                ),
                {"p": product.id, "m": args[0]},
            )
        elif kind == "compact":
            await compact(db_session, keep=args[0])
        else:  # the campaign deleted: its rewards and totals go with it
            await db_session.execute(
                text("DELETE FROM campaigns WHERE id = :c"), {"c": campaigns[args[0]]}
            )
        await db_session.commit()
        await _assert_totals_match(db_session, product.id)


async def test_compact__folds_a_busy_campaign_into_one_row_per_status(clean_db, db_session):
    product, _ = await make_product(db_session)
    campaign = await make_campaign(db_session, product)
    for n in range(20):  # twenty statements: twenty change rows
        await db_session.execute(
            text(
                "INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, level, "
                "token, amount, status) VALUES (:p, :c, :i, :w, 0, :t, 5, 'pending')"
            ),
            {"p": product.id, "c": campaign.id, "i": n, "w": wallet(), "t": TEST_TOKEN},
        )
    await db_session.execute(
        text("UPDATE rewards SET status = 'pushed' WHERE campaign_id = :c AND interaction_id < 5"),
        {"c": campaign.id},
    )
    await db_session.commit()
    count = "SELECT count(*) FROM reward_totals WHERE campaign_id = :c"
    assert await db_session.scalar(text(count), {"c": campaign.id}) == 22  # 20 + pending, pushed
    folded, kept = await compact(db_session)
    await db_session.commit()
    assert (folded, kept) == (22, 2)
    assert await db_session.scalar(text(count), {"c": campaign.id}) == 2
    await _assert_totals_match(db_session, product.id)
    assert await compact(db_session) == (0, 0)  # nothing busy any more


async def _campaign_before(engine, revision_id: str) -> tuple[str, Any]:
    """The schema migrated to just before `revision_id`, with a product and a campaign."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revision = script.get_revision(revision_id)
    assert revision is not None and isinstance(revision.down_revision, str)
    await migrate.upgrade(engine, revision.down_revision)
    async with engine.begin() as conn:
        product = await _product_at_old_revision(conn)
        campaign = await conn.scalar(
            text(
                "INSERT INTO campaigns (id, product_id, chain_campaign_id, name, trigger, token, "
                "reward_type, reward_config, user_bps, decay_bps, max_depth, requires_referral, "
                "status) VALUES (gen_random_uuid(), :p, :chain, 'c', 'webshop.open', :t, "
                "'fixed', '{\"amount\": \"1\"}', 5000, 8000, 2, false, 'active') RETURNING id"
            ),
            {"p": product, "chain": "0x" + revision_id[:4].rjust(64, "1"), "t": TEST_TOKEN},
        )
    return product, campaign


async def test_migration__backfill__equals_the_rows(scratch_engine):  # noqa: F811
    product, campaign = await _campaign_before(scratch_engine, "0019_reward_totals")
    async with scratch_engine.begin() as conn:
        people = [wallet() for _ in range(3)]
        for n, (who, level, amount, status, held) in enumerate(
            [
                (0, 0, 10, "pending", False),
                (1, 1, 20, "pushed", False),
                (1, 1, 30, "cancelled", True),
                (2, 2, 40, "held", True),
                (0, 0, 50, "pushed", False),
            ]
        ):
            await conn.execute(
                text(
                    "INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, level, "
                    "token, amount, status, batch_id, hold_reasons) VALUES (:p, :c, :i, :w, :l, "
                    ":t, :a, :s, NULL, CASE WHEN CAST(:h AS boolean) THEN ARRAY['velocity'] END)"
                ),
                {
                    "p": product,
                    "c": campaign,
                    "i": n,
                    "w": people[who],
                    "l": level,
                    "t": TEST_TOKEN,
                    "a": amount,
                    "s": status,
                    "h": held,
                },
            )
    await migrate.upgrade(scratch_engine)
    async with scratch_engine.connect() as conn:
        await _assert_totals_match(conn, product)
        wallets = await rows(conn, TOTAL_WALLETS, p=product)
        assert sorted((int(r.live), int(r.referred)) for r in wallets) == [(1, 1), (1, 1), (2, 0)]


async def test_migration_0022__fraud_backfill__equals_the_rows(scratch_engine):  # noqa: F811
    product, campaign = await _campaign_before(scratch_engine, "0022_reward_fraud_totals")
    async with scratch_engine.begin() as conn:
        for n, (status, held, reason, days_ago) in enumerate(
            [
                ("pending", False, None, 0),
                ("held", True, None, 0),
                ("pushed", True, None, 1),  # held, then released by a review
                ("cancelled", False, "fraud: velocity,same_device", 0),
                ("cancelled", True, "fraud review: rejected", 2),
                ("cancelled", False, "refunded", 0),
            ]
        ):
            await conn.execute(
                text(
                    "INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, level, "
                    "token, amount, status, hold_reasons, cancelled_reason, created_at) VALUES "
                    "(:p, :c, :i, :w, 0, :t, :a, :s, "
                    "CASE WHEN CAST(:h AS boolean) THEN ARRAY['velocity', 'new_wallet'] END, "
                    ":r, now() - make_interval(days => :d))"
                ),
                {
                    "p": product,
                    "c": campaign,
                    "i": n,
                    "w": wallet(),
                    "t": TEST_TOKEN,
                    "a": 10 * (n + 1),
                    "s": status,
                    "h": held,
                    "r": reason,
                    "d": days_ago,
                },
            )
    await migrate.upgrade(scratch_engine)
    async with scratch_engine.connect() as conn:
        await _assert_totals_match(conn, product)
        tags = await rows(conn, TOTAL_FRAUD, p=product)
        # held: 3 rewards x 2 reasons; rejected: 2 codes of one refusal, 2 of one review
        assert sorted((r.outcome, int(r.n)) for r in tags) == sorted(
            [("held", 1), ("held", 1), ("held", 1), ("held", 1), ("held", 1), ("held", 1)]
            + [("rejected", 1), ("rejected", 1), ("rejected", 1), ("rejected", 1)]
        )
