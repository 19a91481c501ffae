"""Auth tests: an app per test, its AuthEnv reachable (clock, limits), a soft authenticator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from litestar import Litestar

from backend.auth.routes import provide_auth_env
from backend.auth.service import AuthEnv
from backend.core.config import ANVIL_DEV_KEYS, Settings
from backend.core.context import AppContext
from tests.auth.authenticator import SoftAuthenticator
from tests.conftest import asgi_client

ORIGIN = "http://localhost:8000"  # what the default settings (127.0.0.1:8000) expect


@dataclass
class Clock:
    """A settable clock for challenge expiry: no test sleeps five minutes."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


# The routes these suites exercise; building the app from them alone keeps another
# domain's unfinished routes from failing the auth suite.
AUTH_ROUTE_MODULES = (
    "backend.auth.routes",
    "backend.listener.routes",
    "backend.interactions.routes",
)


def build_app(settings: Settings, context: AppContext | None) -> Litestar:
    from unittest import mock

    from backend.api import app as app_module

    with mock.patch.object(app_module, "DOMAIN_ROUTE_MODULES", AUTH_ROUTE_MODULES):
        return app_module.create_app(
            settings,
            database_url=context.database_url if context else str(settings.database_url),
            rpc_url=context.rpc_url if context else str(settings.rpc_url),
            context=context,
        )


@pytest.fixture
def auth_app(settings: Settings, clean_db: AppContext) -> Litestar:
    return build_app(settings, clean_db)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def auth_env(auth_app: Litestar, settings: Settings, clean_db: AppContext, clock: Clock) -> AuthEnv:
    env = provide_auth_env(auth_app.state, settings, clean_db)
    env.clock = clock
    return env


@pytest.fixture
async def api(auth_app: Litestar, auth_env: AuthEnv) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(auth_app) as test_client:
        yield test_client


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(origin=ORIGIN)


@pytest.fixture
def account() -> LocalAccount:
    return Account.create()


def personal_sign(account: LocalAccount, message: str) -> str:
    return "0x" + account.sign_message(encode_defunct(text=message)).signature.hex()


async def prove_wallet(
    api: httpx.AsyncClient, wallet: str, sign: Callable[[str], str]
) -> dict[str, Any]:
    """wallet-challenge then register/options: the creation options for `wallet`."""
    challenge = (await api.post("/api/auth/wallet-challenge", json={"wallet": wallet})).json()
    response = await api.post(
        "/api/auth/passkeys/register/options",
        json={
            "wallet": wallet,
            "challenge_id": challenge["challenge_id"],
            "signature": sign(challenge["message"]),
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def register(
    api: httpx.AsyncClient, account: LocalAccount, authenticator: SoftAuthenticator
) -> dict[str, Any]:
    options = await prove_wallet(api, account.address, lambda text: personal_sign(account, text))
    response = await api.post(
        "/api/auth/passkeys/register/verify", json={"credential": authenticator.create(options)}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def login_options(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.post("/api/auth/passkeys/login/options", json={})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="session")
def owner_wallet_contract(rpc_url: str) -> Callable[[str], str]:
    """Deploys OwnerWallet.vy (an EIP-1271 account) for an owner; returns its address."""
    import vyper
    from web3 import Web3

    source = (Path(__file__).parent / "OwnerWallet.vy").read_text()
    compiled = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    deployer = Account.from_key(ANVIL_DEV_KEYS[1])

    def deploy(owner: str) -> str:
        contract = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
        tx = contract.constructor(owner).build_transaction(
            {"from": deployer.address, "nonce": w3.eth.get_transaction_count(deployer.address)}
        )
        signed = deployer.sign_transaction(tx)
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(signed.raw_transaction)
        )
        return str(receipt["contractAddress"])

    return deploy
