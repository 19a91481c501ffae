"""A referral token re-pointed at another wallet is refused, by the listener and the backend."""

from __future__ import annotations

import base64
import json

import httpx
from eth_account import Account
from sqlalchemy import func, select

from backend.interactions.models import Interaction
from backend.rewards.models import Reward
from tests.browser.harness import LiveServer
from tests.sdk_e2e.shop import Shop

REFERRER_BYTES = slice(33, 53)  # version (1) | product id (32) | referrer (20) | expiry | tag


def retarget(token: str, wallet: str) -> str:
    """The same token with another referrer and the original tag: what a thief would try."""
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[REFERRER_BYTES] = bytes.fromhex(wallet.removeprefix("0x"))
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


async def test_forged_referral_token__refused_and_nobody_earns(
    shop: Shop, shoppers, live_server: LiveServer, db_session
):
    alice, thief = Account.create().address, Account.create().address
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as api:
        created = await api.post(
            "/api/external/referral-links",
            headers={"Authorization": f"Bearer {shop.api_key}"},
            json={"product_id": shop.id, "wallet": alice, "url": shop.url},
        )
    assert created.status_code == 200, created.text
    forged = retarget(created.json()["token"], thief)

    # Bob lands with the forged token; the SDK carries it like any other
    bob = await shoppers("bob")
    await bob.visit(f"{shop.url}&cascade={forged}")
    assert await bob.url() == shop.url
    await bob.wait_ready()
    await bob.connect_new_passkey()

    # the listener checks it first: the backend answers 404, nothing is posted, the SDK drops it
    await bob.page.wait_for("window.shop.errors.length > 0")
    assert await bob.errors() == ["rejected"]
    assert await bob.stored(f"cascade:{shop.id}:referral") == []
    [checked] = await bob.traffic.to("/api/external/referral-tokens/", "GET")
    assert (checked.url, checked.status) == (
        f"{live_server.url}/api/external/referral-tokens/{forged}",
        404,
    )
    assert await bob.traffic.to("/api/external/interactions") == []

    # the backend checks again: the same token sent straight with Bob's own session
    listener = await bob.listener()
    session = json.loads(
        await bob.page.evaluate("localStorage.getItem('cascade:session')", frame=listener)
    )
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as api:
        direct = await api.post(
            "/api/external/interactions",
            headers={"Authorization": f"Bearer {session['token']}"},
            json={
                "product_id": shop.id,
                "wallet": bob.address,
                "type": "referral.referred",
                "data": {"referrer_token": forged},
                "dedup_key": "forged-by-hand",
            },
        )
    assert direct.status_code == 422, direct.text
    assert direct.json()["error"]["code"] == "invalid_referral"

    # Bob buys and pays: the campaign needs a referrer, so nobody earns anything
    await bob.press("#buy")
    await bob.page.wait_for("document.querySelector('#order').dataset.tracked === 'yes'")
    await bob.press("#pay")
    await bob.page.wait_for("document.querySelector('#order').dataset.state === 'paid'")
    [webhook] = shop.webhooks
    assert webhook.status_code == 200, webhook.text
    assert webhook.json()["rewards"] == []
    assert await db_session.scalar(select(func.count()).select_from(Reward)) == 0
    referred = select(func.count()).where(Interaction.type == "referral.referred")
    assert await db_session.scalar(referred) == 0
    assert await bob.status() == {"wallet": bob.address, "tokens": []}
