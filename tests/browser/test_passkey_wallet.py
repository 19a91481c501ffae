"""A shopper with no crypto wallet, in headless Chromium (no window.ethereum anywhere).

The journey: the SDK's demo shop, its listener offering "Create your wallet with
a passkey" first; a virtual authenticator makes the passkey, whose counterfactual
PasskeyAccount is the wallet; a purchase earns a reward; the wallet page signs in
with the same (discoverable) passkey, claims without gas (the relayer pays: the
account's ETH stays 0) and sends part to a friend with a passkey signature the
account checks on-chain. Then what must be refused: an assertion over another
challenge than the prepared operation's digest, by the backend (401) and by the
chain ("account: bad auth", with Chromium's own bytes; the relayer-side proof with
a software authenticator is tests/relayer/test_send.py::
test_forged_operation__refused_by_the_backend_and_reverted_on_chain).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import select
from web3.exceptions import ContractLogicError

from backend.accounts.webauthn import encode_auth, public_key_xy, rp_id_hash
from backend.api.app import create_app
from backend.auth.models import PasskeyCredential, WalletLink
from backend.chain.client import connect, contract
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.relayer.job import track_relays
from backend.relayer.models import RelayRequest
from backend.settlement.job import push_once
from indexer.runner import index_once
from tests.browser.conftest import ensure_sdk_built
from tests.browser.harness import LiveServer, Page, VirtualAuthenticator
from tests.browser.harness.fixtures import OUTPUT_DIR
from tests.browser.passkey_shop import (
    REWARD,
    TOKEN,
    account_of,
    erc20_balance,
    mint,
    open_chain_shop,
    passkey_xy,
    shopify_checkout,
    until_rewarded,
)
from tests.factories import make_product, make_token
from tests.interactions.helpers import reset_caches
from tests.products.fixtures import core, reward_token  # noqa: F401 (session fixtures)
from tests.sdk_e2e.shop import ShopSite, shop_page
from tests.sdk_e2e.traffic import Traffic


@pytest.fixture(scope="module")
def shop_site() -> Iterator[ShopSite]:
    site = ShopSite().start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def full_settings(settings: Settings, core: dict[str, str]) -> Settings:  # noqa: F811
    return settings.model_copy(
        update={
            "push_pull_address": core["push_pull"],
            "bank_factory_address": core["bank_factory"],
            "account_factory_address": core["account_factory"],
        }
    )


@pytest.fixture(scope="module")
async def chain_ctx(
    full_settings: Settings, database_url: str, rpc_url: str
) -> AsyncIterator[AppContext]:
    """What the operator's jobs run on here: push, index, track relays."""
    context = AppContext(full_settings, database_url, rpc_url)
    yield context
    await context.close()


@pytest.fixture(scope="module")
def wallet_server(full_settings: Settings, database_url: str, rpc_url: str) -> Iterator[LiveServer]:
    """The whole app (evaluator included, no scheduler) under uvicorn at http://localhost:<port>."""
    ensure_sdk_built()

    def factory(port: int) -> object:
        served = full_settings.model_copy(
            update={"port": port, "public_url": f"http://localhost:{port}", "listener_origins": []}
        )
        return create_app(served, database_url=database_url, rpc_url=rpc_url)

    server = LiveServer(factory).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_server_state(wallet_server: LiveServer) -> None:
    """Caches and auth rate-limit windows of the in-process server start empty per test."""
    reset_caches()
    env = wallet_server.app.state.get("auth_env")
    if env is not None:
        env.limits.reset()


# -- helpers -----------------------------------------------------------------------------------

BYTES_OF_JS = """
window.bytesOf = (text) =>
  Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))
1
"""


def text_of(element_id: str) -> str:
    return f"document.getElementById({json.dumps(element_id)}).textContent"


async def until_relay_final(page: Page, ctx: AppContext, progress_id: str) -> str:
    """Run the relayer's tracker (the scheduler's job in production) until the page shows
    the relay mined or failed; returns that status."""
    deadline = time.monotonic() + 60
    status_of = f"document.getElementById({json.dumps(progress_id)}).dataset.status"
    while time.monotonic() < deadline:
        status = await page.evaluate(status_of)
        if status in ("mined", "failed"):
            return str(status)
        if status in ("queued", "sent"):  # a claim queued for its batch, or bytes sent
            await track_relays(ctx)
        await asyncio.sleep(0.3)
    raise TimeoutError(f"{progress_id} still {await page.evaluate(status_of)!r}")


def client_data(credential: dict[str, Any]) -> dict[str, Any]:
    raw = credential["response"]["clientDataJSON"]
    return dict(json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))))


def b64url_bytes(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def fits_390(page: Page, name: str) -> None:
    """At 390 px (a phone) nothing scrolls sideways; the screenshot is kept for review."""
    await page.send(
        "Emulation.setDeviceMetricsOverride",
        width=390,
        height=844,
        deviceScaleFactor=1,
        mobile=True,
    )
    await page.evaluate("new Promise((r) => requestAnimationFrame(() => r(1)))")
    width = await page.evaluate("document.documentElement.scrollWidth")
    shot = await page.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUTPUT_DIR / f"{name}-390.png").write_bytes(base64.b64decode(shot["data"]))
    assert width <= 390, f"the page is {width} px wide at 390 px"
    await page.send("Emulation.clearDeviceMetricsOverride")


# -- the journey ---------------------------------------------------------------------------------


async def test_no_wallet__passkey_signup_earn_claim_without_gas_and_send(
    page: Page,
    wallet_server: LiveServer,
    shop_site: ShopSite,
    chain_ctx: AppContext,
    db_session,
    reward_token: str,  # noqa: F811
):
    shop = await open_chain_shop(db_session, chain_ctx, shop_site, reward_token)
    webhooks: list[Any] = []
    shop_site.on_checkout = shopify_checkout(wallet_server.url, shop.product.id, webhooks)
    traffic = await Traffic.record(page)
    authenticator = await VirtualAuthenticator.add(page)
    try:
        # 1. the shop, with no browser wallet: the listener offers a passkey wallet first
        await page.goto(shop_page(shop_site, wallet_server.url, shop.product.id))
        await page.wait_for("window.shop && window.shop.client !== null")
        await page.wait_for("window.shop.statuses.length > 0", timeout_s=20)
        listener = await page.frame("/listener?")
        assert await page.evaluate("typeof window.ethereum") == "undefined"
        assert await page.evaluate("typeof window.ethereum", frame=listener) == "undefined"
        await page.click_text("wallet", selector="#open-wallet")
        await page.wait_for("document.querySelectorAll('button').length > 2", frame=listener)
        labels = await page.evaluate(
            "[...document.querySelectorAll('button')].map((b) => [b.textContent, b.className])",
            frame=listener,
        )
        assert labels == [
            ["Create your wallet with a passkey", "primary"],
            ["Use a wallet I already have", ""],
            ["Sign in with your passkey", ""],
            ["Close", ""],
        ]
        await page.click_text("Create your wallet with a passkey", frame=listener)
        account = await page.wait_for(
            "document.querySelector('#wallet').dataset.wallet", timeout_s=20
        )

        # the wallet is the passkey's own account: the factory's CREATE2 address of its key
        [credential] = await authenticator.credentials()
        x, y = passkey_xy(credential)
        assert account == account_of(chain_ctx, x, y)
        assert connect(chain_ctx.rpc_url).eth.get_code(account) == b""  # not deployed yet
        link = await db_session.get(WalletLink, account)
        assert link is not None and link.proof == "passkey"
        [options_request] = await traffic.to("/api/auth/passkey/signup/options")
        assert (options_request.json(), options_request.frame_id) == ({}, listener)
        [verify] = await traffic.to("/api/auth/passkey/signup/verify")
        body = verify.json()
        assert (sorted(body), body["kind"], verify.status) == (
            ["credential", "kind"],
            "listener",
            200,
        )
        assert body["credential"]["rawId"] == credential["credentialId"].rstrip("=").replace(
            "+", "-"
        ).replace("/", "_")
        assert client_data(body["credential"])["type"] == "webauthn.create"

        # 2. buy: the shop tracks the purchase, its server has Shopify confirm the payment
        await page.click_text("", selector="#buy")
        await page.wait_for("document.querySelector('#order').dataset.tracked === 'yes'")
        await page.click_text("", selector="#pay")
        await page.wait_for("document.querySelector('#order').dataset.state === 'paid'")
        assert [w.status_code for w in webhooks] == [200]
        [reward] = await until_rewarded(db_session, account)
        assert (reward.amount, reward.level) == (REWARD, 0)  # no referrer: the buyer gets B

        # 3. the operator's jobs: settle on-chain, index the credit
        report = await push_once(chain_ctx)
        assert not report.errors, report.errors
        await index_once(chain_ctx)
        assert erc20_balance(chain_ctx, shop.token, account) == 0  # claimable, not yet held

        # 4. the wallet page (the listener's link), signed in with the same passkey
        await page.click_text("wallet", selector="#open-wallet")  # the panel, signed in now
        wallet_link = await page.wait_for(
            "document.querySelector('a') && document.querySelector('a').href", frame=listener
        )
        assert wallet_link == f"{wallet_server.url}/wallet?address={account}"
        await page.goto(wallet_link)
        await page.wait_for("!document.getElementById('sign-in').hidden")
        assert await page.evaluate(
            "[...document.querySelectorAll('#sign-in button')].map((b) => b.textContent)"
        ) == [
            "Create your wallet with a passkey",
            "Use a wallet I already have",
            "Sign in with your passkey",
        ]
        await fits_390(page, "wallet-signed-out")
        await page.click_text("Sign in with your passkey")
        await page.wait_for("!document.getElementById('signed-in').hidden", timeout_s=20)
        assert await page.evaluate(text_of("session-wallet")) == account
        [login] = await traffic.to("/api/auth/passkeys/login/verify")
        assert (login.json()["kind"], login.status) == ("cookie", 200)
        row = f"#token-rows tr[data-token='{shop.token}'] [data-field=claimable]"
        await page.wait_for(f"document.querySelector(\"{row}\")?.textContent === '10'")
        assert await page.evaluate(text_of("claim-all")) == "Claim all (no gas)"
        await page.wait_for("!document.getElementById('claim-all').disabled")

        # 5. claim without gas: the relayer sends pullRewardsFor; the account's ETH stays 0
        await page.click_text("", selector="#claim-all")
        assert await until_relay_final(page, chain_ctx, "claim-progress") == "mined"
        progress = await page.evaluate(text_of("claim-progress"))
        assert progress.startswith("Claimed: the tokens are in your wallet. Transaction: 0x")
        [claim] = await traffic.to("/api/wallet/claim")
        assert (claim.json(), claim.status) == ({}, 202)
        assert "authorization" not in {k.lower() for k in claim.headers}  # the cookie session
        assert claim.headers.get("Idempotency-Key")
        w3 = connect(chain_ctx.rpc_url)
        assert erc20_balance(chain_ctx, shop.token, account) == REWARD
        assert w3.eth.get_balance(account) == 0
        relay = await db_session.scalar(select(RelayRequest).where(RelayRequest.kind == "claim"))
        relayer = Account.from_key(chain_ctx.settings.effective_relayer_key()).address
        assert w3.eth.get_transaction(relay.tx_hash)["from"] == relayer
        tx_on_page = await page.evaluate("document.getElementById('claim-progress').dataset.tx")
        assert tx_on_page == relay.tx_hash
        balance_row = f"#balance-rows tr[data-token='{shop.token}'] [data-field=balance]"
        await page.wait_for(f"document.querySelector(\"{balance_row}\")?.textContent === '10'")

        # 6. send 4 to a friend: prepare, sign the digest with the passkey, relay; first send
        #    deploys the account in the same transaction
        friend = Account.create().address
        await page.wait_for("!document.getElementById('send-card').hidden")
        await page.type("#send-to", friend)
        await page.type("#send-amount", "4")
        await page.click_text("", selector="#send-submit")
        assert await until_relay_final(page, chain_ctx, "send-progress") == "mined"
        assert (await page.evaluate(text_of("send-progress"))).startswith(
            f"Sent 4 RWD to {friend}. Transaction: 0x"
        )
        assert erc20_balance(chain_ctx, shop.token, friend) == 4 * TOKEN
        assert erc20_balance(chain_ctx, shop.token, account) == 6 * TOKEN
        assert w3.eth.get_code(account) != b""
        assert w3.eth.get_balance(account) == 0
        [prepare] = await traffic.to("/api/wallet/send/prepare")
        assert prepare.json() == {"token": shop.token, "to": friend, "amount": str(4 * TOKEN)}
        [sent] = [r for r in await traffic.to("/api/wallet/send") if r.url.endswith("/send")]
        challenge = await page.evaluate("document.getElementById('wallet').dataset.sendChallenge")
        signed = sent.json()
        assert sorted(signed) == ["credential", "operation_id"] and sent.status == 202
        assert client_data(signed["credential"])["challenge"] == challenge
        assert client_data(signed["credential"])["type"] == "webauthn.get"
        flags = b64url_bytes(signed["credential"]["response"]["authenticatorData"])[32]
        assert flags & 0x05 == 0x05  # user present and verified
        await page.wait_for(f"document.querySelector(\"{balance_row}\")?.textContent === '6'")
        passkey = await db_session.scalar(select(PasskeyCredential))
        assert passkey is not None and passkey.wallet == account
        await fits_390(page, "wallet-after-send")
    finally:
        shop_site.on_checkout = None


# -- what must be refused --------------------------------------------------------------------------


async def test_send__challenge_other_than_the_digest__refused_by_the_backend_and_on_chain(
    page: Page,
    wallet_server: LiveServer,
    chain_ctx: AppContext,
    db_session,
    reward_token: str,  # noqa: F811
):
    product, _ = await make_product(db_session)
    await make_token(db_session, product, reward_token)
    await VirtualAuthenticator.add(page)
    await page.goto(f"{wallet_server.url}/wallet")
    await page.click_text("Create your wallet with a passkey")
    await page.wait_for("!document.getElementById('signed-in').hidden", timeout_s=20)
    account = await page.evaluate(text_of("session-wallet"))
    await asyncio.to_thread(mint, chain_ctx, reward_token, account, 5 * TOKEN)
    await page.goto(f"{wallet_server.url}/wallet")  # the cookie session: still signed in
    # generous waits: the page reads balances through the node, slow on a loaded 2-core runner
    await page.wait_for("!document.getElementById('send-card').hidden", timeout_s=40)
    await page.wait_for("!document.getElementById('send-submit').disabled", timeout_s=40)

    # the page shows the API's refusal, message and code
    await page.type("#send-to", "0x" + "00" * 20)
    await page.type("#send-amount", "1")
    await page.click_text("", selector="#send-submit")
    await page.wait_for(f"{text_of('send-progress')}.startsWith('Send refused')", timeout_s=40)
    assert await page.evaluate(text_of("send-progress")) == (
        "Send refused: cannot send to the zero address (invalid_recipient)"
    )

    # an assertion over another challenge than the prepared digest (one bit flipped)
    await page.evaluate(BYTES_OF_JS)
    thief = Account.create().address
    outcome = await page.call(
        """async ([token, to]) => {
          const prepared = await CascadeWallet.prepareSend(token, to, '3000000000000000000')
          const digest = bytesOf(prepared.challenge)
          digest[31] ^= 1
          const credential = await navigator.credentials.get({ publicKey: {
            challenge: digest, rpId: document.getElementById('wallet').dataset.rpId,
            allowCredentials: [], userVerification: 'required' } })
          const json = credential.toJSON()
          const response = await fetch('/api/wallet/send', { method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ operation_id: prepared.operation_id, credential: json }) })
          const body = await response.json()
          return { prepared, credential: json, status: response.status, body }
        }""",
        [reward_token, thief],
    )
    assert outcome["status"] == 401
    assert outcome["body"]["error"]["code"] == "passkey_rejected"
    assert (await db_session.scalars(select(RelayRequest))).all() == []  # nothing relayed

    # the chain refuses the same bytes, whoever sends them (here as the relayer would)
    prepared, credential = outcome["prepared"], outcome["credential"]
    passkey = await db_session.scalar(
        select(PasskeyCredential).where(PasskeyCredential.wallet == account)
    )
    x, y = public_key_xy(passkey.public_key)
    calls = [
        (c["target"], int(c["value"]), bytes.fromhex(c["data"][2:])) for c in prepared["calls"]
    ]
    w3 = connect(chain_ctx.rpc_url)
    factory = contract(w3, "PasskeyAccountFactory", str(chain_ctx.settings.account_factory_address))
    relayer = Account.from_key(chain_ctx.settings.effective_relayer_key()).address

    def first_send(signed: dict[str, Any]) -> Any:
        response = signed["response"]
        auth = encode_auth(
            b64url_bytes(response["authenticatorData"]),
            b64url_bytes(response["clientDataJSON"]),
            b64url_bytes(response["signature"]),
            x,
            y,
        )
        return factory.functions.createAndExecute(
            x,
            y,
            rp_id_hash("localhost"),
            0,
            calls,
            int(prepared["nonce"]),
            prepared["deadline"],
            auth,
        ).call({"from": relayer})

    with pytest.raises(ContractLogicError, match="account: bad auth"):
        first_send(credential)
    # control: the same passkey over the true digest passes the same simulation
    honest = await page.call(
        """async (challenge) => (await navigator.credentials.get({ publicKey: {
            challenge: bytesOf(challenge),
            rpId: document.getElementById('wallet').dataset.rpId, allowCredentials: [],
            userVerification: 'required' } })).toJSON()""",
        prepared["challenge"],
    )
    assert first_send(honest) == account
    assert erc20_balance(chain_ctx, reward_token, thief) == 0
    assert erc20_balance(chain_ctx, reward_token, account) == 5 * TOKEN
