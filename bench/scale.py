"""The design's capacity: thousands of products and campaigns, a day of interactions.

Starts its own embedded PostgreSQL (temp dir, migrated to head, synchronous_commit
off as in bench/ingest.py) and a real uvicorn server, then:

  seed       --products products with two active campaigns each (one pays on
             `webshop.open`, one waits for `purchase.completed`: 10,000 campaigns
             at the default 5,000 products), and one lone product with a single
             campaign, each with its own API key
  spread     the single endpoint: first one request to every product (each a first
             contact: the server loads its key, product and campaigns; reported as
             single.first_contact, not compared), then alternating phases of traffic
             on the lone product and traffic spread over every product (each request
             the next product of a shuffled round: a product recurs only every
             --products requests). Like the design's steady state, where each product
             recurs every few minutes: within the caches' trust while change
             notifications are heard (15 minutes), none of it is cached per request
  load       --interactions through the batch endpoint (500 per request, each
             request the next product in turn), drained by the server's own
             evaluator; wall time, rates, the server's peak memory
  sizes      table and index sizes of interactions and rewards per million rows
  evaluator  the server stopped; --probe interactions queued for the lone product
             (1 campaign) and then --probe spread over all products (10,000
             campaigns), each drained by one evaluator process: the same code path
  analytics  the campaign analytics the dashboard shows (backend/campaigns/analytics.py),
             timed for the lone product's campaign and for a spread one
  analytics at scale
             --analytics-interactions (10 million: ten days at the design rate) generated
             in PostgreSQL, a tenth of them the lone product's, with their daily counts and
             the campaign's rewards; the analytics timed after (daily counts) and before
             (the old raw scan, same data), and the arithmetic for a year
             (bench/scale_analytics.py)

Usage: .venv/bin/python bench/scale.py [--json] [--products 5000] [--interactions 1000000]
           [--seconds 8] [--concurrency 16] [--probe 50000] [--only analytics|evaluator]
           [--analytics-interactions 10000000] [--analytics-days 10] [--analytics-runs 20]
           [--analytics-rewards-for N]
--only analytics seeds the products and runs the analytics-at-scale phase alone;
--only evaluator, the two evaluator phases alone.
With --json the last line printed is one JSON object (keys include spread_vs_one_product,
campaigns_10k_vs_1, load.per_s, sizes, analytics, analytics_ms: the median of the
analytics at scale; with --only analytics, that phase's keys only). Only loopback traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scale_analytics  # noqa: E402 - after the path set-up
from bench.ingest import (  # noqa: E402 - after the path set-up that makes `bench` importable
    BATCH_SIZE,
    SERVER,
    CpuMeter,
    RawHttp,
    _asyncpg_dsn,
    _bench_evaluator,
    _percentile,
    _queue_empty,
    _wait_ready,
    _wallets,
    server_env,
)

SEED_CHUNK = 500  # products per commit while seeding


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def _seed(database_url: str, products: int) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    """The lone product (one campaign) and `products` products with two campaigns each."""
    from sqlalchemy import text

    from backend.campaigns.ids import chain_campaign_id
    from backend.campaigns.models import Campaign
    from backend.core import migrate
    from backend.core.db import create_engine, session_factory
    from backend.products.ids import new_api_key, normalize_domain, product_id_for
    from backend.products.models import ApiKey, Product, Role
    from tests.factories import TEST_TOKEN, wallet

    engine = create_engine(database_url, pool_size=1)
    async with engine.begin() as conn:
        await conn.execute(text("ALTER DATABASE cascade_bench SET synchronous_commit = off"))
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    run = uuid.uuid4().hex[:6]
    made: list[tuple[str, str]] = []

    def campaign(product_id: str, trigger: str) -> Campaign:
        campaign_id = uuid.uuid4()
        return Campaign(
            id=campaign_id,
            product_id=product_id,
            chain_campaign_id=chain_campaign_id(campaign_id),
            name=f"{trigger} reward",
            trigger=trigger,
            token=TEST_TOKEN,
            reward_type="fixed",
            reward_config={"amount": str(10**18)},
            user_bps=5_000,
            decay_bps=8_000,
            max_depth=5,
            requires_referral=False,
            status="active",
        )

    total = products + 1
    for start in range(0, total, SEED_CHUNK):
        async with sessions() as session:
            chunk = []
            for n in range(start, min(start + SEED_CHUNK, total)):
                domain = normalize_domain(f"scale{n}-{run}.example")
                product = Product(
                    id=product_id_for(domain),
                    name=f"Shop {n}",
                    primary_domain=domain,
                    domains=[domain],
                    owner_wallet=wallet(),
                    rate_limit_per_hour=2_000_000_000,
                )
                key, prefix, key_hash = new_api_key()
                chunk.append((product, key, prefix, key_hash))
            session.add_all([product for product, *_ in chunk])
            await session.flush()
            for product, key, prefix, key_hash in chunk:
                session.add(
                    ApiKey(
                        product_id=product.id,
                        name="bench",
                        prefix=prefix,
                        key_hash=key_hash,
                        roles=Role.ALL,
                    )
                )
                session.add(campaign(product.id, "webshop.open"))
                if len(made) > 0:  # the lone product (the first) has one campaign only
                    session.add(campaign(product.id, "purchase.completed"))
                made.append((product.id, key))
            await session.commit()
        _say(f"seeded {len(made):,}/{total:,} products")
    await engine.dispose()
    return made[0], made[1:]


async def _single_phase(
    base_url: str,
    targets: list[tuple[str, str]],
    wallets: list[str],
    seconds: float,
    concurrency: int,
    meter: CpuMeter,
    database_url: str,
    requests: int | None = None,
) -> dict[str, Any]:
    """Single requests from `concurrency` keep-alive connections, each the next target,
    for `seconds` or until `requests` were sent."""
    import asyncpg

    host, port = base_url.removeprefix("http://").split(":")
    client = RawHttp(host, int(port), targets[0][1])
    order = iter(range(10**12))
    latencies: list[float] = []
    errors = 0

    async def worker(stop: float) -> None:
        nonlocal errors
        streams = await client.connect()
        try:
            while time.monotonic() < stop:
                n = next(order)
                if requests is not None and n >= requests:
                    break
                product_id, key = targets[n % len(targets)]
                wallet = wallets[n % len(wallets)]
                body = (
                    f'{{"product_id":"{product_id}","wallet":"{wallet}","type":"webshop.open"}}'
                ).encode()
                began = time.perf_counter()
                status = await client.post(streams, body, key)
                if status == 202:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1
        finally:
            streams[1].close()

    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        xacts = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1"
        before_x = await connection.fetchval(xacts, "cascade_bench")
        before = meter.sample()
        began = time.monotonic()
        await asyncio.gather(*(worker(began + seconds) for _ in range(concurrency)))
        elapsed = time.monotonic() - began
        after = meter.sample()
        await _queue_empty(database_url)
        await asyncio.sleep(0.6)  # pg_stat_database is flushed by backends every 500 ms at most
        after_x = await connection.fetchval(xacts, "cascade_bench")
    finally:
        await connection.close()
    ok = len(latencies)
    return {
        "interactions": ok,
        "errors": errors,
        "per_s": ok / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        # every transaction of the database in the phase and its drain (the evaluator's too)
        "transactions_per_interaction": (after_x - before_x) / max(ok, 1),
        **CpuMeter.per_interaction(before, after, ok),
    }


async def _load(
    base_url: str,
    products: list[tuple[str, str]],
    wallets: list[str],
    count: int,
    server_pid: int,
    database_url: str,
) -> dict[str, Any]:
    """`count` interactions through the batch endpoint, spread, then the evaluator's drain."""
    import httpx
    import psutil

    requests = -(-count // BATCH_SIZE)
    order = iter(range(requests))
    peak_rss = 0
    sent = 0

    def rss() -> int:
        try:
            root = psutil.Process(server_pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.NoSuchProcess:
            return 0

    async with httpx.AsyncClient(base_url=base_url, timeout=120.0) as client:

        async def worker() -> None:
            nonlocal sent, peak_rss
            for n in order:
                product_id, key = products[n % len(products)]
                size = min(BATCH_SIZE, count - n * BATCH_SIZE)
                items = [
                    {
                        "product_id": product_id,
                        "wallet": wallets[(n * BATCH_SIZE + i) % len(wallets)],
                        "type": "webshop.open",
                    }
                    for i in range(size)
                ]
                response = await client.post(
                    "/api/external/interactions/batch",
                    json={"interactions": items},
                    headers={"Authorization": f"Bearer {key}"},
                )
                if response.status_code != 202:
                    raise RuntimeError(f"batch refused: {response.status_code} {response.text}")
                sent += size

        async def progress() -> None:
            nonlocal peak_rss
            while True:
                await asyncio.sleep(5)
                peak_rss = max(peak_rss, rss())
                _say(f"load: {sent:,}/{count:,} stored, server {peak_rss / 2**20:,.0f} MiB")

        began = time.monotonic()
        reporter = asyncio.create_task(progress())
        try:
            await asyncio.gather(*(worker() for _ in range(4)))
            stored_s = time.monotonic() - began
            _say(f"load: {count:,} stored in {stored_s:.0f} s; waiting for the evaluator")
            drained_s = await _queue_empty(database_url, limit_s=7_200)
        finally:
            reporter.cancel()
        peak_rss = max(peak_rss, rss())
    wall = time.monotonic() - began
    return {
        "interactions": count,
        "stored_s": stored_s,
        "stored_per_s": count / stored_s,
        "drained_after_s": drained_s,
        "wall_s": wall,
        "per_s": count / wall,
        "server_peak_rss_mib": peak_rss / 2**20,
    }


async def _sizes(database_url: str) -> dict[str, Any]:
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        result = {}
        for table in ("interactions", "rewards"):
            await connection.execute(f"ANALYZE {table}")
            rows = await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
            # a partitioned table (interactions, by month) holds nothing itself: its
            # partitions' sizes, or the table's own when it has none
            heap, indexes = await connection.fetchrow(
                "SELECT COALESCE(sum(pg_table_size(relid)), pg_table_size($1::regclass))::bigint,"
                " COALESCE(sum(pg_indexes_size(relid)), pg_indexes_size($1::regclass))::bigint"
                " FROM pg_partition_tree($1::regclass) WHERE isleaf",
                table,
            )
            per_million = 1e6 / max(rows, 1) / 2**20
            result[table] = {
                "rows": rows,
                "table_mib": heap / 2**20,
                "indexes_mib": indexes / 2**20,
                "mib_per_million_rows": (heap + indexes) * per_million,
            }
    finally:
        await connection.close()
    return result


async def _analytics(database_url: str, product_ids: list[str], runs: int = 5) -> dict[str, Any]:
    """The dashboard's campaign analytics, timed per campaign (warm, after one run)."""
    from sqlalchemy import select

    from backend.campaigns.analytics import compute
    from backend.campaigns.models import Campaign
    from backend.core.db import create_engine, session_factory

    engine = create_engine(database_url, pool_size=1)
    result: dict[str, Any] = {}
    try:
        async with session_factory(engine)() as session:
            names = ("lone_product", "spread_product")
            for name, product_id in zip(names, product_ids, strict=True):
                campaign = await session.scalar(
                    select(Campaign).where(
                        Campaign.product_id == product_id, Campaign.trigger == "webshop.open"
                    )
                )
                assert campaign is not None
                report = await compute(session, campaign)
                timings = []
                for _ in range(runs):
                    began = time.perf_counter()
                    report = await compute(session, campaign)
                    timings.append((time.perf_counter() - began) * 1000)
                result[name] = {
                    "interactions_counted": sum(day.count for day in report.interactions),
                    "median_ms": statistics.median(timings),
                    "max_ms": max(timings),
                }
    finally:
        await engine.dispose()
    return result


@contextlib.asynccontextmanager
async def _seeded(products: int) -> AsyncIterator[tuple[str, str, int, Any, list[Any]]]:
    """A temporary embedded PostgreSQL with the products seeded: (its directory, its URL,
    its pid, the lone product, the spread ones); stopped on exit."""
    from backend.runtime.postgres import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="cascade-scale-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp), database="cascade_bench")
        database_url = postgres.start()
        try:
            _say(f"seeding {products:,} products with 2 campaigns each, and one lone product")
            lone, spread = await _seed(database_url, products)
            yield tmp, database_url, postgres.pid, lone, spread
        finally:
            postgres.stop()


async def run_analytics_only(products: int, at_scale: dict[str, Any]) -> dict[str, Any]:
    """Seed the products, then the analytics-at-scale phase alone (no server, no load)."""
    async with _seeded(products) as (_, database_url, _, lone, spread):
        result = await scale_analytics.run(
            database_url, lone[0], [p for p, _ in spread], say=_say, **at_scale
        )
    return {
        "products": products + 1,
        "cpus": os.cpu_count(),
        "analytics_at_scale": result,
        "analytics_ms": result["campaigns"]["purchase_campaign"]["after"]["median_ms"],
        "python": sys.version.split()[0],
    }


async def run_evaluator_only(products: int, probe: int) -> dict[str, Any]:
    """Seed the products, then the two evaluator phases alone (no server, no load)."""
    async with _seeded(products) as (tmp, database_url, pid, lone, spread):
        shuffled = random.Random(1).sample(spread, len(spread))
        wallets = _wallets(20_000)
        env = server_env(database_url, tmp)
        _say(f"evaluator: {probe:,} interactions for 1 campaign")
        one = await _bench_evaluator(database_url, [lone[0]], wallets, probe, env, pid)
        _say(f"evaluator: {probe:,} interactions over {2 * products:,} campaigns")
        many = await _bench_evaluator(
            database_url, [p for p, _ in shuffled], wallets, probe, env, pid
        )
    return {
        "products": products + 1,
        "campaigns": 2 * products + 1,
        "cpus": os.cpu_count(),
        "evaluator": {"one_campaign": one, "campaigns_10k": many},
        "campaigns_10k_vs_1": many["per_s"] / one["per_s"],
        "python": sys.version.split()[0],
    }


async def run(
    products: int,
    interactions: int,
    seconds: float,
    concurrency: int,
    probe: int,
    at_scale: dict[str, Any],
) -> dict[str, Any]:
    from backend.runtime.anvil import free_port
    from backend.runtime.postgres import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="cascade-scale-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp), database="cascade_bench")
        database_url = postgres.start()
        server = None
        try:
            _say(f"seeding {products:,} products with 2 campaigns each, and one lone product")
            lone, spread = await _seed(database_url, products)
            wallets = _wallets(20_000)
            port = free_port()
            env = server_env(database_url, tmp)
            server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
                [sys.executable, "-c", SERVER, str(port), "1"], cwd=ROOT, env=env
            )
            base_url = f"http://127.0.0.1:{port}"
            await _wait_ready(base_url)
            meter = CpuMeter(server.pid, postgres.pid)
            load_before = os.getloadavg()
            shuffled = random.Random(1).sample(spread, len(spread))
            _say(f"single endpoint, a first request to each of {products + 1:,} products")
            first_contact = await _single_phase(
                base_url,
                [lone, *shuffled],
                wallets,
                600,
                concurrency,
                meter,
                database_url,
                requests=products + 1,
            )
            phases: dict[str, list[dict[str, Any]]] = {"one": [], "spread": []}
            for name, targets in (("one", [lone]), ("spread", shuffled)) * 2:
                _say(f"single endpoint, traffic on {name} product(s), {seconds:.0f} s")
                phases[name].append(
                    await _single_phase(
                        base_url, targets, wallets, seconds, concurrency, meter, database_url
                    )
                )
            single = {name: max(runs, key=lambda r: r["per_s"]) for name, runs in phases.items()}
            single["first_contact"] = first_contact
            single["runs_per_s"] = {
                name: [r["per_s"] for r in runs] for name, runs in phases.items()
            }
            _say(f"loading {interactions:,} interactions spread over {products:,} products")
            load = await _load(base_url, spread, wallets, interactions, server.pid, database_url)
            sizes = await _sizes(database_url)
            server.terminate()
            server.wait(timeout=30)
            server = None
            _say(f"evaluator: {probe:,} interactions for 1 campaign")
            one = await _bench_evaluator(database_url, [lone[0]], wallets, probe, env, postgres.pid)
            _say(f"evaluator: {probe:,} interactions over {2 * products:,} campaigns")
            many = await _bench_evaluator(
                database_url, [p for p, _ in shuffled], wallets, probe, env, postgres.pid
            )
            _say("timing campaign analytics")
            analytics = await _analytics(database_url, [lone[0], shuffled[0][0]])
            _say("analytics at scale")
            scaled = await scale_analytics.run(
                database_url, lone[0], [p for p, _ in spread], say=_say, **at_scale
            )
            load_after = os.getloadavg()
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            postgres.stop()
    return {
        "products": products + 1,
        "campaigns": 2 * products + 1,
        "cpus": os.cpu_count(),
        "seconds": seconds,
        "concurrency": concurrency,
        "load_average_1m": {"before": load_before[0], "after": load_after[0]},
        "single": single,
        "spread_vs_one_product": single["spread"]["per_s"] / single["one"]["per_s"],
        "load": load,
        "sizes": sizes,
        "evaluator": {"one_campaign": one, "campaigns_10k": many},
        "campaigns_10k_vs_1": many["per_s"] / one["per_s"],
        "analytics": analytics,
        "analytics_at_scale": scaled,
        "analytics_ms": scaled["campaigns"]["purchase_campaign"]["after"]["median_ms"],
        "python": sys.version.split()[0],
    }


def _evaluator_lines(result: dict[str, Any]) -> str:
    lines = []
    for name, phase in (("1 campaign", "one_campaign"), ("10,000 campaigns", "campaigns_10k")):
        e = result["evaluator"][phase]
        lines.append(
            f"evaluator, {name:<17}{e['interactions']:>9,} in {e['seconds']:.2f} s ="
            f" {e['per_s']:>8,.0f}/s  ({e['rewards']:,} reward rows)"
        )
    lines.append(f"campaigns 10k / 1 = {result['campaigns_10k_vs_1']:.2f}")
    return "\n".join(lines)


def _table(result: dict[str, Any]) -> str:
    one, spread = result["single"]["one"], result["single"]["spread"]
    load, sizes = result["load"], result["sizes"]
    lines = [
        f"scale benchmark: {result['products']:,} products, {result['campaigns']:,} campaigns,"
        f" {result['cpus']} CPUs, load average {result['load_average_1m']['before']:.2f} ->"
        f" {result['load_average_1m']['after']:.2f}",
        f"{'single endpoint':<28}{'interactions/s':>16}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'xact/interaction':>18}   CPU us server postgres",
    ]
    for name, phase in (("one product", one), ("spread over all", spread)):
        lines.append(
            f"{name:<28}{phase['per_s']:>16,.0f}{phase['p50_ms']:>9.1f}{phase['p99_ms']:>9.1f}"
            f"{phase['transactions_per_interaction']:>18.2f}"
            f"   {phase['server_cpu_us']:>10.0f}{phase['postgres_cpu_us']:>9.0f}"
        )
    first, runs = result["single"]["first_contact"], result["single"]["runs_per_s"]
    lines += [
        f"{'  (each run, /s)':<28}one {' '.join(f'{r:,.0f}' for r in runs['one'])};"
        f" spread {' '.join(f'{r:,.0f}' for r in runs['spread'])}",
        f"{'first contact, all products':<28}{first['per_s']:>16,.0f}{first['p50_ms']:>9.1f}"
        f"{first['p99_ms']:>9.1f}{first['transactions_per_interaction']:>18.2f}"
        f"   {first['server_cpu_us']:>10.0f}{first['postgres_cpu_us']:>9.0f}",
        f"spread / one product = {result['spread_vs_one_product']:.2f}",
        f"load: {load['interactions']:,} interactions stored in {load['stored_s']:.0f} s"
        f" ({load['stored_per_s']:,.0f}/s), evaluated {load['drained_after_s']:.0f} s later;"
        f" {load['wall_s']:.0f} s wall = {load['per_s']:,.0f}/s end to end;"
        f" server peak RSS {load['server_peak_rss_mib']:,.0f} MiB",
    ]
    for table, size in sizes.items():
        lines.append(
            f"{table:<14}{size['rows']:>12,} rows  table {size['table_mib']:>8,.0f} MiB"
            f"  indexes {size['indexes_mib']:>8,.0f} MiB"
            f"  = {size['mib_per_million_rows']:,.0f} MiB per million rows"
        )
    lines.append(_evaluator_lines(result))
    for name, a in result["analytics"].items():
        lines.append(
            f"analytics, {name:<15} median {a['median_ms']:.1f} ms, max {a['max_ms']:.1f} ms"
            f" ({a['interactions_counted']:,} interactions in its window)"
        )
    lines += scale_analytics.lines(result["analytics_at_scale"])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    parser.add_argument("--products", type=int, default=5_000, help="products (2 campaigns each)")
    parser.add_argument("--interactions", type=int, default=1_000_000, help="the load phase")
    parser.add_argument("--seconds", type=float, default=8.0, help="each single-endpoint phase")
    parser.add_argument("--concurrency", type=int, default=16, help="single-endpoint clients")
    parser.add_argument("--probe", type=int, default=50_000, help="each evaluator phase")
    parser.add_argument("--only", choices=["analytics", "evaluator"], help="run only this phase")
    parser.add_argument(
        "--analytics-interactions", type=int, default=10_000_000, help="stored, generated"
    )
    parser.add_argument("--analytics-days", type=int, default=10, help="they span")
    parser.add_argument("--analytics-runs", type=int, default=20, help="timed calls")
    parser.add_argument(
        "--analytics-rewards-for",
        type=int,
        help="size the measured product's rewards for this many interactions (default: stored)",
    )
    args = parser.parse_args()
    at_scale = {
        "total": args.analytics_interactions,
        "days": args.analytics_days,
        "runs": args.analytics_runs,
        "rewards_for": args.analytics_rewards_for,
    }
    if args.only == "analytics":
        result = asyncio.run(run_analytics_only(args.products, at_scale))
        print("\n".join(scale_analytics.lines(result["analytics_at_scale"])))
    elif args.only == "evaluator":
        result = asyncio.run(run_evaluator_only(args.products, args.probe))
        print(_evaluator_lines(result))
    else:
        result = asyncio.run(
            run(
                args.products,
                args.interactions,
                args.seconds,
                args.concurrency,
                args.probe,
                at_scale,
            )
        )
        print(_table(result))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
