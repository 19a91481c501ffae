"""No secret ever reaches a log line, whatever the level, exception traces included.

One full flow runs in process with logging set up as `cascade serve` does it
(`configure_logging`, JSON lines) but at DEBUG, every SQL statement logged: a login link and its
cookie session, a product and its API key, inbound and outbound webhook
secrets and their rotations, core contracts and a bank on anvil, a campaign,
interactions, a signed shop webhook, a settlement push, a passkey bearer
session, and requests that fail with those secrets in hand. Then every
captured line is searched for each secret.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from typing import Any
from unittest import mock

import pytest
from eth_account import Account
from web3 import Web3

from backend.api.app import create_app
from backend.auth.principal import SESSION_COOKIE
from backend.auth.sessions import create_login_link
from backend.chain import connect, contract, deploy_core, deploy_test_token, send
from backend.core.context import AppContext
from backend.core.logs import QUIET_LOGGERS, configure_logging
from backend.interactions.webhooks import standard_signature
from backend.settlement.job import push_once
from backend.settlement.options import load_options
from tests.auth.authenticator import SoftAuthenticator
from tests.auth.conftest import ORIGIN, personal_sign, prove_wallet
from tests.conftest import TEST_SECRET, asgi_client

TOKENS = 10**18
FAST = load_options(receipt_wait_s=10, replace_after_s=3600, retry_base_s=0)


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """The production setup (`configure_logging`, JSON lines) at DEBUG, into a buffer."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    with redirect_stderr(stream):
        configure_logging(log_format="json", level="DEBUG")
    # Stricter than production: the quiet loggers talk too (web3's RPC payloads, urllib3,
    # asyncio), and SQLAlchemy logs every statement, its bound values hidden by the engine.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        for name, saved in quiet.items():
            logging.getLogger(name).setLevel(saved)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json()) if response.content else {}


@pytest.mark.timeout(300)
async def test_full_flow__no_secret_in_any_log_line(
    settings, clean_db: AppContext, rpc_url: str, chain_snapshot: None
) -> None:
    w3 = connect(rpc_url)
    signer_key = settings.effective_signer_key()
    signer = Account.from_key(signer_key).address
    secrets: dict[str, str] = {
        "signer key": signer_key,
        "signer key (no 0x)": signer_key.removeprefix("0x"),
        "server secret": TEST_SECRET,
    }

    with captured_logs() as logs:
        core = deploy_core(w3, settings.effective_deployer_key(), signer)
        token = deploy_test_token(w3, signer_key, "Reward", "RWD")
        flow_settings = settings.model_copy(
            update={
                "push_pull_address": core["push_pull"],
                "bank_factory_address": core["bank_factory"],
            }
        )
        context = AppContext(flow_settings, clean_db.database_url, rpc_url)
        app = create_app(
            flow_settings, database_url=context.database_url, rpc_url=rpc_url, context=context
        )
        try:
            async with asgi_client(app) as client:
                await _flow(client, context, w3, token, signer_key, secrets)
            report = await push_once(context, options=FAST)
            assert report.rewards_pushed >= 1, report
        finally:
            await context.close()

    lines = logs.getvalue().splitlines()
    assert len(lines) > 200, "the flow should have logged plenty at DEBUG"
    for line in lines:
        json.loads(line)  # every line is one JSON record
    assert any('"exc"' in line for line in lines), "the flow should log at least one trace"
    # The test's own HTTP client logs each URL it requests; it stands for the browser,
    # whose history holds a login link anyway. Everything the server logs is searched.
    server_lines = [line for line in lines if json.loads(line)["logger"] != "httpx"]
    for name, value in secrets.items():
        assert len(value) >= 16, name
        leaked = [line for line in server_lines if value in line]
        assert leaked == [], f"{name} appears in the logs: {leaked[0][:300]}"


async def _flow(
    client: Any, context: AppContext, w3: Web3, token: str, signer_key: str, secrets: dict[str, str]
) -> None:
    owner = Account.create()
    async with context.sessions() as session:
        link = await create_login_link(session, owner.address)
    secrets["login link token"] = link
    signed_in = await client.get(f"/api/auth/magic/{link}")
    assert signed_in.status_code == 303, signed_in.text
    secrets["cookie session token"] = signed_in.cookies[SESSION_COOKIE]

    created = _ok(
        await client.post(
            "/api/business/products",
            json={"name": "Log shop", "domains": [f"logs-{uuid.uuid4().hex[:8]}.example"]},
        ),
        201,
    )
    client.cookies.clear()
    product_id, api_key = created["product_id"], created["api_key"]
    secrets["API key"] = api_key
    key = _bearer(api_key)
    business = f"/api/business/products/{product_id}"

    second_key = _ok(
        await client.post(
            f"{business}/api-keys", json={"name": "second", "roles": ["admin"]}, headers=key
        ),
        201,
    )
    secrets["second API key"] = second_key["api_key"]
    inbound = _ok(
        await client.post(f"{business}/webhook-secrets/custom/rotate", json={}, headers=key), 201
    )
    secrets["inbound webhook secret"] = inbound["secret"]
    shopify = _ok(
        await client.post(
            f"{business}/webhook-secrets/shopify/rotate",
            json={"secret": "shpss_" + "9f" * 16},
            headers=key,
        ),
        201,
    )
    secrets["shopify secret"] = "shpss_" + "9f" * 16
    assert shopify["secret"] in (None, secrets["shopify secret"])
    endpoint = _ok(
        await client.post(
            f"{business}/webhooks",
            json={"url": "https://hooks.example/cascade", "events": ["rewards.pushed"]},
            headers=key,
        ),
        201,
    )
    secrets["outbound webhook secret"] = endpoint["secret"]
    rotated = _ok(
        await client.post(
            f"/api/business/webhooks/{endpoint['endpoint']['id']}/rotate-secret",
            json={},
            headers=key,
        ),
        201,
    )
    secrets["rotated outbound webhook secret"] = rotated["secret"]

    _ok(await client.post(f"{business}/tokens", json={"address": token}, headers=key), 201)
    bank = _ok(await client.post(f"{business}/bank", headers=key), 201)["address"]
    erc20 = contract(w3, "MockERC20", token)
    signer = Account.from_key(signer_key).address
    send(w3, signer_key, erc20.functions.mint(signer, 1_000 * TOKENS))
    send(w3, signer_key, erc20.functions.approve(bank, 1_000 * TOKENS))
    send(w3, signer_key, contract(w3, "ProductBank", bank).functions.deposit(token, 1_000 * TOKENS))

    campaign = _ok(
        await client.post(
            f"{business}/campaigns",
            json={
                "name": "Purchases",
                "trigger": "purchase.completed",
                "token": token,
                "reward": {"type": "fixed", "amount": str(10 * TOKENS)},
                "user_bps": 5000,
                "decay_bps": 8000,
            },
            headers=key,
        ),
        201,
    )
    _ok(await client.post(f"/api/business/campaigns/{campaign['id']}/activate", headers=key))

    buyer, referrer = Account.create().address, Account.create().address
    for body in (
        {"product_id": product_id, "wallet": referrer, "type": "webshop.open"},
        {
            "product_id": product_id,
            "wallet": buyer,
            "type": "referral.referred",
            "data": {"referrer": referrer},
        },
    ):
        _ok(await client.post("/api/external/interactions", json=body, headers=key), 202)

    order = json.dumps(
        {
            "type": "purchase.completed",
            "data": {"order_id": "o-1", "amount": "25.00", "currency": "EUR", "wallet": buyer},
        }
    ).encode()
    webhook_id, now = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
    signature = standard_signature(inbound["secret"], webhook_id, now, order)
    shop = {"webhook-id": webhook_id, "webhook-timestamp": now, "webhook-signature": signature}
    shop["Prefer"] = "wait=10"  # rewarded before the push below runs
    webhook_url = f"/api/external/webhooks/{product_id}/custom"
    _ok(await client.post(webhook_url, content=order, headers=shop))
    # Failures with the secrets in hand: a replay, a forged signature, stale keys.
    replay = await client.post(webhook_url, content=order, headers=shop)
    assert replay.status_code in (200, 409)
    forged = {**shop, "webhook-id": "msg_forged", "webhook-signature": "v1,AAAA"}
    assert (await client.post(webhook_url, content=order, headers=forged)).status_code == 401
    revoked = await client.get(f"{business}/api-keys", headers=_bearer(api_key + "x"))
    assert revoked.status_code == 401

    account = Account.create()
    authenticator = SoftAuthenticator(origin=ORIGIN)
    options = await prove_wallet(client, account.address, lambda t: personal_sign(account, t))
    passkey_session = _ok(
        await client.post(
            "/api/auth/passkeys/register/verify",
            json={"credential": authenticator.create(options)},
        )
    )
    secrets["bearer session token"] = passkey_session["token"]
    _ok(await client.get("/api/auth/me", headers=_bearer(passkey_session["token"])))
    link_again = await client.get(f"/api/auth/magic/{link}")  # spent: 401, token in the path
    assert link_again.status_code == 401
    await _unhandled_errors_with_secrets_in_hand(client, key, link)


async def _unhandled_errors_with_secrets_in_hand(
    client: Any, key: dict[str, str], link: str
) -> None:
    """A 500 logs its trace and path: the request's credentials must not ride along."""
    from backend.auth import sessions
    from backend.products import service

    with mock.patch.object(service, "list_products", side_effect=RuntimeError("boom")):
        failed = await client.get("/api/business/products", headers=key)
    with mock.patch.object(sessions, "consume_login_link", side_effect=RuntimeError("boom")):
        failed_link = await client.get(f"/api/auth/magic/{link}")
    assert (failed.status_code, failed_link.status_code) == (500, 500)
