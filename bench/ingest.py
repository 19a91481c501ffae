"""Ingestion benchmark: single and batch endpoints against the raw INSERT rate, one run.

Starts its own embedded PostgreSQL (temp dir) and a real uvicorn server on a
free loopback port in a subprocess, seeds one product with a fixed-reward
campaign on `webshop.open` (so every interaction is evaluated and pays a
reward row), then drives load with httpx:

  single  POST /api/external/interactions        (N concurrent clients)
  batch   POST /api/external/interactions/batch  (500 items per request)
  raw     asyncpg single-row INSERT INTO interactions (same concurrency)

Usage: .venv/bin/python bench/ingest.py [--json] [--seconds N] [--concurrency C] [--durable]
With --json the last line printed is one JSON object. Only loopback traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH_SIZE = 500
SECRET = "bench-secret-0123456789abcdef0123"

SERVER = """
import sys, uvicorn
from backend.api.app import create_app
from backend.core.config import load_settings
settings = load_settings()
app = create_app(settings, database_url=settings.database_url, rpc_url=settings.rpc_url)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, log_config=None)
"""


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _seed(database_url: str, durable: bool) -> tuple[str, str]:
    """Migrate, then one product (rate limit out of the way) with a paying campaign.

    Unless `durable`, commits do not wait for the WAL flush (synchronous_commit
    off, for every path alike): the embedded server's disk is a laptop-class
    temp dir, and we measure the code, not the fsync latency of this machine.
    """
    from sqlalchemy import text

    from backend.core import migrate
    from backend.core.db import create_engine, session_factory
    from backend.products.models import Role
    from tests.factories import make_campaign, make_product

    engine = create_engine(database_url, pool_size=1)
    if not durable:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER DATABASE cascade_bench SET synchronous_commit = off"))
    await migrate.upgrade(engine)
    async with session_factory(engine)() as session:
        product, key = await make_product(
            session,
            domain=f"bench-{uuid.uuid4().hex[:8]}.example",
            roles=Role.ALL,
            rate_limit_per_hour=2_000_000_000,
        )
        await make_campaign(session, product, trigger="webshop.open")
        product_id = product.id
    await engine.dispose()
    return product_id, key


def _wallets(count: int) -> list[str]:
    from eth_account import Account

    return [Account.create().address for _ in range(count)]


async def _wait_ready(base_url: str, limit_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


async def _drive(
    seconds: float, concurrency: int, request: Any, max_requests: int
) -> tuple[int, list[float], float, int]:
    """Run `request()` from `concurrency` workers for `seconds`.

    Returns (successes, their latencies, elapsed seconds, failures).
    """
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    issued = 0

    async def worker() -> None:
        nonlocal errors, issued
        while time.monotonic() < stop and issued < max_requests:
            issued += 1
            started = time.perf_counter()
            ok = await request()
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, time.monotonic() - began, errors


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _bench_http(
    base_url: str, product_id: str, key: str, wallets: list[str], seconds: float, concurrency: int
) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    counter = iter(range(10**12))
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30.0
    ) as client:

        async def single() -> bool:
            n = next(counter)
            body = {
                "product_id": product_id,
                "wallet": wallets[n % len(wallets)],
                "type": "webshop.open",
            }
            response = await client.post("/api/external/interactions", json=body)
            return response.status_code == 202

        for _ in range(50):  # warm up connections, caches and prepared statements
            await single()
        ok, latencies, elapsed, errors = await _drive(seconds, concurrency, single, 10**9)
        results["single"] = {
            "interactions": ok,
            "errors": errors,
            "per_s": ok / elapsed,
            "p50_ms": _percentile(latencies, 0.50) * 1000,
            "p99_ms": _percentile(latencies, 0.99) * 1000,
        }

        async def batch() -> bool:
            start = next(counter) * BATCH_SIZE
            items = [
                {
                    "product_id": product_id,
                    "wallet": wallets[(start + i) % len(wallets)],
                    "type": "webshop.open",
                }
                for i in range(BATCH_SIZE)
            ]
            response = await client.post(
                "/api/external/interactions/batch", json={"interactions": items}
            )
            return response.status_code == 202

        workers = max(1, min(4, concurrency))
        ok, latencies, elapsed, errors = await _drive(seconds, workers, batch, 10**9)
        results["batch"] = {
            "requests": ok,
            "errors": errors,
            "batch_size": BATCH_SIZE,
            "per_s": ok * BATCH_SIZE / elapsed,
            "p50_ms": _percentile(latencies, 0.50) * 1000,
            "p99_ms": _percentile(latencies, 0.99) * 1000,
        }
    return results


async def _bench_raw(
    database_url: str, product_id: str, wallets: list[str], seconds: float, concurrency: int
) -> dict[str, Any]:
    """The floor: single-row INSERTs into interactions over asyncpg, same concurrency."""
    import asyncpg

    pool = await asyncpg.create_pool(
        _asyncpg_dsn(database_url), min_size=concurrency, max_size=concurrency
    )
    sql = (
        "INSERT INTO interactions (product_id, wallet, type, data, source, processed_at) "
        "VALUES ($1, $2, 'webshop.open', '{}'::jsonb, 'bench', now())"
    )
    counter = iter(range(10**12))

    async def insert() -> bool:
        async with pool.acquire() as conn:
            await conn.execute(sql, product_id, wallets[next(counter) % len(wallets)])
        return True

    ok, latencies, elapsed, _ = await _drive(seconds, concurrency, insert, 10**9)
    await pool.close()
    return {
        "inserts": ok,
        "per_s": ok / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


async def run(seconds: float, concurrency: int, durable: bool = False) -> dict[str, Any]:
    from backend.runtime.anvil import free_port
    from backend.runtime.postgres import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp), database="cascade_bench")
        database_url = postgres.start()
        server = None
        try:
            product_id, key = await _seed(database_url, durable)
            wallets = _wallets(5_000)
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "RPC_URL": "http://127.0.0.1:9",  # ingestion never touches the chain
                "SECRET_KEY": SECRET,
                "LOG_LEVEL": "WARNING",
                "DATA_DIR": tmp,
            }
            server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
                [sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env
            )
            base_url = f"http://127.0.0.1:{port}"
            await _wait_ready(base_url)
            http = await _bench_http(base_url, product_id, key, wallets, seconds, concurrency)
            raw = await _bench_raw(database_url, product_id, wallets, seconds, concurrency)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=20)
            postgres.stop()
    single, batch = http["single"], http["batch"]
    return {
        "seconds": seconds,
        "concurrency": concurrency,
        "synchronous_commit": "on" if durable else "off",
        "cpus": os.cpu_count(),
        "single": single,
        "batch": batch,
        "raw_insert": raw,
        "single_vs_raw": single["per_s"] / raw["per_s"],
        "batch_vs_raw": batch["per_s"] / raw["per_s"],
        "python": sys.version.split()[0],
    }


def _table(result: dict[str, Any]) -> str:
    single, batch, raw = result["single"], result["batch"], result["raw_insert"]
    lines = [
        f"ingestion benchmark: {result['seconds']:.0f} s per phase, concurrency "
        f"{result['concurrency']}, {result['cpus']} CPUs, loopback, "
        f"synchronous_commit={result['synchronous_commit']}",
        f"{'path':<34}{'interactions/s':>16}{'p50 ms':>10}{'p99 ms':>10}",
        f"{'single  POST /interactions':<34}{single['per_s']:>16,.0f}"
        f"{single['p50_ms']:>10.1f}{single['p99_ms']:>10.1f}",
        f"{'batch   POST /interactions/batch':<34}{batch['per_s']:>16,.0f}"
        f"{batch['p50_ms']:>10.1f}{batch['p99_ms']:>10.1f}   ({batch['batch_size']}/request)",
        f"{'raw     asyncpg INSERT (1 row)':<34}{raw['per_s']:>16,.0f}"
        f"{raw['p50_ms']:>10.1f}{raw['p99_ms']:>10.1f}",
        f"single / raw = {result['single_vs_raw']:.2f}   batch / raw = {result['batch_vs_raw']:.2f}"
        f"   errors: single {single['errors']}, batch {batch['errors']}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel clients")
    parser.add_argument("--durable", action="store_true", help="keep synchronous_commit on")
    args = parser.parse_args()
    result = asyncio.run(run(args.seconds, args.concurrency, args.durable))
    print(_table(result))
    if args.json:
        print(json.dumps(result, default=statistics.fmean))


if __name__ == "__main__":
    main()
