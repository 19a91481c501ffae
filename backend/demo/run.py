"""Run the demo: fresh embedded services, contracts, a funded shop, the story, then serve."""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from backend.core import migrate
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.core.paths import REPO_ROOT
from backend.demo.accounts import people
from backend.demo.servers import ApiServer, Checkout, StaticSite
from backend.demo.story import TOKEN, Story, shopify_orders_paid, tokens
from backend.runtime.anvil import free_port, rpc_call
from backend.runtime.contracts import ensure_core_contracts
from backend.runtime.services import embedded_services

SHOP_DIR = REPO_ROOT / "sdk-js" / "examples" / "shop"
BANK_FUNDING = 10_000 * TOKEN


@dataclass
class DemoResult:
    failures: list[str] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def demo_settings(settings: Settings, port: int) -> Settings:
    """Embedded everything under DATA_DIR/demo, pushes as soon as rewards exist."""
    return settings.model_copy(
        update={
            "database_url": None,
            "rpc_url": None,
            "push_pull_address": None,
            "bank_factory_address": None,
            "account_factory_address": None,
            "data_dir": Path(settings.data_dir) / "demo",
            "public_url": f"http://localhost:{port}",
            "push_cooldown_s": 0,
            "push_interval_s": 10,  # served: rewards earned in the shop settle within seconds
            "port": port,
        }
    )


def run_demo(
    settings: Settings,
    *,
    serve: bool,
    port: int,
    say: Callable[[str], None],
    ready: Callable[[DemoResult], None] | None = None,
) -> DemoResult:
    settings = demo_settings(settings, port)
    shutil.rmtree(settings.data_dir, ignore_errors=True)  # every demo starts from nothing
    settings.data_dir.mkdir(parents=True)
    say(f"starting embedded PostgreSQL and anvil under {settings.data_dir}")
    with embedded_services(settings) as endpoints:
        settings = ensure_core_contracts(settings, endpoints.rpc_url)
        say(f"MultiTokenPushPull {settings.push_pull_address}")
        say(f"ProductBankFactory {settings.bank_factory_address}")
        say(f"PasskeyAccountFactory {settings.account_factory_address}")
        return asyncio.run(
            _run(settings, endpoints.database_url, endpoints.rpc_url, serve, say, ready)
        )


async def _run(
    settings: Settings,
    database_url: str,
    rpc_url: str,
    serve: bool,
    say: Callable[[str], None],
    ready: Callable[[DemoResult], None] | None,
) -> DemoResult:
    from backend.api.app import create_app

    result = DemoResult()
    ctx = AppContext(settings, database_url, rpc_url)
    await migrate.upgrade(ctx.engine)
    cast = people()
    token = await asyncio.to_thread(_deploy_token, rpc_url, cast["operator"].key)
    say(f"EURe (test) token {token}, 18 decimals")
    shop = StaticSite(SHOP_DIR, free_port())
    product_id, api_key = await _create_product(ctx, cast["owner"].address, shop.port)
    say(f"product 'Demo shop' for shop.localhost: {product_id}")

    api = ApiServer(
        create_app(settings, database_url=database_url, rpc_url=rpc_url), "127.0.0.1", settings.port
    )
    api.start()
    say(f"API listening on {api.url}")
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
            story = Story(
                client, ctx, cast, product_id, api_key, token, f"http://localhost:{shop.port}/", say
            )
            await _play(story, rpc_url, cast, token)
            result.failures = story.failures
        if serve:
            shop.on_checkout(_checkout(api.url, product_id, story.shopify_secret))
            shop.start()
            result.urls = await _urls(ctx, settings, product_id, cast, story.wallets, shop.port)
            await _serve(ctx, result, say, ready)
    finally:
        api.stop()
        await ctx.close()
    return result


async def _play(story: Story, rpc_url: str, cast: dict, token: str) -> None:
    bank = await story.set_up_campaign()
    await asyncio.to_thread(
        _fund_bank, rpc_url, cast["operator"].key, cast["owner"].key, token, bank
    )
    story.say(f"owner deposited {tokens(BANK_FUNDING)} EURe into the bank")
    await story.share("alice")
    await story.land_and_buy("bob", via="alice", order_id="1001")
    await story.share("bob")
    await story.land_and_buy("carol", via="bob", order_id="1002")
    await story.share("carol")
    await story.land_and_buy("dave", via="carol", order_id="1003")

    def mine(blocks: int) -> None:
        for _ in range(blocks):
            rpc_call(rpc_url, "evm_mine")

    await story.settle(mine)
    claimable = await story.claimable()
    story.say("claimable on-chain per wallet, against the reward formula:")
    for line in story.table(claimable):
        story.say(line)
    for name, expected in story.expected.items():
        story.check(claimable[name] == expected, f"{name} can claim exactly {tokens(expected)}")
    story.check(
        sum(story.expected.values()) == 30 * TOKEN,
        "three purchases paid exactly 3 x 10 EURe, nothing created or lost",
    )

    bob = cast["bob"]
    balance = await asyncio.to_thread(_claim, rpc_url, bob.key, story.ctx.settings, token)
    story.say(f"Bob claims on-chain: his EURe balance is now {tokens(balance)}")
    story.check(balance == story.expected["bob"], "Bob's wallet holds exactly what he earned")

    await _passkey_shopper(story, cast, mine)

    from backend.settlement.reconcile import reconcile

    report = await reconcile(story.ctx)
    story.check(
        not report.mismatches and report.pairs > 0,
        f"reconcile: {report.pairs} (token, wallet) pairs, {len(report.mismatches)} mismatch(es)",
    )


async def _passkey_shopper(story: Story, cast: dict, mine: Callable[[int], None]) -> None:
    """Erin has no crypto wallet: a passkey is her wallet; she earns, claims and sends gas-free."""
    from backend.demo import passkey_shopper

    erin = await passkey_shopper.sign_up(story, "erin")
    alice_before = story.expected["alice"]
    await passkey_shopper.land_and_buy(story, erin, via="alice", order_id="1004")
    await story.settle(mine)
    claimable = await story.claimable()
    story.check(
        claimable["erin"] == story.expected["erin"] == 5 * TOKEN,
        f"erin can claim exactly {tokens(story.expected['erin'])}",
    )
    story.check(
        claimable["alice"] == story.expected["alice"] == alice_before + 5 * TOKEN,
        f"alice can claim exactly {tokens(story.expected['alice'])} "
        f"({tokens(alice_before)} + {tokens(5 * TOKEN)} from erin's purchase)",
    )
    await passkey_shopper.gasless_claim(story, erin, mine)
    await passkey_shopper.passkey_send(story, erin, cast["frank"].address, 2 * TOKEN, mine)


async def _create_product(ctx: AppContext, owner: str, shop_port: int) -> tuple[str, str]:
    from backend.products import schemas, service
    from backend.products.authorization import CLI_PRINCIPAL

    async with ctx.sessions() as session:
        product, key = await service.create_product(
            session,
            CLI_PRINCIPAL,
            schemas.ProductCreate(
                name="Demo shop",
                domains=["shop.localhost", f"localhost:{shop_port}"],
                owner=owner,
            ),
        )
        return product.id, key


def _checkout(api_url: str, product_id: str, secret: str) -> Checkout:
    """The served shop's server taking payment: its platform (Shopify here) then sends
    Cascade the signed orders/paid webhook with the order's checkout token."""

    def checkout(order: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body, headers = shopify_orders_paid(
            secret,
            str(int(order["order_id"])),
            str(order["checkout_token"]) if order.get("checkout_token") else None,
            str(order.get("total_price") or "0"),
            str(order.get("currency") or "EUR"),
        )
        answer = httpx.post(
            f"{api_url}/api/external/webhooks/{product_id}/shopify",
            content=body,
            headers=headers,
            timeout=20,
        )
        return (200 if answer.is_success else 502), {"webhook_status": answer.status_code}

    return checkout


async def _urls(
    ctx: AppContext,
    settings: Settings,
    product_id: str,
    cast: dict,
    wallets: dict[str, str],
    shop_port: int,
) -> dict[str, str]:
    from backend.auth.sessions import create_login_link

    base = str(settings.public_url)
    async with ctx.sessions() as session:
        login = await create_login_link(session, cast["owner"].address)
        await session.commit()
    return {
        "dashboard (one-time login link for the owner)": f"{base}/api/auth/magic/{login}",
        "wallet page (Bob)": f"{base}/wallet?address={cast['bob'].address}",
        "wallet page (Erin, a passkey wallet)": f"{base}/wallet?address={wallets['erin']}",
        "demo shop with the SDK": (
            f"http://localhost:{shop_port}/?backend={base}&product={product_id}&checkout=/checkout"
        ),
        "API docs": f"{base}/schema",
    }


async def _serve(
    ctx: AppContext,
    result: DemoResult,
    say: Callable[[str], None],
    ready: Callable[[DemoResult], None] | None,
) -> None:
    """Keep serving, with the scheduler's jobs running, until Ctrl-C or SIGTERM."""
    from backend.core.scheduler import Scheduler
    from backend.runtime.jobs import register_all_jobs

    # a chain that makes blocks on its own (every second), so pushes confirm and relayed
    # claims and sends are mined while someone clicks around
    await asyncio.to_thread(rpc_call, ctx.rpc_url, "evm_setIntervalMining", [1])
    scheduler = Scheduler(ctx)
    register_all_jobs(scheduler)
    scheduler.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    say("serving; open these (Ctrl-C to stop):")
    for label, url in result.urls.items():
        say(f"  {label}: {url}")
    if ready is not None:
        ready(result)
    try:
        await stop.wait()
    finally:
        await scheduler.shutdown()


def _deploy_token(rpc_url: str, key: str) -> str:
    from backend.chain.client import connect
    from backend.chain.deploy import deploy_test_token

    return deploy_test_token(connect(rpc_url), key, "EURe (test)", "EURe", 18)


def _fund_bank(rpc_url: str, minter_key: str, owner_key: str, token: str, bank: str) -> None:
    from backend.chain.client import account, connect, contract, send

    w3 = connect(rpc_url)
    owner = account(owner_key).address
    erc20 = contract(w3, "MockERC20", token)
    send(w3, minter_key, erc20.functions.mint(owner, BANK_FUNDING))
    send(w3, owner_key, erc20.functions.approve(bank, BANK_FUNDING))
    send(w3, owner_key, contract(w3, "ProductBank", bank).functions.deposit(token, BANK_FUNDING))


def _claim(rpc_url: str, key: str, settings: Settings, token: str) -> int:
    from backend.chain.client import account, connect, contract, send

    w3 = connect(rpc_url)
    push_pull = contract(w3, "MultiTokenPushPull", str(settings.push_pull_address))
    send(w3, key, push_pull.functions.pullReward(token))
    return int(contract(w3, "MockERC20", token).functions.balanceOf(account(key).address).call())
