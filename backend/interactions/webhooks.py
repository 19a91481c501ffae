"""Shop webhooks: verify the HMAC on the raw bytes, refuse replays, turn orders into rewards.

Schemes: Shopify (X-Shopify-Hmac-Sha256), WooCommerce (X-WC-Webhook-Signature),
both base64 HMAC-SHA256 of the raw body keyed with the shop's secret; and
Standard Webhooks for custom shops (webhook-id / webhook-timestamp /
webhook-signature "v1,<base64>" over "id.timestamp.body", whsec_ keys,
5-minute tolerance). Secrets come from products.webhook_secrets[scheme], a
list so a rotation keeps the previous secret valid. Nothing is stored before
the signature checks out.

Amounts: shops send decimal strings in their currency; they become 18-decimal
integers and the engine converts them to the campaign token's decimals,
counting 1 currency unit as 1 token unit (stable tokens such as EURe).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from backend.interactions import orders
from backend.interactions import service as ingestion

SCHEMES = ("shopify", "woocommerce", "custom")
TOLERANCE_S = 300


# --- signatures ---------------------------------------------------------------------------


def _b64_hmac(key: bytes, message: bytes) -> bytes:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())


def verify_body_hmac(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """Shopify and WooCommerce: base64(HMAC-SHA256(secret, raw body)) equals the header."""
    if not header or not secrets:
        return False
    given = header.strip().encode()
    return any(hmac.compare_digest(_b64_hmac(s.encode(), body), given) for s in secrets)


def _whsec_key(secret: str) -> bytes | None:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return None


def standard_signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The "v1,<base64>" a Standard Webhooks sender puts in webhook-signature."""
    key = _whsec_key(secret)
    if key is None:
        raise ValueError("not a whsec_ secret")
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + _b64_hmac(key, signed).decode()


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
        key = _whsec_key(secret)
        if key is not None:
            expected.append(_b64_hmac(key, signed))
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        if any(hmac.compare_digest(value.encode(), candidate) for candidate in expected):
            return webhook_id
    raise Unauthorized("webhook signature does not match", code="invalid_signature")


# --- payloads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderEvent:
    kind: str  # completed | refunded | cancelled | ignored
    order_id: str | None = None
    amount_e18: int | None = None
    currency: str | None = None
    wallet: str | None = None  # custom shops may name the wallet directly


def _order_id(value: Any, field_name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise InvalidInput(f"invalid value for: {field_name}", details=[{"key": field_name}])
    order_id = str(value)
    if len(order_id) > 255:
        raise InvalidInput(f"invalid value for: {field_name}", details=[{"key": field_name}])
    return order_id


def _amount(value: Any, field_name: str) -> int | None:
    if value is None:
        return None
    try:
        return orders.parse_amount(value)
    except ValueError as exc:
        raise InvalidInput(
            f"invalid value for: {field_name}: {exc}", details=[{"key": field_name}]
        ) from None


def shopify_event(topic: str | None, payload: dict[str, Any]) -> OrderEvent:
    """orders/paid (or orders/create already paid) completes; refunds/create and
    orders/cancelled take it back; other topics are acknowledged and ignored."""
    if topic == "refunds/create":
        return OrderEvent("refunded", _order_id(payload.get("order_id"), "order_id"))
    if topic == "orders/cancelled":
        return OrderEvent("cancelled", _order_id(payload.get("id"), "id"))
    paid = topic == "orders/paid" or (
        topic in ("orders/create", "orders/updated") and payload.get("financial_status") == "paid"
    )
    if not paid:
        return OrderEvent("ignored")
    return OrderEvent(
        "completed",
        _order_id(payload.get("id"), "id"),
        _amount(payload.get("total_price"), "total_price"),
        payload.get("currency"),
    )


def woocommerce_event(topic: str | None, payload: dict[str, Any]) -> OrderEvent:
    """order.created / order.updated: status completed|processing completes,
    refunded|cancelled takes it back; anything else is ignored."""
    if topic not in ("order.created", "order.updated", None):
        return OrderEvent("ignored")
    status = payload.get("status")
    if status in ("completed", "processing"):
        return OrderEvent(
            "completed",
            _order_id(payload.get("id"), "id"),
            _amount(payload.get("total"), "total"),
            payload.get("currency"),
        )
    if status in ("refunded", "cancelled"):
        return OrderEvent(status, _order_id(payload.get("id"), "id"))
    return OrderEvent("ignored")


def custom_event(payload: dict[str, Any]) -> OrderEvent:
    """{"type": "purchase.completed" | "purchase.refunded", "data": {order_id, amount,
    currency, wallet?}}."""
    data = payload.get("data")
    if not isinstance(data, dict):
        raise InvalidInput("invalid value for: data", details=[{"key": "data"}])
    kind = payload.get("type")
    order_id = _order_id(data.get("order_id"), "data.order_id")
    if kind == "purchase.refunded":
        return OrderEvent("refunded", order_id)
    if kind != "purchase.completed":
        return OrderEvent("ignored")
    wallet = data.get("wallet")
    if wallet is not None:
        wallet = ingestion.checksummed(wallet, "data.wallet")
    currency = data.get("currency")
    return OrderEvent(
        "completed",
        order_id,
        _amount(data.get("amount"), "data.amount"),
        currency if isinstance(currency, str) else None,
        wallet,
    )


# --- processing ---------------------------------------------------------------------------


async def _secrets(session: AsyncSession, product_id: str, scheme: str) -> list[str]:
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


def _authenticate(
    scheme: str, body: bytes, headers: Mapping[str, str], secrets: list[str]
) -> tuple[str | None, str | None]:
    """Verify the delivery; returns (delivery id for replay protection, topic)."""
    if scheme == "custom":
        return verify_standard(body, headers, secrets), None
    header = "x-shopify-hmac-sha256" if scheme == "shopify" else "x-wc-webhook-signature"
    if not verify_body_hmac(body, headers.get(header), secrets):
        raise Unauthorized("webhook signature does not match", code="invalid_signature")
    if scheme == "shopify":
        return headers.get("x-shopify-webhook-id"), headers.get("x-shopify-topic")
    return headers.get("x-wc-webhook-delivery-id"), headers.get("x-wc-webhook-topic")


async def receive(
    session: AsyncSession,
    product_id: str,
    scheme: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str,
) -> dict[str, Any]:
    """Verify, de-replay and apply one shop delivery; commits. Returns what happened."""
    if scheme not in SCHEMES:
        raise NotFound("unknown webhook scheme", code="not_found")
    product_id = product_id.lower()
    secrets = await _secrets(session, product_id, scheme)
    delivery_id, topic = _authenticate(scheme, body, headers, secrets)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body is not JSON", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise InvalidInput("body must be a JSON object", code="invalid_json")
    if scheme == "shopify":
        event = shopify_event(topic, payload)
    elif scheme == "woocommerce":
        event = woocommerce_event(topic, payload)
    else:
        event = custom_event(payload)
        topic = str(payload.get("type"))
    if delivery_id:
        inserted = await session.scalar(
            text(
                "INSERT INTO inbound_webhooks (product_id, scheme, webhook_id, topic) "
                "VALUES (:p, :s, :w, :t) ON CONFLICT DO NOTHING RETURNING webhook_id"
            ),
            {"p": product_id, "s": scheme, "w": delivery_id[:255], "t": (topic or "")[:100]},
        )
        if inserted is None:
            await session.rollback()
            raise Conflict("this webhook delivery was already received", code="webhook_replayed")
    answer: dict[str, Any] = {"event": event.kind, "order_id": event.order_id}
    if event.kind == "completed" and event.order_id is not None:
        answer.update(await _complete(session, product_id, scheme, event, payload, secret))
    elif event.kind in ("refunded", "cancelled") and event.order_id is not None:
        outcome = await orders.refund(session, product_id, event.order_id, event.kind, scheme)
        answer["cancelled_rewards"] = [r.id for r in outcome.cancelled]
        answer["settled_rewards"] = outcome.settled
    await session.commit()
    return answer


async def _complete(
    session: AsyncSession,
    product_id: str,
    scheme: str,
    event: OrderEvent,
    payload: dict[str, Any],
    secret: str,
) -> dict[str, Any]:
    assert event.order_id is not None
    if event.wallet is not None:  # a custom shop that knows the wallet: link it first
        await session.execute(
            text(
                "INSERT INTO orders (product_id, order_id, wallet, status, source) "
                "VALUES (:p, :o, :w, 'started', :s) "
                "ON CONFLICT (product_id, order_id) DO UPDATE "
                "SET wallet = COALESCE(orders.wallet, EXCLUDED.wallet)"
            ),
            {"p": product_id, "o": event.order_id, "w": event.wallet, "s": scheme},
        )
    completion = await orders.complete_from_shop(
        session, product_id, event.order_id, event.amount_e18, event.currency, scheme, payload
    )
    if completion.flag is not None:
        return {"status": completion.flag, "interaction_id": None, "rewards": []}
    if completion.wallet is None:
        return {"status": "waiting_for_wallet", "interaction_id": None, "rewards": []}
    item = await ingestion.completion_interaction(
        session,
        product_id,
        event.order_id,
        completion.wallet,
        completion.amount_e18,
        event.currency,
    )
    found = await ingestion.evaluate(session, product_id, [item], secret=secret)
    return {
        "status": "rewarded",
        "interaction_id": item.interaction_id,
        "rewards": [r.as_json() for r in found.get(item.interaction_id, [])],
    }
