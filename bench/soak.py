"""Soak with faults: mixed load on a real `cascade serve` while the script breaks things.

Everything is local and started here: embedded PostgreSQL (temp dir), anvil
mining a block every second, the core contracts, a funded shop with two
campaigns (the demo's pieces), `cascade serve`, and the pusher as its own
`cascade push` loop. Load (bounded concurrency, loopback only): single and
batch interactions, referral purchases closed by Shopify-signed webhooks,
wallet reads and dashboard API reads. Faults, once each unless said:

  pusher   SIGKILLed and restarted twice (at 10% of the run, and mid mining stop)
  postgres stopped for --db-down-seconds and started again on the same data dir
  mining   stopped for --fault-seconds (the issue's minute; scaled runs say so)
  reorg    anvil_reorg of REORG_DEPTH blocks, deeper than CONFIRMATIONS

`cascade serve` has no switch to leave the push job out, so serve gets
PUSH_INTERVAL_S=86400 (its push job runs once, at start, before any reward
exists) and the `cascade push` subprocess with PUSH_INTERVAL_S=2 is the pusher
that is killed. A pusher that exits on its own is restarted like a service
manager would, and counted. After the load: the pusher drains (bounded), serve
stops, the indexer catches up, then the figures and `cascade reconcile`.

Exit 1 when an invariant fails: a 5xx that is not a clean 503
database_unavailable inside the database window (+ --db-grace-seconds), a
connection error, earned != pushed != credited on-chain, or a reconcile mismatch.

Usage: .venv/bin/python bench/soak.py [--seconds 180] [--fault-seconds 60] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "soak-secret-0123456789abcdef0123456789"
CONFIRMATIONS = 2
REORG_DEPTH = 3
PUSH_INTERVAL_S = 2
WALLETS = 3_000
REQUEST_TIMEOUT_S = 30.0
MAX_REQUESTS = 2_000_000  # a hard bound next to the time bound
TOKEN = 10**18
VISIT_CAMPAIGN: dict[str, Any] = {
    "name": "shop visit",
    "trigger": "webshop.open",
    "reward": {"type": "fixed", "amount": str(TOKEN // 100)},
    "user_bps": 5_000,
    "decay_bps": 8_000,
    "max_depth": 5,
    "budget_cap": "0",
}
# kind -> weight of the load mix
MIX = {"interaction": 40, "batch": 5, "purchase": 10, "wallet": 25, "dashboard": 20}


@dataclass
class Sample:
    kind: str
    status: int  # 0: no HTTP answer
    code: str | None
    latency: float
    at: float  # seconds since the load started


@dataclass
class Run:
    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    db_windows: list[tuple[float, float]] = field(default_factory=list)
    pusher_kills: int = 0
    killed_pids: set[int] = field(default_factory=set)
    pusher_unexpected_exits: list[int] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def now(self) -> float:
        return time.monotonic() - self.started

    def event(self, text: str) -> None:
        self.events.append((round(self.now(), 1), text))
        print(f"[{self.now():7.1f}s] {text}", file=sys.stderr, flush=True)


class Services:
    """Postgres, anvil and the two cascade processes, each stoppable on its own."""

    def __init__(self, tmp: Path):
        from backend.runtime.anvil import EmbeddedAnvil
        from backend.runtime.postgres import EmbeddedPostgres

        self.tmp = tmp
        self.postgres = EmbeddedPostgres(tmp, database="cascade_soak")
        self.anvil = EmbeddedAnvil(block_time=1, log_file=tmp / "anvil.log")
        self.database_url = ""
        self.rpc_url = ""
        self.env: dict[str, str] = {}
        self.serve: subprocess.Popen[bytes] | None = None
        self.pusher: subprocess.Popen[bytes] | None = None
        self.port = 0

    def cascade(self, *args: str, env: dict[str, str] | None = None, log: str) -> Any:
        out = open(self.tmp / log, "ab")  # the child writes it while it runs
        command = [str(Path(sys.executable).parent / "cascade"), *args]
        return subprocess.Popen(
            command, env={**self.env, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
        )

    def start_serve(self) -> None:
        from backend.runtime.anvil import free_port

        self.port = free_port()
        self.serve = self.cascade(
            "serve", "--port", str(self.port), env={"PUSH_INTERVAL_S": "86400"}, log="serve.log"
        )

    def start_pusher(self) -> None:
        self.pusher = self.cascade(
            "push", env={"PUSH_INTERVAL_S": str(PUSH_INTERVAL_S)}, log="push.log"
        )

    def stop_process(self, process: subprocess.Popen[bytes] | None, sig: int) -> None:
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def close(self) -> None:
        self.stop_process(self.pusher, signal.SIGKILL)
        self.stop_process(self.serve, signal.SIGTERM)
        self.anvil.stop()
        self.postgres.stop()


def rpc(services: Services, method: str, params: list | None = None) -> Any:
    from backend.runtime.anvil import rpc_call

    return rpc_call(services.rpc_url, method, params, timeout=30)


# --- set-up -----------------------------------------------------------------------------


async def set_up(services: Services) -> dict[str, Any]:
    """Schema, core contracts, the product, then the demo's shop through serve's API."""
    import httpx
    from sqlalchemy import text

    from backend.chain.client import connect
    from backend.chain.deploy import deploy_core
    from backend.core import migrate
    from backend.core.config import ANVIL_DEV_KEYS, load_settings
    from backend.core.context import AppContext
    from backend.demo.accounts import people
    from backend.demo.run import _deploy_token, _fund_bank
    from backend.demo.story import Story
    from backend.products import schemas, service
    from backend.products.authorization import CLI_PRINCIPAL

    services.database_url = services.postgres.start()
    services.rpc_url = services.anvil.start()
    key = ANVIL_DEV_KEYS[0]
    core = deploy_core(connect(services.rpc_url), key)
    services.env = {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "RPC_URL": services.rpc_url,
        "SIGNER_KEY": key,
        "DEPLOYER_KEY": key,
        "PUSH_PULL_ADDRESS": str(core["push_pull"]),
        "BANK_FACTORY_ADDRESS": str(core["bank_factory"]),
        "SECRET_KEY": SECRET,
        "PUSH_COOLDOWN_S": "0",
        "CONFIRMATIONS": str(CONFIRMATIONS),
        "DATA_DIR": str(services.tmp / "data"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
    }
    settings = load_settings(
        database_url=services.database_url,
        rpc_url=services.rpc_url,
        secret_key=SECRET,
        signer_key=key,
        push_pull_address=core["push_pull"],
        bank_factory_address=core["bank_factory"],
        push_cooldown_s=0,
        confirmations=CONFIRMATIONS,
        data_dir=services.tmp / "data",
    )
    ctx = AppContext(settings, services.database_url, services.rpc_url)
    cast = people()
    try:
        await migrate.upgrade(ctx.engine)
        async with ctx.sessions() as session:
            product, api_key = await service.create_product(
                session,
                CLI_PRINCIPAL,
                schemas.ProductCreate(
                    name="Soak shop", domains=["soak.localhost"], owner=cast["owner"].address
                ),
            )
            # one merchant server sends every wallet's events: the per-wallet limit is not
            # what this run measures
            await session.execute(
                text("UPDATE products SET rate_limit_per_hour = 1000000 WHERE id = :id"),
                {"id": product.id},
            )
            await session.commit()
        services.start_serve()
        base_url = f"http://127.0.0.1:{services.port}"
        await wait_live(base_url)
        token = await asyncio.to_thread(_deploy_token, services.rpc_url, cast["operator"].key)
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            story = Story(
                client, ctx, cast, product.id, api_key, token, "http://soak.localhost/", _quiet
            )
            bank = await story.set_up_campaign()
            visits = await story.call(
                "POST",
                f"/api/business/products/{product.id}/campaigns",
                json={**VISIT_CAMPAIGN, "token": token},
            )
            await story.call("POST", f"/api/business/campaigns/{visits['id']}/activate")
            campaigns = await story.call("GET", f"/api/business/products/{product.id}/campaigns")
        await asyncio.to_thread(
            _fund_bank, services.rpc_url, cast["operator"].key, cast["owner"].key, token, bank
        )
    finally:
        await ctx.close()
    return {
        "base_url": base_url,
        "product_id": product.id,
        "api_key": api_key,
        "shopify_secret": story.shopify_secret,
        "token": token,
        "bank": bank,
        "campaign_ids": [c["id"] for c in _items(campaigns)],
        "push_pull": str(core["push_pull"]),
        "settings": settings,
    }


def _items(listing: Any) -> list[dict[str, Any]]:
    if isinstance(listing, dict):
        return list(listing.get("items") or listing.get("campaigns") or [])
    return list(listing)


def _quiet(_: str) -> None:
    return None


async def wait_live(base_url: str, limit_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"cascade serve did not answer on {base_url} within {limit_s}s")


# --- load -------------------------------------------------------------------------------


class Load:
    def __init__(self, shop: dict[str, Any], run: Run, concurrency: int):
        from eth_utils import to_checksum_address

        self.shop = shop
        self.run = run
        self.concurrency = concurrency
        self.rng = random.Random(20261121)
        self.wallets = [to_checksum_address(os.urandom(20)) for _ in range(WALLETS)]
        self.known: deque[str] = deque(maxlen=2_000)  # wallets the product has seen
        self.orders = 100_000
        self.issued = 0
        self.auth = {"Authorization": f"Bearer {shop['api_key']}"}

    async def drive(self, seconds: float) -> None:
        import httpx

        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(
            base_url=self.shop["base_url"], timeout=REQUEST_TIMEOUT_S, limits=limits
        ) as client:
            stop_at = time.monotonic() + seconds
            await asyncio.gather(*(self.worker(client, stop_at) for _ in range(self.concurrency)))

    async def worker(self, client: Any, stop_at: float) -> None:
        kinds, weights = list(MIX), list(MIX.values())
        while time.monotonic() < stop_at and self.issued < MAX_REQUESTS:
            kind = self.rng.choices(kinds, weights)[0]
            await getattr(self, kind)(client)

    async def request(self, client: Any, kind: str, method: str, url: str, **kwargs: Any) -> int:
        import httpx

        self.issued += 1
        began = time.perf_counter()
        at = self.run.now()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            latency = time.perf_counter() - began
            self.run.samples.append(Sample(kind, 0, type(exc).__name__, latency, at))
            return 0
        latency = time.perf_counter() - began
        code = None
        if response.status_code >= 400:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "unparsable_error_body"
        self.run.samples.append(Sample(kind, response.status_code, code, latency, at))
        return int(response.status_code)

    def _interaction(self, wallet: str, kind: str, data: dict[str, Any] | None = None) -> Any:
        return {
            "product_id": self.shop["product_id"],
            "wallet": wallet,
            "type": kind,
            "data": data or {},
        }

    async def interaction(self, client: Any) -> None:
        wallet = self.rng.choice(self.wallets)
        body = self._interaction(wallet, "webshop.open")
        status = await self.request(
            client,
            "interaction",
            "POST",
            "/api/external/interactions",
            json=body,
            headers=self.auth,
        )
        if status == 202:
            self.known.append(wallet)

    async def batch(self, client: Any) -> None:
        chosen = self.rng.sample(self.wallets, 20)
        body = {"interactions": [self._interaction(w, "webshop.open") for w in chosen]}
        status = await self.request(
            client,
            "batch",
            "POST",
            "/api/external/interactions/batch",
            json=body,
            headers=self.auth,
        )
        if status == 202:
            self.known.extend(chosen)

    async def purchase(self, client: Any) -> None:
        """A referred shopper starts an order; the shop's paid webhook closes it."""
        if not self.known:
            return await self.interaction(client)
        buyer, referrer = self.rng.choice(self.wallets), self.rng.choice(self.known)
        self.orders += 1
        order = self.orders
        steps = [
            ("referral.referred", {"referrer": referrer}),
            ("purchase.started", {"order_id": str(order)}),
        ]
        for kind, data in steps:
            status = await self.request(
                client,
                "interaction",
                "POST",
                "/api/external/interactions",
                json=self._interaction(buyer, kind, data),
                headers=self.auth,
            )
            if status != 202:
                return None
        self.known.append(buyer)
        body = json.dumps(
            {
                "id": order,
                "name": f"#{order}",
                "currency": "EUR",
                "financial_status": "paid",
                "total_price": "89.00",
            }
        ).encode()
        secret = self.shop["shopify_secret"].encode()
        signature = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
        await self.request(
            client,
            "webhook",
            "POST",
            f"/api/external/webhooks/{self.shop['product_id']}/shopify",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/paid",
                "X-Shopify-Hmac-Sha256": signature,
                "X-Shopify-Webhook-Id": f"soak-{order}",
            },
        )
        return None

    async def wallet(self, client: Any) -> None:
        wallet = self.rng.choice(self.known) if self.known else self.rng.choice(self.wallets)
        await self.request(client, "wallet", "GET", f"/api/wallet/{wallet}/rewards")

    async def dashboard(self, client: Any) -> None:
        product = self.shop["product_id"]
        campaign = self.rng.choice(self.shop["campaign_ids"])
        url = self.rng.choice(
            [
                f"/api/business/campaigns/{campaign}/analytics",
                f"/api/business/products/{product}/campaigns",
                f"/api/business/products/{product}",
            ]
        )
        await self.request(client, "dashboard", "GET", url, headers=self.auth)


# --- faults -----------------------------------------------------------------------------


async def supervise_pusher(services: Services, run: Run) -> None:
    """Restart a pusher that died on its own (like a service manager), and count it."""
    while not run.stop.is_set():
        pusher = services.pusher
        if pusher is not None and pusher.poll() is not None and pusher.pid not in run.killed_pids:
            run.pusher_unexpected_exits.append(int(pusher.returncode))
            run.event(f"pusher exited on its own (code {pusher.returncode}); restarting")
            await asyncio.sleep(1)
            services.start_pusher()
        await asyncio.sleep(0.5)


async def kill_pusher(services: Services, run: Run) -> None:
    pusher = services.pusher
    if pusher is not None:
        run.killed_pids.add(pusher.pid)
        pusher.send_signal(signal.SIGKILL)
        await asyncio.to_thread(pusher.wait, 10)
    run.pusher_kills += 1
    run.event(f"pusher SIGKILLed (kill {run.pusher_kills}); restarting in 1 s")
    await asyncio.sleep(1)
    services.start_pusher()


async def restart_postgres(services: Services, run: Run, down_s: float) -> None:
    began = run.now()
    run.event(f"postgres stopping (down for {down_s:g} s)")
    await asyncio.to_thread(services.postgres.stop)
    await asyncio.sleep(down_s)
    url = await asyncio.to_thread(services.postgres.start)
    if url != services.database_url:
        raise RuntimeError(f"postgres came back on {url}, not {services.database_url}")
    run.db_windows.append((began, run.now()))
    run.event("postgres started again on the same data dir")


async def stop_mining(services: Services, run: Run, seconds: float, kill_at: float) -> None:
    await asyncio.to_thread(rpc, services, "evm_setIntervalMining", [0])
    run.event(f"anvil mining stopped for {seconds:g} s")
    await asyncio.sleep(kill_at)
    await kill_pusher(services, run)
    await asyncio.sleep(max(seconds - kill_at - 1, 0))
    await asyncio.to_thread(rpc, services, "evm_setIntervalMining", [1])
    run.event("anvil mining resumed (1 block/s)")


async def reorg(services: Services, run: Run) -> None:
    head = int(await asyncio.to_thread(rpc, services, "eth_blockNumber"), 16)
    await asyncio.to_thread(rpc, services, "anvil_reorg", [REORG_DEPTH, []])
    run.event(f"anvil_reorg: blocks {head - REORG_DEPTH + 1}..{head} replaced by empty ones")


async def faults(services: Services, run: Run, args: argparse.Namespace) -> None:
    d, f = args.seconds, args.fault_seconds
    schedule = {
        "kill": 0.10 * d,
        "postgres": 0.20 * d,
        "mining": 0.35 * d,
        "reorg": max(0.35 * d + f + 5, 0.80 * d),
    }

    async def at(moment: float) -> None:
        await asyncio.sleep(max(moment - run.now(), 0))

    await at(schedule["kill"])
    await kill_pusher(services, run)
    await at(schedule["postgres"])
    await restart_postgres(services, run, args.db_down_seconds)
    await at(schedule["mining"])
    await stop_mining(services, run, f, kill_at=f / 2)
    await at(schedule["reorg"])
    await reorg(services, run)


# --- drain and figures --------------------------------------------------------------------


async def ledger(database_url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch("SELECT status, count(*), sum(amount) FROM rewards GROUP BY status")
        batches = await conn.fetchval(
            "SELECT count(*) FROM settlement_batches WHERE status IN ('signed', 'submitted')"
        )
    finally:
        await conn.close()
    out = {f"{r['status']}_rows": int(r["count"]) for r in rows}
    out.update({f"{r['status']}_amount": int(r["sum"]) for r in rows})
    out["unsettled_batches"] = int(batches)
    return out


async def drain(services: Services, run: Run, limit_s: float) -> dict[str, int]:
    """Let the (restarted) pusher finish: nothing pending, batched or in flight."""
    deadline = time.monotonic() + limit_s
    state = await ledger(services.database_url)
    while time.monotonic() < deadline:
        state = await ledger(services.database_url)
        if not (
            state.get("pending_rows") or state.get("batched_rows") or state["unsettled_batches"]
        ):
            break
        await asyncio.sleep(1)
    run.event(f"drain finished: {state}")
    return state


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def classify(run: Run, grace_s: float) -> dict[str, Any]:
    """Counts per kind and status; which 5xx are excused and which are not."""

    def in_window(sample: Sample, pad: float) -> bool:
        """The request was in flight at some moment the database was down (+ pad after)."""
        done = sample.at + sample.latency
        return any(sample.at <= end + pad and done >= start for start, end in run.db_windows)

    by_kind: dict[str, Counter[str]] = {}
    violations: Counter[str] = Counter()
    excused: Counter[str] = Counter()
    first_seen: dict[str, float] = {}
    for s in run.samples:
        label = str(s.status) if s.status else f"connection:{s.code}"
        if s.code and s.status:
            label += f" {s.code}"
        by_kind.setdefault(s.kind, Counter())[label] += 1
        if s.status and s.status < 500:
            continue
        clean_503 = s.status == 503 and s.code == "database_unavailable"
        if clean_503 and in_window(s, 0.0):
            excused["503 database_unavailable while postgres was down"] += 1
        elif clean_503 and in_window(s, grace_s):
            excused[f"503 database_unavailable within {grace_s:g} s after restart"] += 1
        else:
            violations[label] += 1
            first_seen.setdefault(label, round(s.at, 1))
    total = len(run.samples)
    ok = [s.latency for s in run.samples if 200 <= s.status < 300]
    latency = {
        kind: {
            "p50_ms": round(percentile(v, 0.50) * 1e3, 1),
            "p99_ms": round(percentile(v, 0.99) * 1e3, 1),
        }
        for kind in sorted(by_kind)
        if (v := [s.latency for s in run.samples if s.kind == kind and 200 <= s.status < 300])
    }
    errors = sum(1 for s in run.samples if not 200 <= s.status < 300)
    return {
        "requests": total,
        "ok_2xx": len(ok),
        "error_rate": round(errors / total, 5) if total else 0.0,
        "by_kind": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())},
        "excused_5xx": dict(excused),
        "violations_5xx_or_connection": dict(violations),
        "violations_first_seen_at_s": first_seen,
        "latency_2xx": {
            "all": {
                "p50_ms": round(percentile(ok, 0.50) * 1e3, 1),
                "p99_ms": round(percentile(ok, 0.99) * 1e3, 1),
                "mean_ms": round(statistics.fmean(ok) * 1e3, 1) if ok else None,
            },
            **latency,
        },
    }


async def chain_figures(services: Services, shop: dict[str, Any]) -> dict[str, int]:
    from backend.chain.client import connect, contract

    w3 = connect(services.rpc_url)
    push_pull = contract(w3, "MultiTokenPushPull", shop["push_pull"])
    erc20 = contract(w3, "MockERC20", shop["token"])
    return {
        "credited_total_pending": int(push_pull.functions.getTotalPending(shop["token"]).call()),
        "push_pull_balance": int(erc20.functions.balanceOf(shop["push_pull"]).call()),
        "bank_balance": int(erc20.functions.balanceOf(shop["bank"]).call()),
    }


async def index_and_reconcile(services: Services, shop: dict[str, Any]) -> dict[str, Any]:
    from backend.core.context import AppContext
    from backend.settlement.reconcile import reconcile
    from indexer import index_once

    ctx = AppContext(shop["settings"], services.database_url, services.rpc_url)
    try:
        stats = await index_once(ctx)
        report = await reconcile(ctx)
    finally:
        await ctx.close()
    cli = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).parent / "cascade"), "reconcile"],
        env=services.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return {
        "indexed_to_block": stats.cursor,
        "reconcile": report.as_dict(),
        "cascade_reconcile_exit": cli.returncode,
        "cascade_reconcile_output": (cli.stdout + cli.stderr).strip().splitlines()[-1:],
    }


# --- main -----------------------------------------------------------------------------------


async def soak(args: argparse.Namespace, services: Services) -> dict[str, Any]:
    shop = await set_up(services)
    services.start_pusher()
    run = Run()
    scaled = args.fault_seconds != 60
    run.event(
        f"load for {args.seconds:g} s at concurrency {args.concurrency}; mining stop "
        + (f"scaled from 60 s to {args.fault_seconds:g} s" if scaled else "60 s")
    )
    supervisor = asyncio.create_task(supervise_pusher(services, run))
    fault_task = asyncio.create_task(faults(services, run, args))
    load = Load(shop, run, args.concurrency)
    await load.drive(args.seconds)
    await fault_task  # bounded: every fault ends before the schedule's last moment
    run.event(f"load finished: {len(run.samples)} requests")
    state = await drain(services, run, args.drain_seconds)
    run.stop.set()
    await supervisor
    services.stop_process(services.pusher, signal.SIGINT)
    services.stop_process(services.serve, signal.SIGTERM)
    chain = await chain_figures(services, shop)
    proof = await index_and_reconcile(services, shop)
    figures = classify(run, args.db_grace_seconds)
    earned = sum(v for k, v in state.items() if k.endswith("_amount") and k != "cancelled_amount")
    money = {
        "earned": earned,
        "pushed": state.get("pushed_amount", 0),
        "credited_onchain": chain["credited_total_pending"],
        "queued_after_drain": state.get("pending_amount", 0),
        "in_flight_after_drain": state.get("batched_amount", 0),
        "unsettled_batches": state["unsettled_batches"],
        **chain,
    }
    failures = []
    if figures["violations_5xx_or_connection"]:
        failures.append("5xx or connection errors outside the database window")
    if not earned == money["pushed"] == money["credited_onchain"]:
        failures.append("earned, pushed and credited on-chain differ after draining")
    if money["push_pull_balance"] != money["credited_onchain"]:
        failures.append("push-pull balance differs from its total pending")
    if proof["reconcile"]["mismatches"] or proof["cascade_reconcile_exit"] != 0:
        failures.append("reconcile reports mismatches")
    if run.pusher_kills != 2:
        failures.append(f"pusher was killed {run.pusher_kills} times, not 2")
    return {
        "command": "bench/soak.py " + " ".join(sys.argv[1:]),
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "fault_seconds": args.fault_seconds,
        "mining_stop_scaled": scaled,
        "db_down_seconds": args.db_down_seconds,
        "db_windows": [(round(a, 1), round(b, 1)) for a, b in run.db_windows],
        "pusher_kills": run.pusher_kills,
        "pusher_unexpected_exits": run.pusher_unexpected_exits,
        "events": run.events,
        **figures,
        "money": {k: str(v) for k, v in money.items()},
        **proof,
        "failures": failures,
    }


def print_report(result: dict[str, Any]) -> None:
    print(f"soak: {result['command']}")
    print(f"  requests served        {result['requests']}  (2xx {result['ok_2xx']})")
    print(f"  error rate             {result['error_rate']:.3%}")
    for kind, counts in result["by_kind"].items():
        print(f"    {kind:<12} {counts}")
    print(f"  excused 5xx            {result['excused_5xx']}")
    print(f"  5xx/conn outside window {result['violations_5xx_or_connection']}")
    for kind, values in result["latency_2xx"].items():
        print(f"  latency {kind:<12}   p50 {values['p50_ms']} ms  p99 {values['p99_ms']} ms")
    money = result["money"]
    print(
        f"  rewards earned {money['earned']}  pushed {money['pushed']}  "
        f"credited on-chain {money['credited_onchain']}"
    )
    print(
        f"  pusher kills {result['pusher_kills']}, "
        f"exits on its own {result['pusher_unexpected_exits']}"
    )
    if result["mining_stop_scaled"]:
        print(f"  note: mining stop scaled from 60 s to {result['fault_seconds']:g} s")
    print(
        f"  reconcile: {result['reconcile']['pairs']} pairs, "
        f"{len(result['reconcile']['mismatches'])} mismatch(es); "
        f"`cascade reconcile` exit {result['cascade_reconcile_exit']}"
    )
    print(
        "  result: " + ("OK" if not result["failures"] else "FAIL " + "; ".join(result["failures"]))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="load duration")
    parser.add_argument("--fault-seconds", type=float, default=60.0, help="mining stop length")
    parser.add_argument("--db-down-seconds", type=float, default=5.0)
    parser.add_argument("--db-grace-seconds", type=float, default=5.0)
    parser.add_argument("--drain-seconds", type=float, default=180.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    if args.seconds < (args.fault_seconds + 15) / 0.55:
        parser.error("--seconds too short for the fault schedule: need (fault + 15) / 0.55")
    tmp = Path(tempfile.mkdtemp(prefix="cascade-soak-"))
    tmp.chmod(0o755)  # pgserver runs postgres as another user
    services = Services(tmp)
    try:
        result = asyncio.run(soak(args, services))
    finally:
        services.close()
    print_report(result)
    if result["failures"]:
        for name in ("serve.log", "push.log"):
            shutil.copy(tmp / name, Path(tempfile.gettempdir()) / f"cascade-soak-{name}")
        print(f"  logs kept: {tempfile.gettempdir()}/cascade-soak-{{serve,push}}.log")
    if args.json:
        print(json.dumps(result))
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
