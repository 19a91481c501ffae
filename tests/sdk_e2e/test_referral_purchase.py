"""Issue 9, end to end in headless Chromium: the demo shop on one origin, the backend on another.

Alice connects through the listener with a passkey bound to her wallet and
shares a link; Bob lands through it, connects, buys; the shop's server has
Shopify send the signed orders/paid webhook; both see their rewards through
watchWalletStatus. Every request and message that matters is asserted exactly.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from backend.core.config import Settings
from backend.interactions.models import Interaction
from backend.rewards.models import Reward
from tests.browser.harness import LiveServer
from tests.factories import TEST_TOKEN
from tests.sdk_e2e.shop import Shop

BASE = 10 * 10**18  # the campaign's fixed reward
USER_SHARE = BASE * 5_000 // 10_000  # Bob, the buyer: 50 %
REFERRER_SHARE = BASE - USER_SHARE  # Alice, the only referrer, takes the rest


def token_status(queued: int, expected_by: datetime) -> dict[str, Any]:
    """One token's entry in a watchWalletStatus status, as the host page receives it."""
    return {
        # when the queued amount is due on-chain: the backend's ISO string, and the SDK's Date
        "queued_expected_by": expected_by.isoformat().replace("+00:00", "Z"),
        "queuedExpectedBy": expected_by.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "token": TEST_TOKEN,  # as the campaign names it
        "symbol": "TST",
        "decimals": 18,
        "claimable": "0",
        "queued": str(queued),
        "under_review": "0",  # nothing held by a fraud rule
        "claimed_total": "0",
        "total": str(queued),
    }


QUEUED_OF_FIRST_TOKEN = "document.querySelector('#wallet-tokens li[data-queued]')?.dataset.queued"


async def test_referral_link__friend_buys__referrer_and_buyer_see_their_rewards(
    shop: Shop, shoppers, db_session, live_server: LiveServer, settings: Settings
):
    # 1. Alice connects through the listener (passkey bound to her wallet) and shares
    alice = await shoppers("alice")
    await alice.visit(shop.url)
    await alice.wait_ready()
    await alice.connect_new_passkey()
    assert [method for method, _ in alice.wallet.calls] == ["eth_requestAccounts", "personal_sign"]

    await alice.press("#share")
    link = await alice.page.wait_for("document.querySelector('#share-link').value")
    token = parse_qs(urlsplit(link).query)["cascade"][0]
    assert link == f"{shop.url}&cascade={token}"
    alice_listener = await alice.listener()
    [asked] = [
        m["data"]
        for m in await alice.traffic.received(alice_listener)
        if m["data"]["type"] == "createReferralLink"
    ]
    assert asked == {
        "cascade": 1,
        "id": asked["id"],
        "type": "createReferralLink",
        "payload": {"url": shop.url},  # the page as it is, to be shared
    }
    [created] = await alice.traffic.to("/api/external/referral-links")
    assert created.frame_id == alice_listener
    assert created.json() == {"product_id": shop.id, "wallet": alice.address, "url": shop.url}
    assert created.status == 200

    # 2. Bob lands through the link in his own browser: the token leaves the visible URL
    bob = await shoppers("bob")
    await bob.visit(link)
    assert await bob.url() == shop.url
    [landing] = await bob.stored(f"cascade:{shop.id}:referral")
    assert landing["type"] == "referral.referred"
    assert landing["data"] == {"referrer_token": token}

    # 3. Bob connects; the SDK sends referral.referred with the token, through the listener
    await bob.wait_ready()
    await bob.connect_new_passkey()
    await bob.page.wait_for(f"localStorage.getItem('cascade:{shop.id}:referral') === '[]'")
    listener = await bob.listener()
    requests = [
        message
        for message in await bob.traffic.received(listener)
        if message["data"].get("type") == "interaction"
    ]
    opened_at = requests[0]["data"]["payload"]["opened_at"]
    assert 0 <= time.time() - opened_at < 300  # unix seconds, the landing of this test
    assert requests == [
        {
            "origin": shop.origin,
            "data": {
                "cascade": 1,
                "id": requests[0]["data"]["id"],
                "type": "interaction",
                "payload": {
                    "type": "referral.referred",
                    "data": {"referrer_token": token},
                    "dedup_key": landing["key"],
                    "opened_at": opened_at,  # when the link landed: a fraud signal
                },
            },
        }
    ]
    [verified] = await bob.traffic.to("/api/external/referral-tokens/", "GET")
    assert verified.url == f"{live_server.url}/api/external/referral-tokens/{token}"
    assert (verified.frame_id, verified.status) == (listener, 200)
    [referred] = await bob.traffic.to("/api/external/interactions")
    assert referred.frame_id == listener
    assert referred.json() == {
        "product_id": shop.id,
        "wallet": bob.address,
        "type": "referral.referred",
        "data": {"referrer_token": token},
        "dedup_key": landing["key"],
    }
    assert referred.status == 202
    assert referred.headers["authorization"].startswith("Bearer ")  # the listener's session
    assert referred.headers["cascade-link-opened-at"] == str(opened_at)

    # 4. Bob buys: trackPurchase(orderId, checkoutToken) -> purchase.started for his wallet,
    #    bound to the order by the checkout token the shop's webhook will sign again
    await bob.press("#buy")
    order_id = await bob.page.wait_for(
        "document.querySelector('#order').dataset.tracked === 'yes'"
        " && document.querySelector('#order').dataset.orderId"
    )
    checkout = await bob.page.evaluate("document.querySelector('#order').dataset.checkoutToken")
    started = (await bob.traffic.to("/api/external/interactions"))[1]
    assert started.json() == {
        "product_id": shop.id,
        "wallet": bob.address,
        "type": "purchase.started",
        "data": {"order_id": order_id, "order_token": checkout},
        "dedup_key": f"purchase:{order_id}:{checkout}",
    }
    assert started.status == 202

    # 5. Bob pays: the shop's server has Shopify send the signed orders/paid webhook
    await bob.press("#pay")
    await bob.page.wait_for("document.querySelector('#order').dataset.state === 'paid'")
    [webhook] = shop.webhooks
    assert webhook.status_code == 200, webhook.text
    answer = webhook.json()
    assert (answer["event"], answer["order_id"], answer["status"]) == (
        "completed",
        order_id,
        "rewarded",
    )

    # 6. both see their queued reward through watchWalletStatus (the listener's stream),
    # with when it is due on-chain: one queue (campaign and token), settled every cycle, so
    # the cycle after its oldest reward
    await bob.page.wait_for(f"{QUEUED_OF_FIRST_TOKEN} === '{USER_SHARE}'")
    oldest = await db_session.scalar(select(func.min(Reward.available_at)))
    due = oldest.astimezone(UTC) + timedelta(seconds=settings.push_interval_s)
    assert await bob.status() == {
        "wallet": bob.address,
        "tokens": [token_status(USER_SHARE, due)],
    }
    await alice.page.wait_for(f"{QUEUED_OF_FIRST_TOKEN} === '{REFERRER_SHARE}'")
    assert await alice.status() == {
        "wallet": alice.address,
        "tokens": [token_status(REFERRER_SHARE, due)],
    }
    assert await alice.page.evaluate("document.querySelector('#wallet-tokens li').textContent") == (
        "0 TST claimable · 5 TST queued"
    )
    assert await alice.errors() == [] and await bob.errors() == []

    # and the database agrees: one split, no more
    rewards = (await db_session.scalars(select(Reward).order_by(Reward.level))).all()
    assert [(r.wallet, r.level, r.amount, r.status) for r in rewards] == [
        (bob.address, 0, USER_SHARE, "pending"),
        (alice.address, 1, REFERRER_SHARE, "pending"),
    ]
    edges = (
        await db_session.scalars(select(Interaction).where(Interaction.type == "referral.referred"))
    ).all()
    assert [(i.wallet, i.referrer_wallet, i.flag) for i in edges] == [
        (bob.address, alice.address, None)
    ]
