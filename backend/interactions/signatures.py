"""What a shop signs, and how it is checked: webhook bodies and custom order references.

Shopify and WooCommerce sign the raw body: base64(HMAC-SHA256(secret, body)).
Custom shops use Standard Webhooks (webhook-id / webhook-timestamp /
webhook-signature "v1,<base64>" over "id.timestamp.body", whsec_ keys, 5-minute
tolerance). A custom shop's server also signs the order id for its own page, so
a browser can prove it is the buyer of that order (see `order_reference`).
Secrets come from products.webhook_secrets[scheme], a list so a rotation keeps
the previous secret valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import NotFound, Unauthorized

TOLERANCE_S = 300


def b64_hmac(key: bytes, message: bytes) -> bytes:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())


def verify_body_hmac(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """Shopify and WooCommerce: base64(HMAC-SHA256(secret, raw body)) equals the header."""
    if not header or not secrets:
        return False
    given = header.strip().encode()
    return any(hmac.compare_digest(b64_hmac(s.encode(), body), given) for s in secrets)


def whsec_key(secret: str) -> bytes | None:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return None


def standard_signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The "v1,<base64>" a Standard Webhooks sender puts in webhook-signature."""
    key = whsec_key(secret)
    if key is None:
        raise ValueError("not a whsec_ secret")
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + b64_hmac(key, signed).decode()


def verify_standard(
    body: bytes, headers: Mapping[str, str], secrets: list[str], *, now: float | None = None
) -> str:
    """Check a Standard Webhooks delivery; returns its webhook-id, raises Unauthorized."""
    webhook_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not webhook_id or not timestamp or not signatures:
        raise Unauthorized(
            "missing webhook-id, webhook-timestamp or webhook-signature", code="invalid_signature"
        )
    try:
        sent = int(timestamp)
    except ValueError:
        raise Unauthorized(
            "webhook-timestamp is not unix seconds", code="invalid_signature"
        ) from None
    if abs((now if now is not None else time.time()) - sent) > TOLERANCE_S:
        raise Unauthorized(
            "webhook-timestamp outside the 5-minute tolerance", code="stale_timestamp"
        )
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    expected = []
    for secret in secrets:
        key = whsec_key(secret)
        if key is not None:
            expected.append(b64_hmac(key, signed))
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        if any(hmac.compare_digest(value.encode(), candidate) for candidate in expected):
            return webhook_id
    raise Unauthorized("webhook signature does not match", code="invalid_signature")


def order_reference(secret: str, order_id: str) -> str:
    """A custom shop's proof, for its own page, that this browser is the buyer of `order_id`:
    base64(HMAC-SHA256(the whsec_ key's bytes, order id as UTF-8)). Made on the shop's
    server; the page hands it to `trackPurchase(orderId, orderToken)`."""
    key = whsec_key(secret)
    if key is None:
        raise ValueError("not a whsec_ secret")
    return b64_hmac(key, order_id.encode()).decode()


def is_order_reference(token: str, order_id: str, secrets: list[str]) -> bool:
    """True when `token` is `order_reference(s, order_id)` for one of the custom secrets."""
    given = token.encode()
    for secret in secrets:
        key = whsec_key(secret)
        if key is not None and hmac.compare_digest(b64_hmac(key, order_id.encode()), given):
            return True
    return False


async def product_secrets(session: AsyncSession, product_id: str, scheme: str) -> list[str]:
    """The product's current webhook secrets for `scheme` (404 when the product is unknown)."""
    row = (
        await session.execute(
            text("SELECT webhook_secrets FROM products WHERE id = :id AND deleted_at IS NULL"),
            {"id": product_id.lower()},
        )
    ).first()
    if row is None:
        raise NotFound("product not found", code="product_not_found")
    found = (row.webhook_secrets or {}).get(scheme) or []
    return [s for s in found if isinstance(s, str) and s]
