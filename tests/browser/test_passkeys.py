"""Passkeys in a real browser: headless Chromium, a virtual authenticator, the running backend.

The end-to-end test drives the real SDK and listener (a shop page embedding the
listener iframe). The rejection tests run the ceremonies from a page on the
backend's origin and post what the browser produced, so each can bend exactly
one thing: the challenge, the clock, the authenticator's flags, the origin.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select, update

from backend.auth.models import AuthChallenge, AuthSession, PasskeyCredential, WalletLink
from backend.products.models import Product
from tests.auth.conftest import personal_sign
from tests.browser.harness import FakeEthereum, LiveServer, Page, StaticSite, VirtualAuthenticator
from tests.browser.passkey_shop import until_rewarded
from tests.factories import make_campaign, make_product

# Ceremonies with the browser's own JSON codecs (Chromium >= 129).
CEREMONY_JS = """
window.ceremony = {
  create: async (options) => (await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })).toJSON(),
  get: async (options) => (await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) })).toJSON(),
}
true
"""

SHOP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title></head><body>
<h1>A shop</h1>
<script src="{backend}/sdk/cascade.js"></script>
<script>
  window.errors = []
  window.statuses = []
  window.client = Cascade.init({{
    productId: {product},
    backendUrl: {backend_json},
    onError: (reason, error) => errors.push(reason + ': ' + (error && error.message)),
  }})
  client.watchWalletStatus((status) => statuses.push(status))
</script>
</body></html>
"""


@pytest.fixture
async def http(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as client:
        yield client


@pytest.fixture
async def product(db_session) -> Product:
    product, _ = await make_product(db_session)
    return product


@pytest.fixture
async def authenticator(page: Page) -> VirtualAuthenticator:
    return await VirtualAuthenticator.add(page)


@pytest.fixture
async def backend_page(
    page: Page, live_server: LiveServer, product: Product, authenticator
) -> Page:
    """A top-level page on the backend's origin (the listener page, silent outside a frame)."""
    await page.goto(f"{live_server.url}/listener?product={product.id}")
    await page.evaluate(CEREMONY_JS)
    return page


async def wallet_options(http: httpx.AsyncClient, account: LocalAccount) -> dict[str, Any]:
    challenge = (
        await http.post("/api/auth/wallet-challenge", json={"wallet": account.address})
    ).json()
    response = await http.post(
        "/api/auth/passkeys/register/options",
        json={
            "wallet": account.address,
            "challenge_id": challenge["challenge_id"],
            "signature": personal_sign(account, challenge["message"]),
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def register(page: Page, http: httpx.AsyncClient, account: LocalAccount) -> dict[str, Any]:
    credential = await page.call(
        "(o) => window.ceremony.create(o)", await wallet_options(http, account)
    )
    response = await http.post(
        "/api/auth/passkeys/register/verify", json={"credential": credential}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def assertion(page: Page, http: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    options = (await http.post("/api/auth/passkeys/login/options", json={})).json()
    return dict(await page.call("(o) => window.ceremony.get(o)", {**options, **changes}))


async def login(http: httpx.AsyncClient, credential: dict[str, Any]) -> httpx.Response:
    return await http.post("/api/auth/passkeys/login/verify", json={"credential": credential})


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


# -- the whole journey, through the real SDK and listener ------------------------------------


async def test_listener__register_bind_wallet_login_and_earn_a_reward(
    page: Page, live_server: LiveServer, static_site: StaticSite, db_session
):
    product, _ = await make_product(db_session)
    await make_campaign(db_session, product, trigger="custom.signup", requires_referral=False)
    account = Account.create()
    wallet = await FakeEthereum.install(page, account)
    authenticator = await VirtualAuthenticator.add(page)
    static_site.pages["/shop.html"] = SHOP_PAGE.format(
        backend=live_server.url,
        backend_json=json.dumps(live_server.url),
        product=json.dumps(product.id),
    )
    await page.goto(f"{static_site.url}/shop.html")
    listener = await page.frame("/listener?")
    await page.wait_for("window.statuses.length > 0")  # the listener checked our origin: ready

    # 1. bind the wallet to a new passkey (one signature, one biometric action)
    await page.evaluate(
        "window.opened = null; client.openWallet().then((w) => (window.opened = w)); 1"
    )
    await page.click_text("Use a wallet I already have", frame=listener)
    assert await page.wait_for("window.opened", timeout_s=20) == account.address
    assert [method for method, _ in wallet.calls] == ["eth_requestAccounts", "personal_sign"]
    assert len(await authenticator.credentials()) == 1
    link = await db_session.get(WalletLink, account.address)
    assert link is not None and link.proof == "eip191"

    # 2. sign out, then sign in again with the discoverable passkey (no user name)
    await page.evaluate(
        "window.opened = null; client.openWallet().then((w) => (window.opened = w)); 1"
    )
    await page.click_text("Sign out", frame=listener)
    await page.click_text("Sign in with your passkey", frame=listener)
    assert await page.wait_for("window.opened", timeout_s=20) == account.address
    passkey = await db_session.scalar(select(PasskeyCredential))
    assert passkey is not None and passkey.last_used_at is not None
    sessions = await db_session.scalar(select(func.count()).select_from(AuthSession))
    assert sessions == 2  # one from registration, one from the login

    # 3. the SDK's interaction counts for the wallet and earns the campaign's reward
    answer = await page.evaluate("client.sendInteraction('custom.signup', { plan: 'free' })")
    assert answer is not None, await page.evaluate("window.errors")
    assert answer["duplicate"] is False
    rewards = await until_rewarded(db_session, account.address)  # evaluated off the request
    assert len(rewards) == 1 and rewards[0].amount == 10 * 10**18  # no referrer: the user gets B


# -- what must be refused --------------------------------------------------------------------


async def test_login__replayed_assertion__refused(backend_page, http):
    await register(backend_page, http, Account.create())
    captured = await assertion(backend_page, http)
    assert (await login(http, captured)).status_code == 200

    replay = await login(http, captured)

    assert replay.status_code == 401
    assert error_code(replay) == "challenge_used"


async def test_login__challenge_of_another_ceremony__refused(backend_page, http):
    """A challenge the server issued to someone else's pending registration opens nothing."""
    await register(backend_page, http, Account.create())
    someone_elses = await wallet_options(http, Account.create())

    response = await login(
        http, await assertion(backend_page, http, challenge=someone_elses["challenge"])
    )

    assert response.status_code == 401
    assert error_code(response) == "challenge_unknown"


async def test_login__expired_challenge__refused(backend_page, http, db_session):
    await register(backend_page, http, Account.create())
    options = (await http.post("/api/auth/passkeys/login/options", json={})).json()
    await db_session.execute(  # five minutes pass (the clock, not a sleep)
        update(AuthChallenge)
        .where(AuthChallenge.purpose == "login")
        .values(expires_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 1))
    )
    await db_session.commit()

    response = await login(http, await backend_page.call("(o) => window.ceremony.get(o)", options))

    assert response.status_code == 401
    assert error_code(response) == "challenge_expired"


async def test_login__user_verification_absent__refused(backend_page, http, authenticator):
    await register(backend_page, http, Account.create())
    await authenticator.override_response_bits(bad_uv=True)

    response = await login(http, await assertion(backend_page, http))

    assert response.status_code == 401
    assert "verif" in response.json()["error"]["message"]


async def test_register__user_verification_absent__refused(backend_page, http, authenticator):
    await authenticator.override_response_bits(bad_uv=True)
    options = await wallet_options(http, Account.create())
    credential = await backend_page.call("(o) => window.ceremony.create(o)", options)

    response = await http.post(
        "/api/auth/passkeys/register/verify", json={"credential": credential}
    )

    assert response.status_code == 401
    assert error_code(response) == "passkey_rejected"


async def test_login__bogus_signature__refused(backend_page, http, authenticator):
    await register(backend_page, http, Account.create())
    await authenticator.override_response_bits(bogus_signature=True)

    response = await login(http, await assertion(backend_page, http))

    assert response.status_code == 401
    assert error_code(response) == "passkey_rejected"
    assert "signature" in response.json()["error"]["message"]


async def test_login__wrong_origin__refused(backend_page, page, http, static_site):
    """Same RP id (localhost), another origin (another port): the server's origin check says no."""
    await register(backend_page, http, Account.create())
    static_site.pages["/elsewhere.html"] = "<!doctype html><title>elsewhere</title>"
    await page.goto(f"{static_site.url}/elsewhere.html")
    await page.evaluate(CEREMONY_JS)

    credential = await assertion(page, http)
    response = await login(http, credential)

    assert response.status_code == 401
    assert error_code(response) == "passkey_rejected"
    assert static_site.origin in response.json()["error"]["message"]


async def test_login__lowered_sign_count__refused(backend_page, http, authenticator, db_session):
    """A clone of the authenticator (its state copied earlier) presents an older counter."""
    await register(backend_page, http, Account.create())
    [snapshot] = await authenticator.credentials()
    for _ in range(2):
        assert (await login(http, await assertion(backend_page, http))).status_code == 200
    stored = (await db_session.scalar(select(PasskeyCredential))).sign_count
    assert stored > snapshot["signCount"]
    await authenticator.remove_credential(snapshot["credentialId"])
    await authenticator.add_credential(snapshot)

    response = await login(http, await assertion(backend_page, http))

    assert response.status_code == 401
    assert error_code(response) == "sign_count_regressed"
    db_session.expire_all()
    assert (await db_session.scalar(select(PasskeyCredential))).sign_count == stored
