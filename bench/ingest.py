"""Ingestion benchmark: single and batch endpoints against the raw INSERT rate, one run.

Starts its own embedded PostgreSQL (temp dir) and a real uvicorn server on a
free loopback port in a subprocess, seeds one product with a fixed-reward
campaign on `webshop.open` (so every interaction is evaluated and pays a
reward row), then drives load:

  single  POST /api/external/interactions        (N concurrent connections)
  batch   POST /api/external/interactions/batch  (500 items per request, httpx)
  raw     asyncpg single-row INSERT INTO interactions (same concurrency)

The single phase is driven by wrk (C, one thread, a Lua script that gives every
request a distinct wallet) when it is installed, so the client does not take
the server's CPU; `--client httpx` uses the Python client instead. Every phase
reports the CPU seconds the server, PostgreSQL and the client spent per
interaction, and the run reports the load average: on a shared 2-core machine
those say what the wall-clock rates cannot.

Usage: .venv/bin/python bench/ingest.py [--json] [--seconds N] [--concurrency C] [--durable]
                                        [--client wrk|httpx] [--workers N]
With --json the last line printed is one JSON object. Only loopback traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
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
# --workers N: the processes `cascade serve --workers N` runs
SERVER_WORKERS = """
import json, os, sys, uvicorn
from backend.cli.serve import WORKER_SPEC_ENV
from backend.core.config import load_settings
settings = load_settings()
os.environ[WORKER_SPEC_ENV] = json.dumps({"settings": settings.model_dump(mode="json"),
    "database_url": settings.database_url, "rpc_url": settings.rpc_url})
uvicorn.run("backend.cli.serve:worker_app", factory=True, host="127.0.0.1",
            port=int(sys.argv[1]), workers=int(sys.argv[2]), log_level="warning",
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


class CpuMeter:
    """CPU seconds (user + system) spent by the server, PostgreSQL and this client."""

    def __init__(self, server_pid: int, postgres_pid: int | None):
        self.server_pid = server_pid
        self.postgres_pid = postgres_pid

    @staticmethod
    def _tree(pid: int | None) -> float:
        import psutil

        if pid is None:
            return 0.0
        try:
            root = psutil.Process(pid)
            total = 0.0
            for process in [root, *root.children(recursive=True)]:
                try:
                    times = process.cpu_times()
                    total += times.user + times.system
                except psutil.NoSuchProcess:
                    continue
            return total
        except psutil.NoSuchProcess:
            return 0.0

    def sample(self) -> tuple[float, float, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        client = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        return self._tree(self.server_pid), self._tree(self.postgres_pid), client

    @staticmethod
    def per_interaction(
        before: tuple[float, float, float], after: tuple[float, float, float], count: int
    ) -> dict[str, float]:
        names = ("server", "postgres", "client")
        return {
            f"{name}_cpu_us": (a - b) / max(count, 1) * 1e6
            for name, b, a in zip(names, before, after, strict=True)
        }


WRK_SCRIPT = """
local product, key = os.getenv("BENCH_PRODUCT"), os.getenv("BENCH_KEY")
local wallets, counter = {}, 0
function init(args)
  for line in io.lines(os.getenv("BENCH_WALLETS")) do wallets[#wallets + 1] = line end
end
function request()
  counter = counter + 1
  local body = '{"product_id":"' .. product .. '","wallet":"' ..
    wallets[(counter % #wallets) + 1] .. '","type":"webshop.open"}'
  return wrk.format("POST", "/api/external/interactions",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"non_2xx":%d,"socket_errors":%d,"duration_us":%d,' ..
    '"p50_us":%d,"p99_us":%d}\\n', summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _run_wrk(base_url: str, script: Path, env: dict[str, str], seconds: float, conns: int) -> Any:
    command = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "-s", str(script)]
    done = subprocess.run([*command, base_url], env=env, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
    return json.loads(line.removeprefix("BENCH "))


def _bench_single_wrk(
    base_url: str,
    product_id: str,
    key: str,
    wallets: list[str],
    seconds: float,
    concurrency: int,
    meter: CpuMeter,
    tmp: Path,
) -> dict[str, Any]:
    script, wallet_file = tmp / "single.lua", tmp / "wallets.txt"
    script.write_text(WRK_SCRIPT)
    wallet_file.write_text("\n".join(wallets) + "\n")
    env = {
        **os.environ,
        "BENCH_PRODUCT": product_id,
        "BENCH_KEY": key,
        "BENCH_WALLETS": str(wallet_file),
    }
    _run_wrk(base_url, script, env, 2, concurrency)  # warm up: connections, caches, plans
    before = meter.sample()
    out = _run_wrk(base_url, script, env, seconds, concurrency)
    after = meter.sample()
    ok = out["requests"] - out["non_2xx"]
    return {
        "client": "wrk",
        "interactions": ok,
        "errors": out["non_2xx"] + out["socket_errors"],
        "per_s": ok / (out["duration_us"] / 1e6),
        "p50_ms": out["p50_us"] / 1000,
        "p99_ms": out["p99_us"] / 1000,
        **CpuMeter.per_interaction(before, after, ok),
    }


async def _bench_http(
    base_url: str,
    product_id: str,
    key: str,
    wallets: list[str],
    seconds: float,
    concurrency: int,
    meter: CpuMeter,
    *,
    single: bool,
) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    counter = iter(range(10**12))
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30.0
    ) as client:

        async def post_one() -> bool:
            n = next(counter)
            body = {
                "product_id": product_id,
                "wallet": wallets[n % len(wallets)],
                "type": "webshop.open",
            }
            response = await client.post("/api/external/interactions", json=body)
            return response.status_code == 202

        if single:
            for _ in range(50):  # warm up connections, caches and prepared statements
                await post_one()
            before = meter.sample()
            ok, latencies, elapsed, errors = await _drive(seconds, concurrency, post_one, 10**9)
            results["single"] = {
                "client": "httpx",
                "interactions": ok,
                "errors": errors,
                "per_s": ok / elapsed,
                "p50_ms": _percentile(latencies, 0.50) * 1000,
                "p99_ms": _percentile(latencies, 0.99) * 1000,
                **CpuMeter.per_interaction(before, meter.sample(), ok),
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
        await batch()  # warm up the bulk statements
        before = meter.sample()
        ok, latencies, elapsed, errors = await _drive(seconds, workers, batch, 10**9)
        results["batch"] = {
            "requests": ok,
            "errors": errors,
            "batch_size": BATCH_SIZE,
            "per_s": ok * BATCH_SIZE / elapsed,
            "p50_ms": _percentile(latencies, 0.50) * 1000,
            "p99_ms": _percentile(latencies, 0.99) * 1000,
            **CpuMeter.per_interaction(before, meter.sample(), ok * BATCH_SIZE),
        }
    return results


async def _bench_raw(
    database_url: str,
    product_id: str,
    wallets: list[str],
    seconds: float,
    concurrency: int,
    meter: CpuMeter,
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

    for _ in range(concurrency):
        await insert()
    before = meter.sample()
    ok, latencies, elapsed, _ = await _drive(seconds, concurrency, insert, 10**9)
    cpu = CpuMeter.per_interaction(before, meter.sample(), ok)  # before the backends exit
    await pool.close()
    return {
        "inserts": ok,
        "per_s": ok / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        **cpu,
    }


async def run(
    seconds: float, concurrency: int, durable: bool = False, client: str = "wrk", workers: int = 1
) -> dict[str, Any]:
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
                [sys.executable, "-c", SERVER, str(port)]
                if workers == 1
                else [sys.executable, "-c", SERVER_WORKERS, str(port), str(workers)],
                cwd=ROOT,
                env=env,
            )
            base_url = f"http://127.0.0.1:{port}"
            await _wait_ready(base_url)
            meter = CpuMeter(server.pid, postgres.pid)
            load_before = os.getloadavg()
            single = None
            if client == "wrk":
                single = _bench_single_wrk(
                    base_url, product_id, key, wallets, seconds, concurrency, meter, Path(tmp)
                )
            http = await _bench_http(
                base_url,
                product_id,
                key,
                wallets,
                seconds,
                concurrency,
                meter,
                single=single is None,
            )
            if single is not None:
                http["single"] = single
            raw = await _bench_raw(database_url, product_id, wallets, seconds, concurrency, meter)
            load_after = os.getloadavg()
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
        "workers": workers,
        "load_average_1m": {"before": load_before[0], "after": load_after[0]},
        "single": single,
        "batch": batch,
        "raw_insert": raw,
        "single_vs_raw": single["per_s"] / raw["per_s"],
        "batch_vs_raw": batch["per_s"] / raw["per_s"],
        "python": sys.version.split()[0],
    }


def _table(result: dict[str, Any]) -> str:
    single, batch, raw = result["single"], result["batch"], result["raw_insert"]
    load = result["load_average_1m"]

    def cpu(phase: dict[str, Any]) -> str:
        return "".join(
            f"{phase.get(f'{name}_cpu_us', float('nan')):>9.0f}"
            for name in ("server", "postgres", "client")
        )

    lines = [
        f"ingestion benchmark: {result['seconds']:.0f} s per phase, concurrency "
        f"{result['concurrency']}, {result['cpus']} CPUs, {result['workers']} server "
        f"process(es), loopback, "
        f"synchronous_commit={result['synchronous_commit']}, single client "
        f"{single['client']}, load average {load['before']:.2f} -> {load['after']:.2f}",
        f"{'path':<34}{'interactions/s':>16}{'p50 ms':>10}{'p99 ms':>10}"
        f"   CPU us/interaction: server postgres client",
        f"{'single  POST /interactions':<34}{single['per_s']:>16,.0f}"
        f"{single['p50_ms']:>10.1f}{single['p99_ms']:>10.1f}   {cpu(single)}",
        f"{'batch   POST /interactions/batch':<34}{batch['per_s']:>16,.0f}"
        f"{batch['p50_ms']:>10.1f}{batch['p99_ms']:>10.1f}   {cpu(batch)}"
        f"  ({batch['batch_size']}/request)",
        f"{'raw     asyncpg INSERT (1 row)':<34}{raw['per_s']:>16,.0f}"
        f"{raw['p50_ms']:>10.1f}{raw['p99_ms']:>10.1f}   {cpu(raw)}",
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
    parser.add_argument(
        "--client",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator of the single phase (default: wrk when installed)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    result = asyncio.run(
        run(args.seconds, args.concurrency, args.durable, args.client, args.workers)
    )
    print(_table(result))
    if args.json:
        print(json.dumps(result, default=statistics.fmean))


if __name__ == "__main__":
    main()
