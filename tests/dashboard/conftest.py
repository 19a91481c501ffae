"""Dashboard fixtures: the app with deployed contracts, in-process and under uvicorn.

In-process (`web`) for page and form tests; a live server (`live_dashboard`) for
the browser. Both use the session's database and anvil with the core contracts
deployed once (tests/products/fixtures.py), and every test gets empty tables.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest import mock

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.sessions import create_login_link
from backend.core.config import Settings
from backend.core.context import AppContext
from tests.browser.harness.fixtures import *  # noqa: F403 (browser, page, failure screenshots)
from tests.browser.harness.servers import LiveServer
from tests.conftest import asgi_client
from tests.products.fixtures import (  # noqa: F401 (fixtures)
    chain_context,
    chain_settings,
    core,
    funded_account,
    reward_token,
)

# The domains these pages use; another domain's unfinished routes cannot break this suite.
ROUTE_MODULES = (
    "backend.products.routes",
    "backend.campaigns.routes",
    "backend.products.audit_routes",
    "backend.interactions.routes",
    "backend.auth.routes",
    "backend.listener.routes",
    "backend.wallets.routes",
    "backend.dashboard.routes",
)
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def build_app(settings: Settings, context: AppContext | None) -> Litestar:
    from backend.api import app as app_module

    with mock.patch.object(app_module, "DOMAIN_ROUTE_MODULES", ROUTE_MODULES):
        return app_module.create_app(
            settings,
            database_url=context.database_url if context else str(settings.database_url),
            rpc_url=context.rpc_url if context else str(settings.rpc_url),
            context=context,
        )


def csrf_of(html: str) -> str:
    """The page's CSRF token; every form on the page must carry the same, non-empty one."""
    tokens = set(re.findall(r'name="csrf_token" value="([^"]*)"', html))
    assert len(tokens) == 1, f"forms carry different or no CSRF tokens: {tokens}"
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture
def owner() -> LocalAccount:
    return Account.create()


@pytest.fixture
async def web(
    chain_context: AppContext,  # noqa: F811 (the imported fixture)
    clean_db: AppContext,
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client (keeps cookies, does not follow redirects) on a fresh app."""
    app = build_app(chain_context.settings, chain_context)
    async with asgi_client(app) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, session: AsyncSession, wallet: str) -> None:
    """A dashboard cookie session for `wallet` through a one-time login link."""
    token = await create_login_link(session, wallet)
    response = await client.get(f"/api/auth/magic/{token}")
    assert response.status_code == 303, response.text


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, Any], *, page: str | None = None
) -> httpx.Response:
    """Submit a form as the browser would: with the CSRF token of the page it sits on."""
    html = (await client.get(page or path)).text
    return await client.post(path, data={"csrf_token": csrf_of(html), **data})


# module scope: a served app runs its own evaluator, which must not outlive the
# module and evaluate other suites' interactions behind their backs
@pytest.fixture(scope="module")
def live_dashboard(chain_settings: Settings) -> Iterator[LiveServer]:  # noqa: F811
    """The app under uvicorn at http://localhost:<port> (WebAuthn needs a host name)."""

    def factory(port: int) -> object:
        served = chain_settings.model_copy(
            update={"port": port, "public_url": f"http://localhost:{port}"}
        )
        return build_app(served, None)

    server = LiveServer(factory).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_rate_limits(request: pytest.FixtureRequest) -> None:
    """Browser tests all come from 127.0.0.1: start each with empty auth rate windows."""
    if "live_dashboard" not in request.fixturenames:
        return
    server: LiveServer = request.getfixturevalue("live_dashboard")
    env = server.app.state.get("auth_env")
    if env is not None:
        env.limits.reset()
