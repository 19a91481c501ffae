"""Ingestion benchmark: the request path against the raw INSERT rate, and the evaluator.

Starts its own embedded PostgreSQL (temp dir) and a real uvicorn server on a
free loopback port in a subprocess, seeds one product with a fixed-reward
campaign on `webshop.open` (so every interaction earns a reward row), then:

  single     POST /api/external/interactions        (N concurrent connections)
  batch      POST /api/external/interactions/batch  (500 items per request, httpx)
  raw        asyncpg single-row INSERT INTO interactions (same concurrency)
  lag        single requests paced at --rate/s: stored -> reward row, p50/p99
  evaluator  the server stopped, --evaluate interactions queued at once, then one
             evaluator process drains them (the batches `cascade serve` runs)

The single phase is driven by wrk (C, one thread, a Lua script that gives every
request a distinct wallet). When wrk is missing the script installs it with
`apt-get install wrk` (root only, `--no-install` to skip), else it falls back to
a small Python HTTP/1.1 client on raw sockets; the result says which ran
(`single.client`). Every phase reports the CPU seconds the server, PostgreSQL and
the client (or the evaluator) spent per interaction, and the run reports the load
average: on a shared 2-core machine those say what the wall-clock rates cannot.

Usage: .venv/bin/python bench/ingest.py [--json] [--seconds N] [--concurrency C] [--durable]
           [--client wrk|python|httpx] [--workers N] [--rate R] [--evaluate N] [--no-install]
With --json the last line printed is one JSON object (keys include single_vs_raw,
single.p99_ms, batch_vs_raw, evaluator_per_s, lag_p99_ms). Only loopback traffic.
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

# `cascade serve`'s own server (backend.cli.serve.run_server: the API process(es) and the
# evaluator process beside them), without the chain's jobs. argv: port, workers.
SERVER = """
import sys
from backend.cli.serve import run_server
from backend.core.config import load_settings
from backend.runtime.services import Endpoints
settings = load_settings()
try:
    run_server(settings, Endpoints(settings.database_url, settings.rpc_url), "127.0.0.1",
               int(sys.argv[1]), int(sys.argv[2]), run_jobs=False)
except KeyboardInterrupt:  # stopped with SIGTERM, cleanly
    pass
"""


def server_env(database_url: str, data_dir: str) -> dict[str, str]:
    """The environment of a benchmark's server (and evaluator) process."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "RPC_URL": "http://127.0.0.1:9",  # ingestion never touches the chain
        "SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
        "DATA_DIR": data_dir,
    }


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
    """`count` random checksummed addresses (no key pairs: nothing here signs)."""
    from eth_utils import to_checksum_address

    return [to_checksum_address(os.urandom(20)) for _ in range(count)]


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


def find_wrk(install: bool) -> tuple[str | None, str]:
    """wrk's path and how it was found; installs it with apt-get when allowed and possible."""
    found = shutil.which("wrk")
    if found:
        return found, "wrk"
    if install and shutil.which("apt-get") and os.geteuid() == 0:
        for command in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"]):
            subprocess.run(command, capture_output=True, check=False, timeout=600)
            found = shutil.which("wrk")
            if found:
                return found, "wrk (installed with apt-get)"
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, check=False, timeout=600
        )
        found = shutil.which("wrk")
        if found:
            return found, "wrk (installed with apt-get)"
    return None, "python"


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: a few microseconds of CPU per
    request, so the load generator takes little from the server on a small machine."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.head = (
            "POST /api/external/interactions HTTP/1.1\r\nHost: {host}\r\n"
            "Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            "Content-Length: {length}\r\n\r\n"
        )

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    async def post(
        self,
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        body: bytes,
        key: str | None = None,
    ) -> int:
        """POST `body` with this client's key, or `key` (traffic spread over products)."""
        reader, writer = streams
        head = self.head.format(host=self.host, key=key or self.key, length=len(body)).encode()
        writer.write(head + body)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return int(status_line.split()[1])


async def _bench_single_python(
    base_url: str,
    product_id: str,
    key: str,
    wallets: list[str],
    seconds: float,
    concurrency: int,
    meter: CpuMeter,
    *,
    rate: float | None = None,
) -> dict[str, Any]:
    """The single endpoint from RawHttp connections; paced at `rate` per second when given."""
    host, port = base_url.removeprefix("http://").split(":")
    client = RawHttp(host, int(port), key)
    counter = iter(range(10**12))
    latencies: list[float] = []
    errors = 0

    def body() -> bytes:
        wallet = wallets[next(counter) % len(wallets)]
        return (
            f'{{"product_id":"{product_id}","wallet":"{wallet}","type":"webshop.open"}}'
        ).encode()

    async def worker(stop: float, start: float, step: float | None, offset: int) -> None:
        nonlocal errors
        streams = await client.connect()
        sent = 0
        try:
            while time.monotonic() < stop:
                if step is not None:  # open loop: request k of this worker at its own time
                    due = start + (offset + sent * concurrency) * step
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if due >= stop:
                        break
                began = time.perf_counter()
                status = await client.post(streams, body())
                sent += 1
                if status == 202:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1
        finally:
            streams[1].close()

    async def phase(duration: float) -> float:
        start = time.monotonic()
        step = None if rate is None else 1.0 / rate
        stop = start + duration
        await asyncio.gather(*(worker(stop, start, step, i) for i in range(concurrency)))
        return time.monotonic() - start

    await phase(min(2.0, seconds))  # warm up: connections, caches, plans
    latencies.clear()
    errors = 0
    before = meter.sample()
    elapsed = await phase(seconds)
    after = meter.sample()
    ok = len(latencies)
    return {
        "client": "python",
        "interactions": ok,
        "errors": errors,
        "per_s": ok / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        **CpuMeter.per_interaction(before, after, ok),
    }


async def _queue_empty(database_url: str, limit_s: float = 600.0) -> float:
    """Wait until the evaluator has drained the queue; seconds waited."""
    import asyncpg

    began = time.monotonic()
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        while await connection.fetchval("SELECT count(*) FROM evaluation_queue"):
            if time.monotonic() - began > limit_s:
                raise RuntimeError("the evaluator did not drain the queue")
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    return time.monotonic() - began


async def _bench_lag(
    base_url: str,
    database_url: str,
    product_id: str,
    key: str,
    wallets: list[str],
    seconds: float,
    rate: float,
    meter: CpuMeter,
) -> dict[str, Any]:
    """Single requests at a steady `rate`; from stored to reward row, per interaction."""
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        first = await connection.fetchval("SELECT COALESCE(max(id), 0) FROM interactions")
        paced = await _bench_single_python(
            base_url, product_id, key, wallets, seconds, 64, meter, rate=rate
        )
        await _queue_empty(database_url)
        row = await connection.fetchrow(
            """
            SELECT count(*) AS n,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99,
                   max(lag) AS worst
            FROM (
                SELECT EXTRACT(EPOCH FROM r.created_at - i.received_at) * 1000 AS lag
                FROM interactions AS i JOIN rewards AS r ON r.interaction_id = i.id
                WHERE i.id > $1 AND i.source = 'api_key'
            ) AS lags
            """,
            first,
        )
    finally:
        await connection.close()
    return {
        "rate_per_s": rate,
        "achieved_per_s": paced["per_s"],
        "interactions": int(row["n"]),
        "request_p99_ms": paced["p99_ms"],
        "lag_p50_ms": float(row["p50"] or 0),
        "lag_p99_ms": float(row["p99"] or 0),
        "lag_max_ms": float(row["worst"] or 0),
    }


EVALUATOR = """
import asyncio, json, resource, sys, time
from backend.core.config import load_settings
from backend.core.context import AppContext
from backend.evaluation.batch import evaluate_once

async def main():
    settings = load_settings()
    ctx = AppContext(settings, settings.database_url, str(settings.rpc_url))
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()
    began, evaluated, batches = time.monotonic(), 0, 0
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    while (report := await evaluate_once(ctx.sessions, secret=settings.secret_key)).evaluated:
        evaluated += report.evaluated
        batches += 1
    elapsed = time.monotonic() - began
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    print(json.dumps({"evaluated": evaluated, "batches": batches, "seconds": elapsed,
                      "cpu_s": cpu_s}), flush=True)
    sys.stdin.readline()  # the parent reads PostgreSQL's CPU while our backends still exist
    await ctx.close()

asyncio.run(main())
"""


async def _bench_evaluator(
    database_url: str,
    products: list[str],
    wallets: list[str],
    count: int,
    env: dict[str, str],
    postgres_pid: int | None,
) -> dict[str, Any]:
    """`count` interactions queued at once (the server stopped), drained by one evaluator;
    the interactions go to `products` in turn."""
    import asyncpg
    import psutil

    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        await connection.execute(
            """
            WITH stored AS (
                INSERT INTO interactions (product_id, wallet, type, source)
                SELECT p, w, 'webshop.open', 'bench'
                FROM unnest($1::varchar[], $2::varchar[]) WITH ORDINALITY AS v(p, w, n)
                ORDER BY n
                RETURNING id, product_id, received_at
            )
            INSERT INTO evaluation_queue (interaction_id, product_id, received_at)
            SELECT id, product_id, received_at FROM stored
            """,
            [products[i % len(products)] for i in range(count)],
            [wallets[i % len(wallets)] for i in range(count)],
        )
        rewards_before = await connection.fetchval("SELECT count(*) FROM rewards")
        await connection.execute("VACUUM ANALYZE evaluation_queue")
    finally:
        await connection.close()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, outside the timed part
        [sys.executable, "-c", EVALUATOR],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    meter = CpuMeter(os.getpid(), postgres_pid)  # PostgreSQL's share; the evaluator's own below
    before = meter.sample()
    process.stdin.write("go\n")
    process.stdin.flush()
    line = await asyncio.to_thread(process.stdout.readline)
    after = meter.sample()
    process.communicate("bye\n", 60)
    del psutil
    report = json.loads(line)
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        written = await connection.fetchval("SELECT count(*) FROM rewards") - rewards_before
    finally:
        await connection.close()
    cpu = CpuMeter.per_interaction(before, after, report["evaluated"])
    cpu["server_cpu_us"] = report["cpu_s"] / max(report["evaluated"], 1) * 1e6
    return {
        "interactions": report["evaluated"],
        "rewards": int(written),
        "batches": report["batches"],
        "seconds": report["seconds"],
        "per_s": report["evaluated"] / report["seconds"],
        "evaluator_cpu_us": cpu["server_cpu_us"],
        "postgres_cpu_us": cpu["postgres_cpu_us"],
    }


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
        "INSERT INTO interactions (product_id, wallet, type, data, source) "
        "VALUES ($1, $2, 'webshop.open', '{}'::jsonb, 'bench')"
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
    seconds: float,
    concurrency: int,
    durable: bool = False,
    client: str = "wrk",
    workers: int = 1,
    *,
    rate: float = 1_000.0,
    evaluate: int = 50_000,
    install: bool = True,
) -> dict[str, Any]:
    from backend.runtime.anvil import free_port
    from backend.runtime.postgres import EmbeddedPostgres

    wrk, found = find_wrk(install) if client == "wrk" else (None, client)
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp), database="cascade_bench")
        database_url = postgres.start()
        server = None
        try:
            product_id, key = await _seed(database_url, durable)
            wallets = _wallets(5_000)
            port = free_port()
            env = server_env(database_url, tmp)
            server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
                [sys.executable, "-c", SERVER, str(port), str(workers)],
                cwd=ROOT,
                env=env,
            )
            base_url = f"http://127.0.0.1:{port}"
            await _wait_ready(base_url)
            meter = CpuMeter(server.pid, postgres.pid)
            load_before = os.getloadavg()
            if wrk is not None:
                single = _bench_single_wrk(
                    base_url, product_id, key, wallets, seconds, concurrency, meter, Path(tmp)
                )
                single["client"] = found
            elif client == "httpx":
                single = (
                    await _bench_http(
                        base_url, product_id, key, wallets, seconds, concurrency, meter, single=True
                    )
                )["single"]
            else:
                single = await _bench_single_python(
                    base_url, product_id, key, wallets, seconds, concurrency, meter
                )
            single["drained_after_s"] = await _queue_empty(database_url)
            batch = (
                await _bench_http(
                    base_url, product_id, key, wallets, seconds, concurrency, meter, single=False
                )
            )["batch"]
            batch["drained_after_s"] = await _queue_empty(database_url)
            raw = await _bench_raw(database_url, product_id, wallets, seconds, concurrency, meter)
            lag = await _bench_lag(
                base_url, database_url, product_id, key, wallets, seconds, rate, meter
            )
            server.terminate()
            server.wait(timeout=20)
            server = None
            evaluator = await _bench_evaluator(
                database_url, [product_id], wallets, evaluate, env, postgres.pid
            )
            load_after = os.getloadavg()
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=20)
            postgres.stop()
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
        "lag": lag,
        "evaluator": evaluator,
        "single_vs_raw": single["per_s"] / raw["per_s"],
        "batch_vs_raw": batch["per_s"] / raw["per_s"],
        "evaluator_per_s": evaluator["per_s"],
        "lag_p99_ms": lag["lag_p99_ms"],
        "python": sys.version.split()[0],
    }


def _table(result: dict[str, Any]) -> str:
    single, batch, raw = result["single"], result["batch"], result["raw_insert"]
    lag, evaluator = result["lag"], result["evaluator"]
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
        f"lag at {lag['rate_per_s']:,.0f}/s requested ({lag['achieved_per_s']:,.0f}/s sent):"
        f" stored -> reward row p50 {lag['lag_p50_ms']:.1f} ms, p99 {lag['lag_p99_ms']:.1f} ms,"
        f" max {lag['lag_max_ms']:.1f} ms ({lag['interactions']:,} interactions)",
        f"evaluator: {evaluator['interactions']:,} queued interactions in"
        f" {evaluator['seconds']:.2f} s = {evaluator['per_s']:,.0f}/s, {evaluator['batches']}"
        f" batches, {evaluator['rewards']:,} reward rows; CPU us/interaction evaluator"
        f" {evaluator['evaluator_cpu_us']:.0f}, postgres {evaluator['postgres_cpu_us']:.0f}",
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
        choices=("wrk", "python", "httpx"),
        default="wrk",
        help="load generator of the single phase (wrk: installed when missing, else python)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--rate", type=float, default=1_000.0, help="paced rate of the lag phase")
    parser.add_argument(
        "--evaluate", type=int, default=50_000, help="interactions queued for the evaluator phase"
    )
    parser.add_argument(
        "--no-install", action="store_true", help="never install wrk (use the Python client)"
    )
    args = parser.parse_args()
    result = asyncio.run(
        run(
            args.seconds,
            args.concurrency,
            args.durable,
            args.client,
            args.workers,
            rate=args.rate,
            evaluate=args.evaluate,
            install=not args.no_install,
        )
    )
    print(_table(result))
    if args.json:
        print(json.dumps(result, default=statistics.fmean))


if __name__ == "__main__":
    main()
