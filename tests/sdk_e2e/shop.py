"""The demo shop (sdk-js/examples/shop) on its own loopback origin, with its server side.

GET serves the example's files as they are in the repository. POST /checkout is
the shop's server taking payment for an order: it hands the order to
`on_checkout`, where the test plays the shop platform (e.g. sends Cascade the
signed Shopify orders/paid webhook). Another instance is a third-party origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from backend.campaigns.models import Campaign
from backend.products.models import Product

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "sdk-js" / "examples" / "shop"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}

SHOPIFY_SECRET = "shpss_northwind-outfitters-test"  # the shop's webhook secret in every test

CheckoutHandler = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class ShopSite:
    def __init__(self, root: Path = EXAMPLE_DIR) -> None:
        self.root = root
        self.on_checkout: CheckoutHandler | None = None
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
                file = (site.root / name).resolve()
                if file.parent != site.root or not file.is_file():  # no other paths, no ../
                    self.send_error(404)
                    return
                content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
                self._answer(200, file.read_bytes(), content_type)

            def do_POST(self) -> None:
                if self.path != "/checkout" or site.on_checkout is None:
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    order = json.loads(self.rfile.read(length))
                except ValueError:
                    self.send_error(400)
                    return
                status, answer = site.on_checkout(order)
                self._answer(status, json.dumps(answer).encode(), "application/json")

            def _answer(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://localhost:{self.port}"  # WebAuthn wants a name, never an IP
        self.origin = self.url
        self.domain = f"localhost:{self.port}"  # what the product registers
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> ShopSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def shop_page(site: ShopSite, backend_url: str, product_id: str, checkout: bool = True) -> str:
    """The demo page's URL on `site`, configured by query for a backend and a product."""
    query = {"backend": backend_url, "product": product_id}
    if checkout:
        query["checkout"] = "/checkout"
    return f"{site.url}/?{urlencode(query)}"


@dataclass
class Shop:
    product: Product
    api_key: str
    campaign: Campaign
    origin: str  # the shop's origin, the one the product registered
    url: str  # the demo shop page, configured for this product and backend
    webhooks: list[httpx.Response] = field(default_factory=list)  # what Cascade answered

    @property
    def id(self) -> str:
        return self.product.id


# -- the shop platform's side: Shopify webhooks ----------------------------------------------


def shopify_signature(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 over the raw body, keyed with the secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_order(
    order_id: str, total_price: str, currency: str, checkout_token: str | None = None
) -> dict[str, Any]:
    """An orders/paid payload, trimmed to the fields a Shopify order carries that matter here.

    `checkout_token` is the token the buyer's page had (and gave `trackPurchase`).
    """
    return {
        "id": int(order_id),  # a JSON number, as Shopify sends it; the SDK had it as a string
        "checkout_token": checkout_token,
        "name": "#1001",
        "order_number": 1001,
        "financial_status": "paid",
        "total_price": total_price,
        "currency": currency,
        "line_items": [{"title": "Trail Runner 2", "quantity": 1, "price": total_price}],
    }


def send_shopify_webhook(
    backend_url: str, product_id: str, secret: str, topic: str, payload: dict[str, Any]
) -> httpx.Response:
    """Deliver one webhook the way Shopify does: JSON body, HMAC header, topic and delivery id."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": shopify_signature(secret, body),
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Shop-Domain": "northwind.myshopify.com",
        "X-Shopify-API-Version": "2025-01",
    }
    return httpx.post(
        f"{backend_url}/api/external/webhooks/{product_id}/shopify",
        content=body,
        headers=headers,
        timeout=20,
    )
