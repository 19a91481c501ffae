"""Sign-up with only a passkey: the passkey's counterfactual account is the wallet."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from web3 import Web3

from backend.auth.models import AuthSession, PasskeyCredential, WalletLink
from backend.auth.service import AuthEnv
from backend.chain import connect, contract
from backend.chain.deploy import deploy_account_factory
from backend.core.config import ANVIL_DEV_KEYS
from tests.auth.authenticator import SoftAuthenticator
from tests.auth.conftest import login_options

RP_ID = "localhost"


@pytest.fixture(scope="module")
def web3(rpc_url: str) -> Web3:
    return connect(rpc_url)


@pytest.fixture(scope="module")
def factory(web3: Web3) -> str:
    return deploy_account_factory(web3, ANVIL_DEV_KEYS[0])


@pytest.fixture
def accounts(auth_env: AuthEnv, factory: str) -> Iterator[AuthEnv]:
    """The auth env of the test app, with the account factory configured."""
    auth_env.account_factory = factory
    yield auth_env


def expected_wallet(web3: Web3, factory: str, authenticator: SoftAuthenticator) -> str:
    """What the chain says the new passkey's account is (asked here, independently)."""
    numbers = authenticator.credentials[-1].key.public_key().public_numbers()
    rp_hash = hashlib.sha256(RP_ID.encode()).digest()
    address = (
        contract(web3, "PasskeyAccountFactory", factory)
        .functions.getAddress(numbers.x, numbers.y, rp_hash, 0)
        .call()
    )
    return str(Web3.to_checksum_address(address))


async def signup(
    api: httpx.AsyncClient, authenticator: SoftAuthenticator, **body: object
) -> httpx.Response:
    options = (await api.post("/api/auth/passkey/signup/options", json={})).json()
    return await api.post(
        "/api/auth/passkey/signup/verify",
        json={"credential": authenticator.create(options), **body},
    )


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_signup_options__es256_resident_key_and_user_verification_required(api):
    response = await api.post("/api/auth/passkey/signup/options", json={})

    assert response.status_code == 200
    options = response.json()
    assert options["rp"] == {"id": RP_ID, "name": "Cascade"}
    assert options["pubKeyCredParams"] == [{"type": "public-key", "alg": -7}]
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert len(options["user"]["id"]) >= 43  # a fresh random 32-byte user handle


async def test_signup__the_wallet_is_the_passkeys_counterfactual_account(
    api, accounts, authenticator, db_session, web3, factory
):
    response = await signup(api, authenticator)

    assert response.status_code == 200, response.text
    session = response.json()
    wallet = expected_wallet(web3, factory, authenticator)
    assert session["wallet"] == wallet and session["kind"] == "bearer"
    assert web3.eth.get_code(wallet) == b""  # counterfactual: no deploy at sign-up
    me = await api.get("/api/auth/me", headers={"Authorization": f"Bearer {session['token']}"})
    assert me.json()["wallet"] == wallet
    link = await db_session.get(WalletLink, wallet)
    assert link is not None and link.proof == "passkey"
    passkey = await db_session.scalar(select(PasskeyCredential))
    assert passkey is not None and passkey.wallet == wallet
    assert passkey.credential_id == authenticator.credentials[0].id


async def test_signup__then_discoverable_login__returns_the_account(
    api, accounts, authenticator, web3, factory
):
    created = (await signup(api, authenticator)).json()
    options = await login_options(api)

    response = await api.post(
        "/api/auth/passkeys/login/verify", json={"credential": authenticator.get(options)}
    )

    assert response.status_code == 200, response.text
    assert response.json()["wallet"] == created["wallet"]
    assert created["wallet"] == expected_wallet(web3, factory, authenticator)


async def test_signup__kind_wallet__opens_a_cookie_session_without_a_token(
    api, accounts, authenticator
):
    response = await signup(api, authenticator, kind="wallet")

    assert response.status_code == 200
    assert "token" not in response.json() and response.json()["kind"] == "cookie"
    assert "cascade_session=" in response.headers["set-cookie"]


async def test_signup__two_passkeys__two_different_wallets(api, accounts, authenticator):
    first = (await signup(api, authenticator)).json()["wallet"]
    second = (await signup(api, authenticator)).json()["wallet"]
    assert first != second


@pytest.mark.parametrize(
    ("bend", "code"),
    [({"uv": False}, "passkey_rejected"), ({"origin": "https://evil.example"}, "passkey_rejected")],
)
async def test_signup__not_strict_enough__401_and_no_wallet(
    api, accounts, authenticator, db_session, bend, code
):
    options = (await api.post("/api/auth/passkey/signup/options", json={})).json()

    response = await api.post(
        "/api/auth/passkey/signup/verify",
        json={"credential": authenticator.create(options, **bend)},
    )

    assert response.status_code == 401 and response.json()["error"]["code"] == code
    assert await count(db_session, WalletLink) == 0
    assert await count(db_session, PasskeyCredential) == 0
    assert await count(db_session, AuthSession) == 0


async def test_signup__challenge_replayed__401_challenge_used(
    api, accounts, authenticator, db_session
):
    options = (await api.post("/api/auth/passkey/signup/options", json={})).json()
    first = await api.post(
        "/api/auth/passkey/signup/verify", json={"credential": authenticator.create(options)}
    )
    again = await api.post(
        "/api/auth/passkey/signup/verify", json={"credential": authenticator.create(options)}
    )

    assert first.status_code == 200
    assert again.status_code == 401 and again.json()["error"]["code"] == "challenge_used"
    assert await count(db_session, WalletLink) == 1


async def test_signup__with_a_login_challenge__401_challenge_unknown(
    api, accounts, authenticator, db_session
):
    login = await login_options(api)
    options = {"rp": {"id": RP_ID}, "user": {"id": "AAAA"}, "challenge": login["challenge"]}

    response = await api.post(
        "/api/auth/passkey/signup/verify", json={"credential": authenticator.create(options)}
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "challenge_unknown"
    assert await count(db_session, WalletLink) == 0


async def test_signup__no_account_factory_configured__503_and_no_wallet(
    api, auth_env, authenticator, db_session
):
    auth_env.account_factory = None

    response = await signup(api, authenticator)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "passkey_accounts_unavailable"
    assert await count(db_session, WalletLink) == 0
    assert await count(db_session, PasskeyCredential) == 0


async def test_signup_verify__unknown_kind__422(api, accounts, authenticator, db_session):
    response = await signup(api, authenticator, kind="admin")
    assert response.status_code == 422
    assert await count(db_session, WalletLink) == 0
