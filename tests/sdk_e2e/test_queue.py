"""Interactions made before a wallet connects wait on the device, then arrive exactly once."""

from __future__ import annotations

import json

from sqlalchemy import select

from backend.interactions.models import Interaction
from tests.sdk_e2e.shop import Shop


async def test_purchase_before_connecting__queued_across_pages__delivered_once(
    shop: Shop, shoppers, db_session
):
    carol = await shoppers("carol")
    await carol.visit(shop.url)
    await carol.wait_ready()
    assert await carol.status() == {"wallet": None, "tokens": []}
    queue = f"cascade:{shop.id}:queue"

    # Buy with no wallet: trackPurchase queues purchase.started in localStorage, sends nothing
    await carol.press("#buy")
    order_id = await carol.page.wait_for("document.querySelector('#order').dataset.orderId")
    checkout = await carol.page.evaluate("document.querySelector('#order').dataset.checkoutToken")
    key = f"purchase:{order_id}:{checkout}"
    await carol.page.wait_for(f"localStorage.getItem({json.dumps(queue)}) !== null")
    [queued] = await carol.stored(queue)
    assert (queued["type"], queued["data"], queued["key"]) == (
        "purchase.started",
        {"order_id": order_id, "order_token": checkout},
        key,
    )
    listener = await carol.listener()
    to_listener = [m["data"]["type"] for m in await carol.traffic.received(listener)]
    assert to_listener == ["walletStatus"]  # the widget's watch; no interaction yet
    assert await carol.traffic.to("/api/external/interactions") == []

    # another page load: the item lives on the device, not in the page
    await carol.visit(shop.url)
    assert [item["key"] for item in await carol.stored(queue)] == [key]

    # connecting delivers it, through the listener, once
    await carol.wait_ready()
    await carol.connect_new_passkey()
    await carol.page.wait_for(f"localStorage.getItem({json.dumps(queue)}) === '[]'")
    [posted] = await carol.traffic.to("/api/external/interactions")
    assert posted.frame_id == await carol.listener()
    assert posted.json() == {
        "product_id": shop.id,
        "wallet": carol.address,
        "type": "purchase.started",
        "data": {"order_id": order_id, "order_token": checkout},
        "dedup_key": key,
    }
    assert posted.status == 202

    # a later page, still signed in: the next interaction goes out, the old one never again
    await carol.visit(shop.url)
    await carol.wait_ready()
    answer = await carol.page.evaluate(
        "window.shop.client.sendInteraction('content.shared', { network: 'email' })"
    )
    assert answer is not None and answer["duplicate"] is False
    first, second = await carol.traffic.to("/api/external/interactions")
    assert first is posted
    assert (second.json()["type"], second.status) == ("content.shared", 202)
    rows = (await db_session.scalars(select(Interaction).order_by(Interaction.id))).all()
    assert [(r.wallet, r.type, r.order_id, r.dedup_key) for r in rows] == [
        (carol.address, "purchase.started", order_id, key),
        (carol.address, "content.shared", None, second.json()["dedup_key"]),
    ]
    assert await carol.errors() == []
