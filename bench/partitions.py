"""Interactions in monthly partitions: the migration's cost, reads by id, retention.

Starts its own embedded PostgreSQL (temp dir), migrates to 0017 (interactions not yet
partitioned), stores `--rows` interactions spread evenly over the last `--days` days
and queues the newest 1,000 for evaluation, then:

1. baseline: deletes the oldest whole month the way retention would have to without
   partitions (`DELETE ... WHERE received_at < month end`), timed, and rolled back;
2. times migration 0018 (the copy into the partitioned table);
3. runs the evaluator's claim statement under EXPLAIN ANALYZE and counts the partitions
   it read against those it skipped (run-time pruning by the queue's received_at);
4. times `partitions.maintain` with a retention that expires that same oldest month
   (a DROP TABLE), and checks the rows left.

The ratio printed is the DELETE's time over the DROP's, same rows, same run.

Usage: .venv/bin/python bench/partitions.py [--json] [--rows 1000000] [--days 60]
With --json the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker  # noqa: E402

from backend.core import migrate  # noqa: E402
from backend.core.db import create_engine  # noqa: E402
from backend.evaluation.batch import CLAIM_SQL  # noqa: E402
from backend.interactions import partitions  # noqa: E402
from backend.runtime.postgres import EmbeddedPostgres  # noqa: E402

PRODUCT = "0x" + "ab" * 32
BEFORE = "0017_referral_edges"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _seed(engine: AsyncEngine, rows: int, days: int, now: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO products (id, name, primary_domain, domains, owner_wallet) "
                "VALUES (:p, 'bench', 'bench.example', ARRAY['bench.example'], :owner)"
            ),
            {"p": PRODUCT, "owner": "0x" + "11" * 20},
        )
        await conn.execute(
            text(
                """
                INSERT INTO interactions (product_id, wallet, type, source, data, received_at)
                SELECT :p, '0x' || lpad(to_hex(g % 50000), 40, '0'), 'webshop.open', 'bench',
                       '{"path": "/"}'::jsonb,
                       CAST(:now AS timestamptz) - make_interval(secs => (:n - g) * :step)
                FROM generate_series(1, :n) AS g
                """
            ),
            {"p": PRODUCT, "now": now, "n": rows, "step": days * 86_400 / rows},
        )
        await conn.execute(
            text(
                "INSERT INTO evaluation_queue (interaction_id, product_id) "
                "SELECT id, product_id FROM interactions ORDER BY id DESC LIMIT 1000"
            )
        )
        await conn.execute(text("ANALYZE interactions"))


async def _delete_baseline(engine: AsyncEngine, month_end: datetime) -> tuple[int, float]:
    """Rows of the months before `month_end`, deleted the unpartitioned way, rolled back."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        began = time.perf_counter()
        result = await conn.execute(
            text("DELETE FROM interactions WHERE received_at < :end"), {"end": month_end}
        )
        elapsed = time.perf_counter() - began
        await transaction.rollback()
    return int(result.rowcount), elapsed  # type: ignore[attr-defined]


async def _claim_plan(engine: AsyncEngine) -> dict[str, int]:
    """Partitions the evaluator's claim statement read and skipped, per looked-up row."""
    sql = (
        CLAIM_SQL.text.replace(":only", "NULL")
        .replace(":scan", "5000")
        .replace(":limit", "500")
        .replace(":space", "7")
    )
    async with engine.connect() as conn:
        transaction = await conn.begin()
        plan = (
            await conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql))
        ).scalars()
        lines = list(plan)
        await transaction.rollback()
    scans = [line for line in lines if " on interactions_" in line]
    skipped = [line for line in scans if "never executed" in line]
    return {"partitions": len(scans), "read": len(scans) - len(skipped), "skipped": len(skipped)}


async def run(rows: int, days: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    oldest_month = partitions.month_start(now - timedelta(days=days))
    expires = partitions.next_month(oldest_month)
    # a retention that expires exactly the oldest month: it ended this many days ago
    retention = max(7, (now - expires).days)
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp), database="cascade_bench")
        database_url = postgres.start()
        engine = create_engine(database_url, pool_size=2)
        try:
            await migrate.upgrade(engine, BEFORE)
            log(f"storing {rows:,} interactions over {days} days (revision {BEFORE})")
            began = time.perf_counter()
            await _seed(engine, rows, days, now)
            log(f"stored in {time.perf_counter() - began:.1f} s")

            deleted, delete_s = await _delete_baseline(engine, expires)
            log(f"baseline: DELETE of {deleted:,} rows before {expires:%Y-%m-%d}: {delete_s:.3f} s")

            began = time.perf_counter()
            await migrate.upgrade(engine)
            migrate_s = time.perf_counter() - began
            log(f"migration 0018: {rows:,} rows into monthly partitions in {migrate_s:.1f} s")
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE interactions"))

            plan = await _claim_plan(engine)
            log(
                f"evaluator's claim: {plan['partitions']} partitions in the plan, "
                f"{plan['read']} read, {plan['skipped']} never executed"
            )

            sessions = async_sessionmaker(engine, expire_on_commit=False)
            async with sessions() as session:
                began = time.perf_counter()
                done = await partitions.maintain(session, now, retention)
                drop_s = time.perf_counter() - began
            async with engine.connect() as conn:
                left = int(await conn.scalar(text("SELECT count(*) FROM interactions")) or 0)
            log(
                f"retention {retention} days: dropped {done.dropped} in {drop_s:.3f} s; "
                f"{left:,} rows left ({rows - left:,} gone)"
            )
        finally:
            await engine.dispose()
            postgres.stop()
    if rows - left != deleted:
        raise SystemExit(f"retention removed {rows - left:,} rows, the baseline {deleted:,}")
    return {
        "rows": rows,
        "days": days,
        "migration_s": round(migrate_s, 3),
        "migration_rows_per_s": round(rows / migrate_s),
        "claim_plan": plan,
        "retention_days": retention,
        "expired_rows": deleted,
        "delete_baseline_s": round(delete_s, 4),
        "drop_s": round(drop_s, 4),
        "delete_vs_drop": round(delete_s / drop_s, 1) if drop_s else None,
        "dropped": done.dropped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    parser.add_argument("--rows", type=int, default=1_000_000, help="interactions stored")
    parser.add_argument("--days", type=int, default=60, help="they span, ending now")
    args = parser.parse_args()
    result = asyncio.run(run(args.rows, args.days))
    print(
        f"migration: {result['migration_rows_per_s']:,} rows/s; "
        f"retention of {result['expired_rows']:,} rows: DROP {result['drop_s']:.3f} s vs "
        f"DELETE {result['delete_baseline_s']:.3f} s = {result['delete_vs_drop']}x; "
        f"claim reads {result['claim_plan']['read']} of {result['claim_plan']['partitions']} "
        "partitions"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
