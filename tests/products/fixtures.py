"""Fixtures for business API tests: deployed core contracts, a reward token, a client.

Imported by the conftest of tests/products, tests/campaigns and tests/audit.
Deployments are session-scoped (set up before any function-level chain
snapshot); every test uses fresh product domains, so banks never collide.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.app import create_app
from backend.auth.models import AuthSession
from backend.auth.tokens import hash_token
from backend.chain.client import connect
from backend.chain.deploy import CoreAddresses, deploy_core, deploy_test_token
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.runtime.anvil import rpc_call
from tests.conftest import asgi_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def domain() -> str:
    return f"shop-{uuid.uuid4().hex[:10]}.example"


async def session_token(db_session: AsyncSession, wallet: str) -> str:
    """A live dashboard bearer session acting for `wallet` (what passkey login will issue)."""
    token = f"sess_{uuid.uuid4().hex}"
    db_session.add(
        AuthSession(
            token_hash=hash_token(token),
            kind="bearer",
            wallet=wallet,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )
    await db_session.commit()
    return token


def funded_account(rpc_url: str) -> LocalAccount:
    """A fresh key with 100 ETH on anvil, to act as a product owner on-chain."""
    owner: LocalAccount = Account.create()
    rpc_call(rpc_url, "anvil_setBalance", [owner.address, hex(100 * 10**18)])
    return owner


@pytest.fixture(scope="session")
def core(rpc_url: str, settings: Settings) -> CoreAddresses:
    return deploy_core(connect(rpc_url), settings.effective_deployer_key())


@pytest.fixture(scope="session")
def reward_token(rpc_url: str, settings: Settings) -> str:
    return deploy_test_token(connect(rpc_url), settings.effective_deployer_key(), "Reward", "RWD")


@pytest.fixture(scope="session")
def usdc_token(rpc_url: str, settings: Settings) -> str:
    w3 = connect(rpc_url)
    return deploy_test_token(w3, settings.effective_deployer_key(), "USD Coin", "USDC", 6)


@pytest.fixture(scope="session")
def chain_settings(settings: Settings, core: CoreAddresses) -> Settings:
    return settings.model_copy(
        update={
            "push_pull_address": core["push_pull"],
            "bank_factory_address": core["bank_factory"],
        }
    )


@pytest.fixture(scope="session")
async def chain_context(
    chain_settings: Settings, database_url: str, rpc_url: str
) -> AsyncIterator[AppContext]:
    context = AppContext(chain_settings, database_url, rpc_url)
    yield context
    await context.close()


@pytest.fixture
async def api(chain_context: AppContext, clean_db: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app configured with deployed contracts; tables emptied afterwards."""
    app = create_app(
        chain_context.settings,
        database_url=chain_context.database_url,
        rpc_url=chain_context.rpc_url,
        context=chain_context,
    )
    async with asgi_client(app) as test_client:
        yield test_client


def bank_contract(rpc_url: str, address: str):
    from backend.chain.client import contract

    return contract(connect(rpc_url), "ProductBank", address)


def owner_send(rpc_url: str, owner: LocalAccount, name: str, address: str, method: str, *args):
    """Send a transaction as the product owner (pause, revoke roles, deposit...)."""
    from backend.chain.client import contract, send

    w3 = connect(rpc_url)
    return send(w3, owner.key, getattr(contract(w3, name, address).functions, method)(*args))


async def live_product(api, db_session, rpc_url: str, token: str, roles=None):
    """A product owned by a funded key, `token` registered and its bank deployed via the API."""
    from backend.products.models import Role
    from tests.factories import make_product

    owner = funded_account(rpc_url)
    product, key = await make_product(db_session, owner=owner.address, roles=roles or Role.ALL)
    admin_key = key
    if roles is not None:  # register and deploy with an admin key of the same product
        from backend.products.ids import new_api_key
        from backend.products.models import ApiKey

        admin_key, prefix, key_hash = new_api_key()
        db_session.add(
            ApiKey(
                product_id=product.id,
                name="admin",
                prefix=prefix,
                key_hash=key_hash,
                roles=int(Role.ALL),
            )
        )
        await db_session.commit()
    base = f"/api/business/products/{product.id}"
    registered = await api.post(
        f"{base}/tokens", json={"address": token}, headers=bearer(admin_key)
    )
    assert registered.status_code == 201, registered.text
    deployed = await api.post(f"{base}/bank", headers=bearer(admin_key))
    assert deployed.status_code == 201, deployed.text
    return product, key, owner, deployed.json()["address"]
