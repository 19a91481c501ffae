"""bench/scale.py's analytics phase: a campaign's dashboard analytics with >= 10 million
interactions stored, before (the raw scan) and after (the daily counts), in one run.

Data, generated inside PostgreSQL (INSERT ... SELECT generate_series, in chunks):
  interactions  --analytics-interactions over the last --analytics-days days, every tenth
                one the measured product's (10%), the rest spread over the other products;
                types 70% webshop.open, 10% each purchase.started / purchase.completed /
                referral.referred; 2% flagged
  daily counts  written by backend.interactions.days.count_evaluated, the function the
                evaluator calls in each batch's transaction (one copy of the rule)
  rewards       the measured campaign (webshop.open): a reward per unflagged open of its
                product and a level-1 referrer reward per fifth one (200 referrers); a second
                campaign of the product pays its completed purchases (the buyer, a level-1
                referrer for every second, a level-2 for every fourth); statuses mixed
                (20% pending, 70% pushed, cancelled, held, fraud-refused); the other
                products' page-open campaigns a reward per tenth open

Then VACUUM ANALYZE and, on the same data:
  after   backend.campaigns.analytics.compute (what GET .../analytics answers), warm,
          --analytics-runs calls: median and p95; each query's plan (EXPLAIN); its reward
          figures come from the totals the trigger on rewards kept while they were written
  rows    the reward-row queries analytics.py ran before those totals (text kept below)
  before  the queries analytics.py ran before the daily counts (text kept below), in a
          transaction that drops the campaign indexes first and rolls back (the old schema)
  year    the arithmetic: which part grows with what, from the measured parts
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

CHUNK = 1_000_000  # interactions per INSERT statement
COUNT_CHUNK = 100_000  # interactions per count_evaluated call (the evaluator's: 1,000)
TYPES = ["webshop.open"] * 7 + ["purchase.started", "purchase.completed", "referral.referred"]
TOKEN = "0x" + "7e" * 20

# What analytics.py ran before the daily counts (commit 1e40693), kept as the baseline.
OLD_QUERIES = {
    "interactions": """
        SELECT to_char(date_trunc('day', received_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
               type, count(*) AS n
        FROM interactions
        WHERE product_id = :product_id AND flag IS NULL
          AND received_at >= :start AND (CAST(:end AS timestamptz) IS NULL OR received_at < :end)
        GROUP BY 1, 2 ORDER BY 1, 2""",
    "rewards": """
        SELECT CASE WHEN status IN ('pending', 'batched') THEN 'pending' ELSE status END AS s,
               count(*) AS n, coalesce(sum(amount), 0) AS total
        FROM rewards WHERE product_id = :product_id AND campaign_id = :campaign_id
        GROUP BY 1""",
    "fraud": """
        WITH r AS (
            SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
                   amount, hold_reasons,
                   CASE WHEN status = 'cancelled' AND cancelled_reason LIKE 'fraud: %'
                        THEN string_to_array(substr(cancelled_reason, 8), ',')
                        WHEN status = 'cancelled'
                             AND cancelled_reason LIKE 'fraud review: rejected%'
                        THEN hold_reasons END AS rejected
            FROM rewards
            WHERE product_id = :product_id AND campaign_id = :campaign_id
              AND (hold_reasons IS NOT NULL OR cancelled_reason LIKE 'fraud%')
        ), tagged AS (
            SELECT day, amount, 'held' AS outcome, unnest(hold_reasons) AS reason
            FROM r WHERE hold_reasons IS NOT NULL
            UNION ALL
            SELECT day, amount, 'rejected', unnest(rejected) FROM r WHERE rejected IS NOT NULL
        )
        SELECT day, reason, outcome, count(*) AS n, sum(amount) AS total
        FROM tagged GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    "held_share": """
        SELECT count(*) FILTER (WHERE hold_reasons IS NOT NULL) AS held, count(*) AS total
        FROM rewards WHERE product_id = :product_id AND campaign_id = :campaign_id""",
    "wallets": """
        SELECT count(DISTINCT wallet) FROM rewards
        WHERE product_id = :product_id AND campaign_id = :campaign_id AND status <> 'cancelled'""",
    "referrers": """
        SELECT wallet, count(*) AS n, sum(amount) AS total FROM rewards
        WHERE product_id = :product_id AND campaign_id = :campaign_id
          AND level >= 1 AND status <> 'cancelled'
        GROUP BY wallet ORDER BY n DESC, total DESC, wallet LIMIT 10""",
}
NEW_INDEXES = ("ix_rewards_campaign_status", "ix_rewards_campaign_fraud")
# What analytics.py read from the reward rows before the reward totals (commit 2c19b34),
# through the campaign indexes above, kept as the second baseline.
ROW_QUERIES = {
    "rewards": """
        SELECT CASE WHEN status IN ('pending', 'batched') THEN 'pending' ELSE status END AS s,
               count(*) AS n, coalesce(sum(amount), 0) AS total
        FROM rewards WHERE campaign_id = :campaign_id GROUP BY 1""",
    "held": """
        SELECT count(*) FROM rewards
        WHERE campaign_id = :campaign_id AND hold_reasons IS NOT NULL""",
    "wallets": """
        SELECT count(*) FROM (
            SELECT DISTINCT wallet FROM rewards
            WHERE campaign_id = :campaign_id AND status <> 'cancelled'
        ) AS rewarded""",
    "referrers": """
        SELECT wallet, count(*) AS n, sum(amount) AS total FROM rewards
        WHERE campaign_id = :campaign_id AND level >= 1 AND status <> 'cancelled'
        GROUP BY wallet ORDER BY n DESC, total DESC, wallet LIMIT 10""",
}

INTERACTIONS_SQL = """
    INSERT INTO interactions (product_id, wallet, type, flag, source, occurred_at, received_at)
    SELECT CASE WHEN g % 10 = 0 THEN $1 ELSE ($2::varchar[])[1 + (g / 10) % $3] END,
           ($4::varchar[])[1 + g % $5],
           ($6::varchar[])[1 + (g / 7) % 10],
           CASE WHEN g % 50 = 3 THEN 'self_referral' END,
           'api_key', t.at, t.at
    FROM generate_series($7::bigint, $8::bigint) AS g
    CROSS JOIN LATERAL (SELECT $9::timestamptz + g * $10::interval AS at) AS t
"""
# status by id: 20% pending, 70% pushed, 4% cancelled, 4% held, 1% fraud-refused,
# 1% rejected after review
REWARDS_SQL = """
    INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, level, token, amount,
                         status, pushed_at, hold_reasons, cancelled_reason, created_at,
                         available_at)
    SELECT i.product_id, $2, i.id + k * 10000000000,
           CASE WHEN $4 = 0 THEN i.wallet ELSE ($5::varchar[])[1 + (i.id + k) % 200] END,
           $4, $6, 500000000000000000 + i.id % 1000,
           CASE WHEN (i.id + k) % 100 < 20 THEN 'pending' WHEN (i.id + k) % 100 < 90 THEN 'pushed'
                WHEN (i.id + k) % 100 < 94 THEN 'cancelled'
                WHEN (i.id + k) % 100 < 98 THEN 'held' ELSE 'cancelled' END,
           CASE WHEN (i.id + k) % 100 BETWEEN 20 AND 89 THEN i.received_at END,
           CASE WHEN (i.id + k) % 100 >= 94 AND (i.id + k) % 100 <> 98
                THEN ARRAY['velocity'] END,
           CASE WHEN (i.id + k) % 100 BETWEEN 90 AND 93 THEN 'order refunded'
                WHEN (i.id + k) % 100 = 98 THEN 'fraud: velocity'
                WHEN (i.id + k) % 100 = 99 THEN 'fraud review: rejected' END,
           i.received_at, i.received_at
    FROM interactions AS i
    -- k: copies when rewards are sized for more interactions than are stored
    -- (rewards have no foreign key to interactions; a copy gets an id of its own)
    CROSS JOIN generate_series(0, $8::int - 1) AS k
    WHERE i.product_id = $1 AND i.type = $3 AND i.flag IS NULL AND i.id % $7 = 0
    ON CONFLICT DO NOTHING  -- the full run's evaluator already paid its own interactions
"""

# the other products' page-open campaigns: a reward for every tenth open (pending or pushed),
# so the campaign's rows are a small part of the table, as in production
OTHER_REWARDS_SQL = """
    INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, level, token, amount,
                         status, pushed_at, created_at, available_at)
    SELECT i.product_id, c.id, i.id + k * 10000000000, i.wallet, 0, $2, 500000000000000000,
           CASE WHEN (i.id + k) % 100 < 20 THEN 'pending' ELSE 'pushed' END,
           CASE WHEN (i.id + k) % 100 >= 20 THEN i.received_at END, i.received_at, i.received_at
    FROM interactions AS i
    JOIN campaigns AS c ON c.product_id = i.product_id AND c.trigger = 'webshop.open'
    CROSS JOIN generate_series(0, $3::int - 1) AS k
    WHERE i.product_id <> $1 AND i.type = 'webshop.open' AND i.flag IS NULL AND i.id % 10 = 0
    ON CONFLICT DO NOTHING
"""


def _plan_scans(plan: dict[str, Any]) -> list[str]:
    """The scan nodes of an EXPLAIN (FORMAT JSON) plan: 'Index Only Scan on ... using ...'."""
    found = []
    if "Scan" in plan.get("Node Type", ""):
        where = plan.get("Relation Name", "")
        index = plan.get("Index Name")
        found.append(f"{plan['Node Type']} {where}" + (f" using {index}" if index else ""))
    for child in plan.get("Plans", []):
        found.extend(_plan_scans(child))
    return found


async def run(
    database_url: str,
    measured: str,
    others: list[str],
    total: int,
    days: int,
    runs: int,
    say: Any,
    rewards_for: int | None = None,
) -> dict[str, Any]:
    """Generate the data for `measured` (10%) and `others`, then time before and after.

    `rewards_for`: size the measured product's rewards as if that many interactions were
    stored (a whole multiple of `total`), where the disk cannot hold them all; the other
    products' rewards are sized the same way."""
    copies = max(1, (rewards_for or total) // total)
    import asyncpg
    from sqlalchemy import select

    from backend.campaigns.ids import chain_campaign_id
    from backend.campaigns.models import Campaign
    from backend.core.db import create_engine, session_factory
    from backend.interactions import days as interaction_days
    from bench.ingest import _wallets

    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    wallets = _wallets(20_000)
    referrers = wallets[:200]
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(days=days)
    step = timedelta(days=days) / total
    try:
        # checkpoints often: the bench's WAL stays small next to its tables
        await conn.execute("ALTER SYSTEM SET max_wal_size = '256MB'")
        await conn.execute("SELECT pg_reload_conf()")
        stored_before = await conn.fetchval("SELECT count(*) FROM interactions")
        began = time.monotonic()
        for lo in range(0, total, CHUNK):
            hi = min(total, lo + CHUNK) - 1
            await conn.execute(
                INTERACTIONS_SQL,
                measured,
                others,
                len(others),
                wallets,
                len(wallets),
                TYPES,
                lo,
                hi,
                first,
                step,
            )
            say(f"analytics: {hi + 1:,}/{total:,} interactions generated")
        generated_s = time.monotonic() - began
        low, high = await conn.fetchrow(
            "SELECT min(id), max(id) FROM interactions WHERE received_at >= $1", first
        )
        began = time.monotonic()
        async with sessions() as session:
            for lo in range(low, high + 1, COUNT_CHUNK):
                chunk = await conn.fetch(
                    "SELECT id, received_at FROM interactions WHERE id >= $1 AND id < $2",
                    lo,
                    lo + COUNT_CHUNK,
                )
                pairs = [(row["id"], row["received_at"]) for row in chunk]
                await interaction_days.count_evaluated(session, pairs)
                await session.commit()
        counted_s = time.monotonic() - began
        say(f"analytics: daily counts written in {counted_s:.0f} s")

        async with sessions() as session:
            campaign = await session.scalar(
                select(Campaign).where(
                    Campaign.product_id == measured, Campaign.trigger == "webshop.open"
                )
            )
            assert campaign is not None
            campaign.starts_at = first
            second_id = uuid.uuid4()
            session.add(
                Campaign(
                    id=second_id,
                    product_id=measured,
                    chain_campaign_id=chain_campaign_id(second_id),
                    name="purchase reward",
                    trigger="purchase.completed",
                    token=TOKEN,
                    reward_type="fixed",
                    reward_config={"amount": str(10**18)},
                    user_bps=5_000,
                    decay_bps=8_000,
                    max_depth=5,
                    requires_referral=False,
                    status="active",
                )
            )
            await session.commit()
            campaign_id = campaign.id
        began = time.monotonic()
        for cid, kind, level, every in (
            (campaign_id, "webshop.open", 0, 1),
            (campaign_id, "webshop.open", 1, 5),
            (second_id, "purchase.completed", 0, 1),
            (second_id, "purchase.completed", 1, 2),
            (second_id, "purchase.completed", 2, 4),
        ):
            await conn.execute(
                REWARDS_SQL, measured, cid, kind, level, referrers, TOKEN, every, copies
            )
        await conn.execute(OTHER_REWARDS_SQL, measured, TOKEN, copies)
        rewards_s = time.monotonic() - began
        say("analytics: rewards written; VACUUM ANALYZE")
        began = time.monotonic()
        await conn.execute("VACUUM (ANALYZE) interactions, rewards, interaction_days")
        vacuum_s = time.monotonic() - began
        product = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM interactions) AS interactions,
                   (SELECT count(*) FROM interactions WHERE product_id = $1) AS product,
                   (SELECT count(*) FROM rewards WHERE product_id = $1) AS product_rewards,
                   (SELECT count(*) FROM interaction_days) AS days_rows,
                   (SELECT count(*) FROM interaction_days WHERE product_id = $1) AS product_days
            """,
            measured,
        )
        campaigns = {}
        for name, cid in (("purchase_campaign", second_id), ("open_campaign", campaign_id)):
            say(f"analytics: timing the {name.replace('_', ' ')}")
            campaigns[name] = await _measure(sessions, conn, cid, first, days, runs)
    finally:
        await conn.close()
        await engine.dispose()

    return {
        "interactions_stored": int(product["interactions"]),
        "interactions_generated": total,
        "rewards_sized_for_interactions": total * copies,
        "stored_before": int(stored_before),
        "product_interactions": int(product["product"]),
        "product_rewards": int(product["product_rewards"]),
        "interaction_days_rows": int(product["days_rows"]),
        "product_interaction_days_rows": int(product["product_days"]),
        "days": days,
        "runs": runs,
        "campaigns": campaigns,
        "setup_s": {
            "generate": generated_s,
            "count": counted_s,
            "rewards": rewards_s,
            "vacuum": vacuum_s,
        },
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def _measure(
    sessions: Any, conn: Any, campaign_id: Any, first: datetime, days: int, runs: int
) -> dict[str, Any]:
    """One campaign: after (compute, warm) with its parts and plans, before (old SQL, old
    indexes), and the year's arithmetic."""
    from sqlalchemy import text

    from backend.campaigns import analytics
    from backend.campaigns.models import Campaign

    rewards = await conn.fetchval(
        "SELECT count(*) FROM rewards WHERE campaign_id = $1", campaign_id
    )
    async with sessions() as session:
        campaign = await session.get_one(Campaign, campaign_id)
        report = await analytics.compute(session, campaign)  # warm-up
        after = []
        for _ in range(runs):
            began = time.perf_counter()
            report = await analytics.compute(session, campaign)
            after.append((time.perf_counter() - began) * 1000)
        window = {
            "product_id": campaign.product_id,
            "first": first.date(),
            "after": analytics._day_after(campaign.ends_at),
        }
        plans = {}
        statements_ms = {}  # each statement of compute() alone: which one costs what
        for name in ("_INTERACTIONS", "_REWARDS", "_FRAUD", "_WALLETS", "_REFERRERS"):
            statement = getattr(analytics, name)
            params = (
                window if name == "_INTERACTIONS" else {"campaign_id": campaign_id, "limit": 10}
            )
            timings = []
            for _ in range(runs):
                began = time.perf_counter()
                (await session.execute(statement, params)).all()
                timings.append((time.perf_counter() - began) * 1000)
            statements_ms[name.lower().lstrip("_")] = statistics.median(timings)
            explained = await session.execute(
                text(f"EXPLAIN (FORMAT JSON) {statement.text}"), params
            )
            plans[name.lower().lstrip("_")] = _plan_scans(explained.scalar_one()[0]["Plan"])
        await session.commit()

        row_reads: list[float] = []  # the reward-row queries the totals replaced
        for _ in range(max(3, runs // 4)):
            began = time.perf_counter()
            for sql in ROW_QUERIES.values():
                await session.execute(text(sql), {"campaign_id": campaign_id})
            row_reads.append((time.perf_counter() - began) * 1000)
        await session.commit()

        old = {
            "product_id": campaign.product_id,
            "campaign_id": campaign_id,
            "start": first,
            "end": None,
        }
        before: list[float] = []
        before_interactions: list[float] = []
        for name in NEW_INDEXES:
            await session.execute(text(f"DROP INDEX {name}"))  # rolled back below
        for _ in range(max(3, runs // 4)):
            began = time.perf_counter()
            for key, sql in OLD_QUERIES.items():
                step_began = time.perf_counter()
                await session.execute(text(sql), old)
                if key == "interactions":
                    before_interactions.append((time.perf_counter() - step_began) * 1000)
            before.append((time.perf_counter() - began) * 1000)
        await session.rollback()

    after_ms = statistics.median(after)
    interactions_ms = statements_ms["interactions"]
    rewards_ms = max(after_ms - interactions_ms, 0.0)
    raw_ms = statistics.median(before_interactions)
    scale = 365 / days
    return {
        "rewards": int(rewards),
        "interactions_counted": sum(d.count for d in report.interactions),
        "after": {
            "median_ms": after_ms,
            "p95_ms": _p95(after),
            "interactions_part_ms": interactions_ms,
            "rewards_part_ms": rewards_ms,
            "statements_ms": statements_ms,
            "plans": plans,
        },
        "reward_rows": {"median_ms": statistics.median(row_reads), "p95_ms": _p95(row_reads)},
        "before": {
            "median_ms": statistics.median(before),
            "p95_ms": _p95(before),
            "interactions_part_ms": raw_ms,
        },
        "year": {
            "scale": scale,
            # daily counts read: days x types of one product (grows with days only)
            "interactions_part_ms": interactions_ms * scale,
            # the campaign's reward rows (index-only scans): grow with what it pays
            "rewards_part_ms": rewards_ms * scale,
            "after_ms": after_ms * scale,
            "before_interactions_part_ms": raw_ms * scale,
        },
    }


def lines(result: dict[str, Any]) -> list[str]:
    """The phase's figures as text, with the year's arithmetic written out."""
    out = [
        f"analytics at scale: {result['interactions_stored']:,} interactions stored"
        f" ({result['days']} days), the product {result['product_interactions']:,}"
        f" ({result['product_rewards']:,} rewards), {result['product_interaction_days_rows']:,}"
        f" daily-count rows ({result['interaction_days_rows']:,} in all); the product's"
        f" rewards sized as for {result['rewards_sized_for_interactions']:,} interactions"
    ]
    for name, c in result["campaigns"].items():
        after, before, year = c["after"], c["before"], c["year"]
        out += [
            f"  {name.replace('_', ' ')}: {c['rewards']:,} rewards,"
            f" {c['interactions_counted']:,} interactions in its window",
            f"    after  (daily counts): median {after['median_ms']:.1f} ms, p95"
            f" {after['p95_ms']:.1f} ms over {result['runs']} calls (interactions part"
            f" {after['interactions_part_ms']:.2f} ms, rewards part {after['rewards_part_ms']:.1f}"
            " ms)",
            "    each statement alone, median ms: "
            + ", ".join(f"{k} {v:.2f}" for k, v in after["statements_ms"].items()),
            f"    the reward-row reads the totals replaced: median"
            f" {c['reward_rows']['median_ms']:.1f} ms, p95 {c['reward_rows']['p95_ms']:.1f} ms",
            f"    before (raw scan):     median {before['median_ms']:.1f} ms, p95"
            f" {before['p95_ms']:.1f} ms (interactions part {before['interactions_part_ms']:.1f}"
            " ms)",
            f"    year = {year['scale']:.1f} x {result['days']} days: interactions part"
            f" {after['interactions_part_ms']:.2f} x {year['scale']:.1f} ="
            f" {year['interactions_part_ms']:.1f} ms; rewards part"
            f" {after['rewards_part_ms']:.1f} x {year['scale']:.1f} ="
            f" {year['rewards_part_ms']:,.0f} ms if it pays all year at this rate;"
            f" the raw scan's {before['interactions_part_ms']:.0f} x {year['scale']:.1f} ="
            f" {year['before_interactions_part_ms']:,.0f} ms",
        ]
        for query, scans in after["plans"].items():
            out.append(f"    plan {query:<13}{'; '.join(s for s in scans if s.strip())}")
    return out
