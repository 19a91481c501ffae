"""A page on an origin the product did not register gets nothing from the listener."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from backend.interactions.models import Interaction
from tests.browser.harness import LiveServer
from tests.sdk_e2e.shop import Shop, ShopSite, shop_page


async def test_unregistered_origin__no_ready_no_status_nothing_reaches_the_backend(
    shop: Shop, shoppers, stranger_site: ShopSite, live_server: LiveServer, db_session
):
    mallory = await shoppers("mallory")
    await mallory.visit(shop_page(stranger_site, live_server.url, shop.id, checkout=False))
    await mallory.press("#buy")  # queued for a wallet that can never connect here
    order_id = await mallory.page.wait_for("document.querySelector('#order').dataset.orderId")

    # the SDK waits 15 s for "ready", then says why nothing works; the widget's
    # walletStatus request, unanswered as well, times out right after
    await mallory.page.wait_for("window.shop.errors.length >= 2", timeout_s=25)
    assert await mallory.errors() == ["listener_unavailable", "request_failed"]
    assert await mallory.page.evaluate("window.shop.statuses") == []
    assert [m for m in await mallory.traffic.received() if m["origin"] == live_server.url] == []

    # the backend's page refused this frame (CSP frame-ancestors lists only the shop),
    # so no listener script ran and no API call was made; the SDK posted nothing either
    [framed] = await mallory.traffic.to("/listener?", "GET")
    assert framed.url == (
        f"{live_server.url}/listener?product={shop.id}"
        f"&origin={stranger_site.origin.replace(':', '%3A').replace('/', '%2F')}"
    )
    api_calls = [r.url for r in mallory.traffic.requests if "/api/" in r.url]
    assert api_calls == []
    [queued] = await mallory.stored(f"cascade:{shop.id}:queue")
    assert queued["key"].startswith(f"purchase:{order_id}:")  # kept on the device, as documented
    assert await db_session.scalar(select(func.count()).select_from(Interaction)) == 0


async def test_registered_origin__listener_answers_with_ready(
    shop: Shop, shoppers, live_server: LiveServer
):
    """The control for the test above: the same page on the shop's own origin is served."""
    shopper = await shoppers("dave")
    await shopper.visit(shop.url)
    await shopper.wait_ready()
    [ready] = [
        m["data"]
        for m in await shopper.traffic.received()
        if m["origin"] == live_server.url and m["data"]["type"] == "ready"
    ]
    assert ready == {
        "cascade": 1,
        "id": ready["id"],
        "type": "ready",
        "payload": {"wallet": None, "tokens": []},
    }
    [origins] = await shopper.traffic.to("/origins", "GET")
    assert (origins.frame_id, origins.status) == (await shopper.listener(), 200)
    assert json.loads(
        (await shopper.page.send("Network.getResponseBody", requestId=origins.request_id))["body"]
    ) == {"origins": [f"https://{shop.origin.removeprefix('http://')}", shop.origin]}
