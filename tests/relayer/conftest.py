"""Relayer fixtures: the settlement chain fixtures, a context whose settings know the
contracts, an app on it, and bearer sessions for wallets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from web3 import Web3

from backend.auth.sessions import open_session
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.relayer.relay import RelayerEnv
from backend.settlement.options import load_options
from tests.auth.authenticator import SoftAuthenticator
from tests.auth.conftest import ORIGIN
from tests.conftest import asgi_client
from tests.settlement import conftest as settlement
from tests.settlement.conftest import FAST, KEY, SIGNER, TOKENS, Env  # noqa: F401

# the settlement suite's chain fixtures: core contracts, a funded bank per test
automine = settlement.automine
core = settlement.core
env = settlement.env
w3 = settlement.w3

RELAYER_OPTIONS = load_options(receipt_wait_s=10, replace_after_s=3600, retry_base_s=0)


@pytest.fixture(scope="session")
def relayer_settings(settings: Settings, core: dict[str, str]) -> Settings:
    return settings.model_copy(
        update={
            "push_pull_address": core["push_pull"],
            "account_factory_address": core["account_factory"],
        }
    )


@pytest.fixture(scope="session")
async def relayer_context(
    relayer_settings: Settings, database_url: str, rpc_url: str
) -> AsyncIterator[AppContext]:
    context = AppContext(relayer_settings, database_url, rpc_url)
    yield context
    await context.close()


@pytest.fixture
def ctx(relayer_context: AppContext, env: Env) -> Iterator[AppContext]:
    """The relayer context for one test (after the chain fixtures); settings restored after."""
    original = relayer_context.settings
    yield relayer_context
    relayer_context.settings = original


@pytest.fixture
def relayer_app(ctx: AppContext) -> Litestar:
    """The whole app on the relayer context."""
    from backend.api.app import create_app

    return create_app(ctx.settings, database_url=ctx.database_url, rpc_url=ctx.rpc_url, context=ctx)


@pytest.fixture
def relayer_env(relayer_app: Litestar, ctx: AppContext) -> RelayerEnv:
    from backend.relayer.routes import provide_relayer_env

    env_ = provide_relayer_env(relayer_app.state, ctx)
    env_.options = RELAYER_OPTIONS
    return env_


@pytest.fixture
async def api(relayer_app: Litestar, relayer_env: RelayerEnv) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(relayer_app) as test_client:
        yield test_client


def configure(context: AppContext, **values: Any) -> None:
    """Change RELAYER_* (or any) settings of the running test app."""
    context.settings = context.settings.model_copy(update=values)


async def bearer(context: AppContext, wallet: str) -> dict[str, str]:
    """Authorization header of a fresh listener session bound to `wallet`."""
    async with context.sessions() as session:
        issued = await open_session(
            session,
            wallet=wallet,
            kind="bearer",
            credential_id=None,
            client_ip=None,
            user_agent=None,
        )
        await session.commit()
    return {"Authorization": f"Bearer {issued.token}"}


def erc20_balance(web3: Web3, token: str, wallet: str) -> int:
    from backend.chain import contract

    return int(contract(web3, "MockERC20", token).functions.balanceOf(wallet).call())


@pytest.fixture
def base_fee_restored(env: Env) -> Iterator[None]:
    """A base-fee spike must not outlive its test (anvil keeps it across snapshot reverts)."""
    before = int(env.w3.eth.get_block("latest")["baseFeePerGas"])
    yield
    env.rpc("anvil_setNextBlockBaseFeePerGas", [hex(before)])
    env.rpc("evm_mine")


class BrowserAuthenticator(SoftAuthenticator):
    """The software authenticator, with clientDataJSON serialised as browsers do (compact)."""

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            },
            separators=(",", ":"),
        ).encode()


@pytest.fixture
def authenticator() -> BrowserAuthenticator:
    return BrowserAuthenticator(origin=ORIGIN)


async def passkey_wallet(
    api: httpx.AsyncClient, authenticator: SoftAuthenticator
) -> tuple[str, dict[str, str]]:
    """Sign up with only a passkey: (the account address, its session header)."""
    options = (await api.post("/api/auth/passkey/signup/options", json={})).json()
    response = await api.post(
        "/api/auth/passkey/signup/verify", json={"credential": authenticator.create(options)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["wallet"], {"Authorization": f"Bearer {body['token']}"}


def assertion(authenticator: SoftAuthenticator, challenge: str, **bend: Any) -> dict[str, Any]:
    """navigator.credentials.get({challenge}) of the newest passkey."""
    return authenticator.get({"rpId": "localhost", "challenge": challenge}, **bend)
