"""Shop orders: the SDK's purchase.started links an order to a wallet, the shop completes it.

Whichever arrives first, the order row is the meeting point: a completion with
no known wallet waits in `orders` until purchase.started names the wallet.
`purchase.completed` is rewarded once ever per (product, order id): the row
moves started -> completed through a guarded upsert, so a second completion,
or one after a refund, finds no row to update and earns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation, localcontext
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns import engine
from backend.rewards.service import CancelOutcome

ORDER_ALREADY_COMPLETED = "order_already_completed"
ORDER_REFUNDED = "order_refunded"
ORDER_OTHER_WALLET = "order_wallet_mismatch"


def parse_amount(value: Any) -> int:
    """A currency amount ("49.90" or 49) as an integer at 18 decimals; ValueError otherwise.

    Floats are refused: money never passes through binary floating point.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("amount must be a decimal string")
    with localcontext() as ctx:
        ctx.prec = 120
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError("amount must be a decimal string") from None
        if not number.is_finite() or number < 0:
            raise ValueError("amount must be a non-negative decimal")
        scaled = int(number.scaleb(18).to_integral_value(rounding=ROUND_DOWN))
    if scaled >= 2**256:
        raise ValueError("amount is too large")
    return scaled


@dataclass(frozen=True)
class Completion:
    """Result of recording a completed order."""

    flag: str | None  # why it earns nothing, None when it may be rewarded
    wallet: str | None  # the order's wallet (None: waits for purchase.started)
    amount_e18: int | None


async def complete_for_wallet(
    session: AsyncSession,
    product_id: str,
    order_id: str,
    wallet: str,
    amount_e18: int | None,
    currency: str | None,
    interaction_id: int,
) -> Completion:
    """A trusted server says `wallet` completed `order_id` (interaction already stored)."""
    row = (
        await session.execute(
            text(
                """
                INSERT INTO orders AS o (product_id, order_id, wallet, status, amount, currency,
                                         source, completed_interaction_id)
                VALUES (:product_id, :order_id, :wallet, 'completed', :amount, :currency, 'api',
                        :interaction_id)
                ON CONFLICT (product_id, order_id) DO UPDATE
                SET status = 'completed', wallet = COALESCE(o.wallet, EXCLUDED.wallet),
                    amount = COALESCE(EXCLUDED.amount, o.amount),
                    currency = COALESCE(EXCLUDED.currency, o.currency),
                    completed_interaction_id = EXCLUDED.completed_interaction_id,
                    updated_at = now()
                WHERE o.status = 'started' AND (o.wallet IS NULL OR o.wallet = EXCLUDED.wallet)
                RETURNING wallet, amount
                """
            ),
            {
                "product_id": product_id,
                "order_id": order_id,
                "wallet": wallet,
                "amount": amount_e18,
                "currency": currency,
                "interaction_id": interaction_id,
            },
        )
    ).first()
    if row is not None:
        return Completion(None, row.wallet, None if row.amount is None else int(row.amount))
    return Completion(await _refusal(session, product_id, order_id), None, None)


async def _refusal(session: AsyncSession, product_id: str, order_id: str) -> str:
    status = await session.scalar(
        text("SELECT status FROM orders WHERE product_id = :p AND order_id = :o"),
        {"p": product_id, "o": order_id},
    )
    if status == "completed":
        return ORDER_ALREADY_COMPLETED
    if status in ("refunded", "cancelled"):
        return ORDER_REFUNDED
    return ORDER_OTHER_WALLET


async def complete_from_shop(
    session: AsyncSession,
    product_id: str,
    order_id: str,
    amount_e18: int | None,
    currency: str | None,
    source: str,
    payload: dict[str, Any],
) -> Completion:
    """A shop webhook says `order_id` is paid; the wallet is whatever purchase.started said.

    flag is set when the order was already completed or refunded (nothing to do).
    """
    row = (
        await session.execute(
            text(
                """
                INSERT INTO orders AS o (product_id, order_id, status, amount, currency, source,
                                         completed_payload)
                VALUES (:product_id, :order_id, 'completed', :amount, :currency, :source,
                        CAST(:payload AS jsonb))
                ON CONFLICT (product_id, order_id) DO UPDATE
                SET status = 'completed', amount = COALESCE(EXCLUDED.amount, o.amount),
                    currency = COALESCE(EXCLUDED.currency, o.currency),
                    source = EXCLUDED.source, completed_payload = EXCLUDED.completed_payload,
                    updated_at = now()
                WHERE o.status = 'started'
                RETURNING wallet, amount
                """
            ),
            {
                "product_id": product_id,
                "order_id": order_id,
                "amount": amount_e18,
                "currency": currency,
                "source": source,
                "payload": _json(payload),
            },
        )
    ).first()
    if row is None:
        return Completion(await _refusal(session, product_id, order_id), None, None)
    return Completion(None, row.wallet, None if row.amount is None else int(row.amount))


async def set_completed_interaction(
    session: AsyncSession, product_id: str, order_id: str, interaction_id: int
) -> None:
    await session.execute(
        text(
            "UPDATE orders SET completed_interaction_id = :iid, updated_at = now() "
            "WHERE product_id = :p AND order_id = :o"
        ),
        {"iid": interaction_id, "p": product_id, "o": order_id},
    )


@dataclass(frozen=True)
class StartedLink:
    """A purchase.started met an order the shop had already completed without a wallet."""

    amount_e18: int | None
    currency: str | None


async def record_started(
    session: AsyncSession, product_id: str, order_id: str, wallet: str, interaction_id: int
) -> StartedLink | None:
    """Link `order_id` to `wallet` (first wallet wins); returns a waiting completion, if any.

    The upsert holds the order's row lock until commit, so two purchase.started
    for a waiting order cannot both turn it into a reward.
    """
    row = (
        await session.execute(
            text(
                """
                INSERT INTO orders AS o (product_id, order_id, wallet, status, source,
                                         started_interaction_id)
                VALUES (:product_id, :order_id, :wallet, 'started', 'api', :interaction_id)
                ON CONFLICT (product_id, order_id) DO UPDATE
                SET wallet = COALESCE(o.wallet, EXCLUDED.wallet),
                    started_interaction_id = COALESCE(o.started_interaction_id,
                                                      EXCLUDED.started_interaction_id),
                    updated_at = now()
                RETURNING wallet, status, amount, currency, completed_interaction_id
                """
            ),
            {
                "product_id": product_id,
                "order_id": order_id,
                "wallet": wallet,
                "interaction_id": interaction_id,
            },
        )
    ).one()
    if row.status == "completed" and row.completed_interaction_id is None and row.wallet == wallet:
        return StartedLink(None if row.amount is None else int(row.amount), row.currency)
    return None


async def refund(
    session: AsyncSession, product_id: str, order_id: str, status: str, source: str
) -> CancelOutcome:
    """Refund or cancel an order: unsettled rewards are cancelled and their budget returned.

    An order never seen before is stored as refunded so a late completion earns nothing.
    """
    row = (
        await session.execute(
            text(
                """
                INSERT INTO orders AS o (product_id, order_id, status, source)
                VALUES (:product_id, :order_id, :status, :source)
                ON CONFLICT (product_id, order_id) DO UPDATE
                SET status = EXCLUDED.status, updated_at = now()
                WHERE o.status IN ('started', 'completed')
                RETURNING completed_interaction_id
                """
            ),
            {"product_id": product_id, "order_id": order_id, "status": status, "source": source},
        )
    ).first()
    if row is None or row.completed_interaction_id is None:
        return CancelOutcome([], [])
    return await engine.cancel_interaction_rewards(
        session, [row.completed_interaction_id], reason=f"order {status}"
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), default=str)
