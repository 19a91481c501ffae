"""Shop webhooks: verify the signature on the raw bytes, apply each order event once.

Schemes and their signatures: see backend.interactions.signatures. Nothing is
stored before the signature checks out and the fields we read are valid.

What an order event is comes from the signed body only: the topic header
(X-Shopify-Topic, X-WC-Webhook-Topic) is not covered by the signature, so a
captured `orders/paid` body re-sent as `orders/cancelled` is still a paid order.

Retries: shops resend until they get a 2xx and disable the webhook after too
many failures, so a delivery already applied answers 200 with the first answer
and `"duplicate": true`. Deliveries are recognised by their id header, or by a
hash of the body when the shop sends none.

Like every ingestion path, a delivery is stored and answered: the order's state
and, once its wallet is known, the purchase.completed interaction (queued for the
evaluator). `rewards` lists what evaluation created when the answer is built
(`evaluated`); a caller may wait for it with `Prefer: wait=N`.

Amounts: shops send decimal strings in their currency; they become 18-decimal
integers and the engine converts them to the campaign token's decimals,
counting 1 currency unit as 1 token unit (stable tokens such as EURe).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import InvalidInput, NotFound, Unauthorized
from backend.interactions import orders, preparation, store, values
from backend.interactions import service as ingestion
from backend.interactions.signatures import (
    product_secrets,
    standard_signature,
    verify_body_hmac,
    verify_standard,
)

__all__ = ["SCHEMES", "receive", "standard_signature", "verify_standard"]

SCHEMES = ("shopify", "woocommerce", "custom")
_DELIVERY_ID_MAX = 200
# WooCommerce pings a new webhook with a form body `webhook_id=<n>`, not an order
_WOO_PING = re.compile(rb"webhook_id=[0-9]{1,20}")


# --- payloads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderEvent:
    kind: str  # completed | refunded | cancelled | ignored
    order_id: str | None = None
    amount_e18: int | None = None
    currency: str | None = None
    wallet: str | None = None  # custom shops may name the wallet directly
    tokens: frozenset[str] = field(default_factory=frozenset)  # see orders.order_tokens


def _order_id(value: Any, field_name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise values.invalid(field_name, "an order id (string or integer) is required")
    order_id = str(value)
    if len(order_id) > 255:
        raise values.invalid(field_name, "an order id of at most 255 characters is required")
    return values.check_text(order_id, field_name)


def _amount(value: Any, field_name: str) -> int | None:
    return None if value is None else values.parse_amount(value, field_name)


def shopify_event(payload: dict[str, Any]) -> OrderEvent:
    """What a Shopify body says, whatever its topic header claims.

    A Refund object (refunds/create: `order_id`, no `financial_status`) takes
    the order back; an Order with `cancelled_at` is cancelled, one with
    refunds or financial_status refunded/partially_refunded is refunded, one
    that is `paid` completes; anything else (pending, authorized) is ignored.
    """
    if "financial_status" not in payload and "order_id" in payload:
        return OrderEvent("refunded", _order_id(payload.get("order_id"), "order_id"))
    status = payload.get("financial_status")
    if payload.get("cancelled_at") or status == "voided":
        return OrderEvent("cancelled", _order_id(payload.get("id"), "id"))
    refunds = payload.get("refunds")
    if status in ("refunded", "partially_refunded") or (isinstance(refunds, list) and refunds):
        return OrderEvent("refunded", _order_id(payload.get("id"), "id"))
    if status != "paid":
        return OrderEvent("ignored")
    return OrderEvent(
        "completed",
        _order_id(payload.get("id"), "id"),
        _amount(payload.get("total_price"), "total_price"),
        values.currency(payload.get("currency"), "currency"),
        tokens=orders.order_tokens("shopify", payload),
    )


def woocommerce_event(payload: dict[str, Any]) -> OrderEvent:
    """The body's status decides (the topic header is ignored): completed|processing
    completes, refunded|cancelled takes it back, anything else is ignored."""
    status = payload.get("status")
    if status in ("completed", "processing"):
        return OrderEvent(
            "completed",
            _order_id(payload.get("id"), "id"),
            _amount(payload.get("total"), "total"),
            values.currency(payload.get("currency"), "currency"),
            tokens=orders.order_tokens("woocommerce", payload),
        )
    if status in ("refunded", "cancelled"):
        return OrderEvent(status, _order_id(payload.get("id"), "id"))
    return OrderEvent("ignored")


def custom_event(payload: dict[str, Any]) -> OrderEvent:
    """{"type": "purchase.completed" | "purchase.refunded", "data": {order_id, amount,
    currency, wallet?}}; the whole body is signed (Standard Webhooks)."""
    data = payload.get("data")
    if not isinstance(data, dict):
        raise values.invalid("data", "an object is required")
    kind = payload.get("type")
    order_id = _order_id(data.get("order_id"), "data.order_id")
    if kind == "purchase.refunded":
        return OrderEvent("refunded", order_id)
    if kind != "purchase.completed":
        return OrderEvent("ignored")
    wallet = data.get("wallet")
    if wallet is not None:
        wallet = preparation.checksummed(wallet, "data.wallet")
    return OrderEvent(
        "completed",
        order_id,
        _amount(data.get("amount"), "data.amount"),
        values.currency(data.get("currency"), "data.currency"),
        wallet,
    )


# --- processing ---------------------------------------------------------------------------


def _authenticate(
    scheme: str, body: bytes, headers: Mapping[str, str], secrets: list[str]
) -> tuple[str | None, str | None]:
    """Verify the delivery; returns (its id header, if any, and its topic header)."""
    if scheme == "custom":
        return verify_standard(body, headers, secrets), None
    header = "x-shopify-hmac-sha256" if scheme == "shopify" else "x-wc-webhook-signature"
    if not verify_body_hmac(body, headers.get(header), secrets):
        raise Unauthorized("webhook signature does not match", code="invalid_signature")
    if scheme == "shopify":
        return headers.get("x-shopify-webhook-id"), headers.get("x-shopify-topic")
    return headers.get("x-wc-webhook-delivery-id"), headers.get("x-wc-webhook-topic")


def delivery_key(delivery_id: str | None, body: bytes) -> str:
    """What identifies a delivery across the shop's retries: its id header, else its body."""
    if delivery_id and len(delivery_id) <= _DELIVERY_ID_MAX:
        return delivery_id
    digest = hashlib.sha256(delivery_id.encode() if delivery_id else body).hexdigest()
    return ("id-sha256:" if delivery_id else "body-sha256:") + digest


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput("body is not JSON", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise InvalidInput("body must be a JSON object", code="invalid_json")
    return payload


def _event(scheme: str, payload: dict[str, Any]) -> OrderEvent:
    if scheme == "shopify":
        return shopify_event(payload)
    if scheme == "woocommerce":
        return woocommerce_event(payload)
    return custom_event(payload)


async def receive(
    session: AsyncSession,
    product_id: str,
    scheme: str,
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Verify, de-duplicate and apply one shop delivery; commits. Returns what happened."""
    if scheme not in SCHEMES:
        raise NotFound("unknown webhook scheme", code="not_found")
    product_id = values.product_id(product_id)
    secrets = await product_secrets(session, product_id, scheme)
    if scheme == "woocommerce" and _WOO_PING.fullmatch(body.strip()):
        return {"event": "ignored", "order_id": None, "duplicate": False}  # nothing to apply
    delivery_id, topic = _authenticate(scheme, body, headers, secrets)
    payload = _parse(body)
    event = _event(scheme, payload)
    if scheme == "custom":
        topic = values.storable(str(payload.get("type"))[:100])
    key = delivery_key(delivery_id, body)
    inserted = await session.scalar(
        text(
            "INSERT INTO inbound_webhooks (product_id, scheme, webhook_id, topic) "
            "VALUES (:p, :s, :w, :t) ON CONFLICT DO NOTHING RETURNING webhook_id"
        ),
        {"p": product_id, "s": scheme, "w": key, "t": (topic or "")[:100]},
    )
    if inserted is None:  # a retry of a delivery already applied: the same answer, again
        first = await session.scalar(
            text(
                "SELECT response FROM inbound_webhooks "
                "WHERE product_id = :p AND scheme = :s AND webhook_id = :w"
            ),
            {"p": product_id, "s": scheme, "w": key},
        )
        await session.rollback()
        earlier = first if isinstance(first, dict) else {"event": event.kind}
        return {**earlier, "order_id": event.order_id, "duplicate": True}
    answer: dict[str, Any] = {"event": event.kind, "order_id": event.order_id}
    if event.kind == "completed" and event.order_id is not None:
        answer.update(await _complete(session, product_id, scheme, event, payload))
    elif event.kind in ("refunded", "cancelled") and event.order_id is not None:
        outcome = await orders.refund(session, product_id, event.order_id, event.kind, scheme)
        answer["cancelled_rewards"] = [r.id for r in outcome.cancelled]
        answer["settled_rewards"] = outcome.settled
    answer["duplicate"] = False
    await session.execute(
        text(
            "UPDATE inbound_webhooks SET response = CAST(:r AS jsonb) "
            "WHERE product_id = :p AND scheme = :s AND webhook_id = :w"
        ),
        {"r": json.dumps(answer), "p": product_id, "s": scheme, "w": key},
    )
    await session.commit()
    if answer.get("interaction_id") is not None:
        store.queued([product_id])
    return answer


def completion_of(answer: dict[str, Any]) -> int | None:
    """The purchase.completed interaction a delivery stored (its rewards are the answer's)."""
    interaction_id = answer.get("interaction_id")
    return interaction_id if isinstance(interaction_id, int) else None


async def _complete(
    session: AsyncSession,
    product_id: str,
    scheme: str,
    event: OrderEvent,
    payload: dict[str, Any],
) -> dict[str, Any]:
    assert event.order_id is not None
    completion = await orders.complete_from_shop(
        session,
        product_id,
        event.order_id,
        event.amount_e18,
        event.currency,
        scheme,
        payload,
        wallet=event.wallet,
        tokens=event.tokens,
    )
    if completion.flag is not None:
        return {"status": completion.flag, "interaction_id": None}
    if completion.wallet is None:
        return {"status": "waiting_for_wallet", "interaction_id": None}
    interaction_id = await ingestion.completion_interaction(
        session,
        product_id,
        event.order_id,
        completion.wallet,
        completion.amount_e18,
        event.currency,
    )
    # "rewarded": the order is attributed to `wallet` and its purchase is queued to pay
    return {"status": "rewarded", "wallet": completion.wallet, "interaction_id": interaction_id}
