"""Tables owned by the interactions domain: interactions, their evaluation queue, the daily
counts the analytics read, shop orders, webhook replay ids."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Amount, Base, Bytes32


class Interaction(Base):
    """A stored interaction. Partitioned by month of `received_at` (hence the two-column
    primary key; ids alone are unique too, from one sequence); months past the retention
    period are dropped (backend.interactions.partitions). Look a row up with its
    `received_at` where it is known, so that one partition is read."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    product_id: Mapped[str] = Bytes32(ForeignKey("products.id", ondelete="CASCADE"))
    wallet: Mapped[str] = Address()
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    # referral.referred only: the referrer claimed; an accepted claim is also a row of
    # referral_edges (backend.referrals.models), which outlives raw interactions
    referrer_wallet: Mapped[str | None] = Address()
    order_id: Mapped[str | None] = mapped_column(String(255))  # purchase.* only
    # why the interaction earns nothing (self_referral, referral_cycle, ...); null = valid
    flag: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))  # api_key | session | webhook | cli
    source_ref: Mapped[str | None] = mapped_column(String(100))  # key id, session id...
    client_ip: Mapped[str | None] = mapped_column(INET)
    analytics_session_id: Mapped[str | None] = mapped_column(String(100))
    analytics_client_id: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    received_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=text("now()"))

    __table_args__ = (
        # dedup: same (product, wallet, type, key) inside the product's window
        Index(
            "ix_interactions_dedup",
            "product_id",
            "wallet",
            "type",
            "dedup_key",
            "received_at",
            postgresql_where=text("dedup_key IS NOT NULL"),
        ),
        # rate limit and analytics: a wallet's recent interactions on a product
        Index("ix_interactions_product_wallet_received", "product_id", "wallet", "received_at"),
        Index("ix_interactions_product_type_received", "product_id", "type", "received_at"),
        Index(
            "ix_interactions_order",
            "product_id",
            "order_id",
            postgresql_where=text("order_id IS NOT NULL"),
        ),
        {"postgresql_partition_by": "RANGE (received_at)"},
    )


class EvaluationQueue(Base):
    """Stored interactions not yet evaluated: the request path adds a row with the interaction,
    the evaluator deletes it in the transaction that writes the interaction's rewards.

    A separate small table instead of a flag on `interactions`: marking a flag would rewrite
    every interaction (a new tuple and an entry in each of its indexes) and bloat the largest
    table; here the request adds one narrow row and the evaluator deletes it. No foreign keys
    either (each would cost the hot insert a lookup): a row whose interaction is gone is
    simply dropped by the evaluator.
    """

    __tablename__ = "evaluation_queue"

    interaction_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    product_id: Mapped[str] = Bytes32()
    # the interaction's own received_at, copied from the row as stored (never "now" of the
    # queueing): with the id it names the partition to read
    received_at: Mapped[datetime]
    queued_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        # a waiting request (Prefer: wait) evaluates its own product's queue, in order
        Index("ix_evaluation_queue_product", "product_id", "interaction_id"),
    )


class InteractionDay(Base):
    """Unflagged evaluated interactions per (product, UTC day of received_at, type).

    The campaign analytics read these instead of scanning a product's interactions. The
    evaluator adds its batch's counts in the transaction that takes the batch off the queue
    (backend.interactions.days), so a count is added exactly once; a claim flagged after
    its evaluation is taken off again where the flag is set (backend.interactions.orders).
    """

    __tablename__ = "interaction_days"

    product_id: Mapped[str] = Bytes32(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class Order(Base):
    """A shop order: linked to a wallet by the SDK's purchase.started, completed by webhook."""

    __tablename__ = "orders"

    product_id: Mapped[str] = Bytes32(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    wallet: Mapped[str | None] = Address()  # who bought: paid only once this is known
    status: Mapped[str] = mapped_column(String(16))  # started | completed | refunded | cancelled
    amount: Mapped[int | None] = mapped_column(Amount)  # in the campaign token's base units
    currency: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(32))  # shopify | woocommerce | custom | api
    # the purchase.started claim the order was attributed to (None: named by the shop)
    started_interaction_id: Mapped[int | None] = mapped_column(BigInteger)
    completed_interaction_id: Mapped[int | None] = mapped_column(BigInteger)
    completed_payload: Mapped[dict[str, Any] | None] = mapped_column()
    # how `wallet` was decided: shop (its signed webhook or API key named it) | order_token
    # (a browser claim carrying the order's token); None while no wallet is known
    attribution: Mapped[str | None] = mapped_column(String(16))
    # a claim was refused: disputed (it named another wallet) | unbound (no matching token)
    attribution_flag: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        Index(
            "ix_orders_unlinked",
            "product_id",
            "order_id",
            postgresql_where=text("wallet IS NULL"),
        ),
        # the refund_history fraud rule: a buyer's refunded orders on a product
        Index(
            "ix_orders_refunded_wallet",
            "product_id",
            "wallet",
            postgresql_where=text("status = 'refunded'"),
        ),
    )


class InboundWebhook(Base):
    """Deliveries already applied (by id header, or body hash), with the answer they got:
    a shop's retry gets that answer again instead of being applied twice."""

    __tablename__ = "inbound_webhooks"

    product_id: Mapped[str] = Bytes32(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    scheme: Mapped[str] = mapped_column(String(32), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    response: Mapped[dict[str, Any] | None] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
