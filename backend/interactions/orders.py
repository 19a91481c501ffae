"""Shop orders: who bought, decided by what the shop signed, never by who claimed first.

A browser's `purchase.started` is a *claim* on an order (stored as that
interaction). It is paid only when it is bound to the order by something an
attacker cannot guess: the order token the shop gave the buyer's page and signs
again in its webhook (Shopify `checkout_token`/`cart_token`, WooCommerce
`order_key`), or a custom shop's signed order reference. A wallet the shop names
itself (the custom webhook's `data.wallet`, or the product's API key) always
wins. Claims that lose are kept, flagged on the interaction
(`attribution_disputed`, `order_token_mismatch`) and on the order
(`attribution_flag`: `disputed`, `unbound`), and never paid.

Whichever arrives first, the order row is the meeting point and its row lock
serialises the two sides. `purchase.completed` is rewarded once ever per
(product, order id): the row moves started -> completed through a guarded
upsert, so a second completion, or one after a refund, earns nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns import refunds
from backend.interactions import days, store, values
from backend.rewards.service import CancelOutcome

ORDER_ALREADY_COMPLETED = "order_already_completed"
ORDER_REFUNDED = "order_refunded"

# interactions.flag of a purchase.started claim that is not paid
CLAIM_DISPUTED = "attribution_disputed"  # the order is attributed to another wallet
CLAIM_UNBOUND = "order_token_mismatch"  # no order token matching the shop's order

# orders.attribution: how the order's wallet was decided
BY_SHOP = "shop"  # named by the shop: its signed webhook or its API key
BY_ORDER_TOKEN = "order_token"  # a browser claim carrying the order's token

# orders.attribution_flag: claims that were refused, for the owner to see
DISPUTED = "disputed"
UNBOUND = "unbound"

ORDER_TOKEN_MAX = 255


def parse_amount(value: Any, field: str = "amount") -> int:
    """A currency amount as an integer at 18 decimals (see values.parse_amount); 422 otherwise."""
    return values.parse_amount(value, field)


def order_tokens(scheme: str | None, payload: Mapping[str, Any] | None) -> frozenset[str]:
    """The tokens in a shop's signed order that only the buyer's page also knew.

    Shopify: `checkout_token` and `cart_token`; WooCommerce: `order_key`
    (`wc_order_…`). Custom shops prove orders with a signed reference instead
    (checked when the claim arrives), so nothing here.
    """
    if payload is None:
        return frozenset()
    if scheme == "shopify":
        names: tuple[str, ...] = ("checkout_token", "cart_token")
    elif scheme == "woocommerce":
        names = ("order_key",)
    else:
        return frozenset()
    return frozenset(  # a token no claim could carry (too long, unstorable) binds nothing
        token
        for token in (payload.get(name) for name in names)
        if isinstance(token, str)
        and 1 <= len(token) <= ORDER_TOKEN_MAX
        and values.is_storable(token)
    )


@dataclass(frozen=True)
class Completion:
    """Result of recording a completed order."""

    flag: str | None  # why it earns nothing, None when it may be rewarded
    wallet: str | None  # the order's wallet (None: waits for a bound claim)
    amount_e18: int | None


COMPLETE_SQL = text(
    """
    INSERT INTO orders AS o (product_id, order_id, wallet, status, amount, currency, source,
                             completed_payload, attribution)
    VALUES (:product_id, :order_id, :wallet, 'completed', :amount, :currency, :source,
            CAST(:payload AS jsonb), CASE WHEN CAST(:wallet AS varchar) IS NOT NULL
                                          THEN :by_shop END)
    ON CONFLICT (product_id, order_id) DO UPDATE
    SET status = 'completed',
        wallet = COALESCE(EXCLUDED.wallet, o.wallet),
        attribution = COALESCE(EXCLUDED.attribution, o.attribution),
        amount = COALESCE(EXCLUDED.amount, o.amount),
        currency = COALESCE(EXCLUDED.currency, o.currency),
        source = EXCLUDED.source,
        completed_payload = COALESCE(EXCLUDED.completed_payload, o.completed_payload),
        updated_at = now()
    WHERE o.status = 'started'
    RETURNING wallet, amount
    """
)

BOUND_CLAIM_SQL = text(
    """
    SELECT id, wallet FROM interactions
    WHERE product_id = :product_id AND order_id = :order_id AND type = 'purchase.started'
      AND data ->> 'order_token' = ANY(CAST(:tokens AS text[]))
    ORDER BY id LIMIT 1
    """
)

ATTRIBUTE_SQL = text(
    """
    UPDATE orders SET wallet = :wallet, attribution = :attribution,
                      started_interaction_id = :claim_id, updated_at = now()
    WHERE product_id = :product_id AND order_id = :order_id AND wallet IS NULL
    """
)

# Every claim not yet judged that the decision leaves unpaid gets its reason, and the
# order shows that some claim was refused.
JUDGE_SQL = text(
    """
    WITH judged AS (
        UPDATE interactions
        SET flag = CASE WHEN CAST(:wallet AS varchar) IS NULL THEN :unbound ELSE :disputed END
        WHERE product_id = :product_id AND order_id = :order_id AND type = 'purchase.started'
          AND flag IS NULL
          AND (CAST(:wallet AS varchar) IS NULL OR wallet <> :wallet)
        RETURNING id
    ), marked AS (
        UPDATE orders
        SET attribution_flag = CASE WHEN CAST(:wallet AS varchar) IS NULL
                                    THEN COALESCE(attribution_flag, :order_unbound)
                                    ELSE :order_disputed END,
            updated_at = now()
        WHERE product_id = :product_id AND order_id = :order_id AND EXISTS (SELECT 1 FROM judged)
    )
    SELECT id FROM judged
    """
)


async def _judge_claims(
    session: AsyncSession, product_id: str, order_id: str, wallet: str | None
) -> None:
    """Flag the losing claims; those already evaluated leave the daily counts."""
    judged = await session.scalars(
        JUDGE_SQL,
        {
            "product_id": product_id,
            "order_id": order_id,
            "wallet": wallet,
            "unbound": CLAIM_UNBOUND,
            "disputed": CLAIM_DISPUTED,
            "order_unbound": UNBOUND,
            "order_disputed": DISPUTED,
        },
    )
    await days.uncount(session, list(judged.all()))


async def complete_for_wallet(
    session: AsyncSession,
    product_id: str,
    order_id: str,
    wallet: str,
    amount_e18: int | None,
    currency: str | None,
    interaction_id: int,
) -> Completion:
    """The product's server (API key) says `wallet` completed `order_id` (interaction stored).

    The server is the shop: its wallet wins over any browser claim, which is flagged.
    """
    row = (
        await session.execute(
            COMPLETE_SQL,
            {
                "product_id": product_id,
                "order_id": order_id,
                "wallet": wallet,
                "amount": amount_e18,
                "currency": currency,
                "source": "api",
                "payload": None,
                "by_shop": BY_SHOP,
            },
        )
    ).first()
    if row is None:
        return Completion(await _refusal(session, product_id, order_id), None, None)
    await set_completed_interaction(session, product_id, order_id, interaction_id)
    await _judge_claims(session, product_id, order_id, row.wallet)
    return Completion(None, row.wallet, None if row.amount is None else int(row.amount))


async def _refusal(session: AsyncSession, product_id: str, order_id: str) -> str:
    status = await session.scalar(
        text("SELECT status FROM orders WHERE product_id = :p AND order_id = :o"),
        {"p": product_id, "o": order_id},
    )
    if status in ("refunded", "cancelled"):
        return ORDER_REFUNDED
    return ORDER_ALREADY_COMPLETED


async def complete_from_shop(
    session: AsyncSession,
    product_id: str,
    order_id: str,
    amount_e18: int | None,
    currency: str | None,
    source: str,
    payload: dict[str, Any],
    *,
    wallet: str | None = None,
    tokens: Collection[str] = (),
) -> Completion:
    """A signed shop webhook says `order_id` is paid; decide whose it is.

    `wallet` (a custom shop naming the buyer) wins; else a wallet the shop's
    server already named; else the first claim carrying one of `tokens`. The
    other claims are flagged. flag is set when the order was already completed
    or refunded (nothing to do).
    """
    row = (
        await session.execute(
            COMPLETE_SQL,
            {
                "product_id": product_id,
                "order_id": order_id,
                "wallet": wallet,
                "amount": amount_e18,
                "currency": currency,
                "source": source,
                "payload": json.dumps(values.storable(payload), separators=(",", ":")),
                "by_shop": BY_SHOP,
            },
        )
    ).first()
    if row is None:
        return Completion(await _refusal(session, product_id, order_id), None, None)
    decided = row.wallet
    if decided is None and tokens:
        claim = (
            await session.execute(
                BOUND_CLAIM_SQL,
                {"product_id": product_id, "order_id": order_id, "tokens": sorted(tokens)},
            )
        ).first()
        if claim is not None:
            decided = claim.wallet
            await session.execute(
                ATTRIBUTE_SQL,
                {
                    "product_id": product_id,
                    "order_id": order_id,
                    "wallet": decided,
                    "attribution": BY_ORDER_TOKEN,
                    "claim_id": claim.id,
                },
            )
    await _judge_claims(session, product_id, order_id, decided)
    return Completion(None, decided, None if row.amount is None else int(row.amount))


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
class Claim:
    """What a purchase.started claim led to."""

    flag: str | None = None  # why this claim is not paid (stored on the interaction)
    # the shop had completed the order without a wallet and this claim is bound: pay now
    link: StartedLink | None = None


@dataclass(frozen=True)
class StartedLink:
    """A bound claim met an order the shop had already completed without a wallet."""

    amount_e18: int | None
    currency: str | None


CLAIM_SQL = text(
    """
    INSERT INTO orders AS o (product_id, order_id, wallet, status, source,
                             started_interaction_id, attribution)
    VALUES (:product_id, :order_id, :trusted_wallet, 'started', 'api',
            :interaction_id, :attribution)
    ON CONFLICT (product_id, order_id) DO UPDATE
    SET wallet = CASE WHEN o.status = 'started' AND o.wallet IS NULL
                      THEN EXCLUDED.wallet ELSE o.wallet END,
        attribution = CASE WHEN o.status = 'started' AND o.wallet IS NULL
                           THEN EXCLUDED.attribution ELSE o.attribution END,
        started_interaction_id = CASE WHEN o.status = 'started' AND o.wallet IS NULL
                                      AND EXCLUDED.wallet IS NOT NULL
                                      THEN EXCLUDED.started_interaction_id
                                      ELSE o.started_interaction_id END,
        updated_at = now()
    RETURNING wallet, status, amount, currency, source, completed_payload,
              completed_interaction_id
    """
)


async def record_claim(
    session: AsyncSession,
    product_id: str,
    order_id: str,
    wallet: str,
    interaction_id: int,
    *,
    token: str | None,
    trusted_by: str | None,
) -> Claim:
    """Record a purchase.started claim (the interaction is stored) and judge it if it can be.

    `trusted_by` is set when the claim needs no order token: BY_SHOP for the
    product's API key, BY_ORDER_TOKEN for a valid custom order reference; the
    first such claim names the order's wallet. Other claims wait for the shop's
    webhook to carry their token. The upsert holds the order's row lock until
    commit, so two claims for a waiting order cannot both turn it into a reward.
    """
    row = (
        await session.execute(
            CLAIM_SQL,
            {
                "product_id": product_id,
                "order_id": order_id,
                "trusted_wallet": wallet if trusted_by else None,
                "interaction_id": interaction_id if trusted_by else None,
                "attribution": trusted_by,
            },
        )
    ).one()
    if row.status != "completed":
        return Claim()  # judged when the shop completes (or never, after a refund)
    if row.wallet is not None:
        if row.wallet == wallet:
            return Claim()
        await _mark_order(session, product_id, order_id, DISPUTED)
        return Claim(CLAIM_DISPUTED)
    bound = trusted_by or (
        BY_ORDER_TOKEN
        if token is not None and token in order_tokens(row.source, row.completed_payload)
        else None
    )
    if bound is None:
        await _mark_order(session, product_id, order_id, UNBOUND, keep=True)
        return Claim(CLAIM_UNBOUND)
    await session.execute(
        ATTRIBUTE_SQL,
        {
            "product_id": product_id,
            "order_id": order_id,
            "wallet": wallet,
            "attribution": bound,
            "claim_id": interaction_id,
        },
    )
    # earlier claims refused as unbound stay refused; naming another wallet makes them disputes
    await session.execute(
        text(
            "UPDATE orders SET attribution_flag = CASE WHEN EXISTS ("
            "  SELECT 1 FROM interactions WHERE product_id = :p AND order_id = :o"
            "  AND type = 'purchase.started' AND flag IS NOT NULL AND wallet <> :w)"
            " THEN :disputed END "
            "WHERE product_id = :p AND order_id = :o"
        ),
        {"p": product_id, "o": order_id, "w": wallet, "disputed": DISPUTED},
    )
    return Claim(link=StartedLink(None if row.amount is None else int(row.amount), row.currency))


async def _mark_order(
    session: AsyncSession, product_id: str, order_id: str, flag: str, *, keep: bool = False
) -> None:
    """Show on the order that a claim was refused (`keep`: do not overwrite a stronger flag)."""
    await session.execute(
        text(
            "UPDATE orders SET attribution_flag = CASE WHEN :keep "
            "THEN COALESCE(attribution_flag, :flag) ELSE :flag END, updated_at = now() "
            "WHERE product_id = :p AND order_id = :o"
        ),
        {"flag": flag, "keep": keep, "p": product_id, "o": order_id},
    )


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
    completed = row.completed_interaction_id
    # Not evaluated yet: it never will be. Evaluated (or being evaluated: this waits for
    # the evaluator's commit): its rewards exist now and are cancelled below.
    if await store.dequeue(session, [completed]):
        await session.execute(
            text("UPDATE interactions SET flag = :flag WHERE id = :id"),
            {"flag": ORDER_REFUNDED, "id": completed},
        )
    return await refunds.cancel_interaction_rewards(session, [completed], reason=f"order {status}")
