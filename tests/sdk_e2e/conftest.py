"""SDK end-to-end suite: the demo shop on one loopback origin, the backend on another.

Unlike tests/browser, the backend lists no extra LISTENER_ORIGINS: a page's
origin is allowed only because its product registered the domain, which is
what this suite is about. A second copy of the shop plays a stranger's site.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from eth_account import Account

from backend.api.app import create_app
from backend.core.config import Settings
from tests.browser.conftest import ensure_sdk_built
from tests.browser.harness import FakeEthereum, LiveServer, Page, VirtualAuthenticator
from tests.browser.harness.cdp import CdpConnection
from tests.browser.harness.fixtures import *  # noqa: F403 (browser, page, the failure hook)
from tests.browser.harness.fixtures import OUTPUT_DIR
from tests.factories import make_campaign, make_product, make_token
from tests.interactions.helpers import reset_caches
from tests.sdk_e2e.shop import (
    SHOPIFY_SECRET,
    Shop,
    ShopSite,
    send_shopify_webhook,
    shop_page,
    shopify_order,
)
from tests.sdk_e2e.shopper import Shopper
from tests.sdk_e2e.traffic import Traffic


@pytest.fixture(scope="session")
def shop_site() -> Iterator[ShopSite]:
    site = ShopSite().start()
    yield site
    site.stop()


@pytest.fixture(scope="session")
def stranger_site() -> Iterator[ShopSite]:
    """The same shop page on an origin no product registered."""
    site = ShopSite().start()
    yield site
    site.stop()


# module scope: a served app runs its own evaluator, which must not outlive the
# module and evaluate other suites' interactions behind their backs
@pytest.fixture(scope="module")
def live_server(settings: Settings, database_url: str) -> Iterator[LiveServer]:
    """The whole app (every domain's routes) under uvicorn on http://localhost:<port>."""
    ensure_sdk_built()

    def factory(port: int) -> object:
        served = settings.model_copy(
            update={"port": port, "public_url": f"http://localhost:{port}", "listener_origins": []}
        )
        return create_app(served, database_url=database_url, rpc_url=str(served.rpc_url))

    server = LiveServer(factory).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_process_state(live_server: LiveServer) -> None:
    """The server runs in this process: its caches (active campaigns, products, referral
    chains) outlive the per-test TRUNCATE, and every request comes from 127.0.0.1, so
    each test starts with empty caches and rate-limit windows. (Every test registers
    the same shop domain, hence the same product id, with a new campaign.)"""
    reset_caches()
    env = live_server.app.state.get("auth_env")
    if env is not None:
        env.limits.reset()


@pytest.fixture
async def shoppers(
    browser: CdpConnection, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[[str], Awaitable[Shopper]]]:
    """`await shoppers("bob")`: a person in a fresh browser context, with a wallet
    extension (a new key) and a passkey authenticator. Screenshots and console logs
    of every shopper's tab go to test-output/browser/ when the test fails."""
    opened: list[Shopper] = []

    async def open_shopper(name: str) -> Shopper:
        page = await Page.open(browser)
        account = Account.create()
        shopper = Shopper(
            name=name,
            page=page,
            account=account,
            wallet=await FakeEthereum.install(page, account),
            authenticator=await VirtualAuthenticator.add(page),
            traffic=await Traffic.record(page),
        )
        opened.append(shopper)
        return shopper

    yield open_shopper

    report = getattr(request.node, "report_call", None)
    for shopper in opened:
        if report is not None and report.failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.nodeid}-{shopper.name}")[-150:]
            try:
                await shopper.page.screenshot(OUTPUT_DIR / f"{name}.png")
            except Exception as exc:  # the tab may be the thing that broke
                shopper.page.console.append(f"(screenshot failed: {exc})")
            (OUTPUT_DIR / f"{name}.log").write_text("\n".join(shopper.page.console) + "\n")
        await shopper.page.close()


@pytest.fixture
async def shop(db_session, shop_site: ShopSite, live_server: LiveServer) -> AsyncIterator[Shop]:
    """A product registered for the shop's origin, its token, a "purchase after referral"
    campaign, and the shop's server wired to send Shopify's orders/paid on checkout."""
    product, api_key = await make_product(
        db_session, domain=shop_site.domain, webhook_secrets={"shopify": [SHOPIFY_SECRET]}
    )
    await make_token(db_session, product)
    campaign = await make_campaign(
        db_session,
        product,
        name="Purchase after referral",
        trigger="purchase.completed",
        requires_referral=True,
    )
    page = shop_page(shop_site, live_server.url, product.id)
    shop = Shop(product, api_key, campaign, shop_site.origin, page)

    def checkout(order: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payload = shopify_order(
            order["order_id"], order["total_price"], order["currency"], order.get("checkout_token")
        )
        answer = send_shopify_webhook(
            live_server.url, product.id, SHOPIFY_SECRET, "orders/paid", payload
        )
        shop.webhooks.append(answer)
        return (200 if answer.is_success else 502), {"webhook_status": answer.status_code}

    shop_site.on_checkout = checkout
    yield shop
    shop_site.on_checkout = None
