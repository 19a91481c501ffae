"""Tables owned by the fraud domain: rules per product, their settings, interaction signals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Base, Bytes32, Timestamps

RULE_KINDS = (
    "shared_device",
    "shared_ip",
    "shared_passkey",
    "referral_velocity",
    "wallet_earnings",
    "min_purchase",
    "refund_history",
    "deny_list",
)
ACTIONS = ("hold", "reject")


class FraudRule(Timestamps, Base):
    """One rule of a product: when `kind` matches a reward, `action` it with `reason_code`."""

    __tablename__ = "fraud_rules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    product_id: Mapped[str] = Bytes32(ForeignKey("products.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))
    reason_code: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    __table_args__ = (
        CheckConstraint(
            "kind IN ('shared_device','shared_ip','shared_passkey','referral_velocity',"
            "'wallet_earnings','min_purchase','refund_history','deny_list')",
            name="kind_known",
        ),
        CheckConstraint("action IN ('hold','reject')", name="action_known"),
        Index("ix_fraud_rules_product_id", "product_id"),
    )


class FraudSettings(Timestamps, Base):
    """A product's review settings. No row: the defaults (backend.fraud.rules.DEFAULT_*),
    and the default rules apply until the product edits its rules for the first time."""

    __tablename__ = "fraud_settings"

    product_id: Mapped[str] = Bytes32(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    review_after_seconds: Mapped[int] = mapped_column(Integer)
    default_decision: Mapped[str] = mapped_column(String(8))  # approve | reject
    signal_retention_days: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("review_after_seconds > 0", name="review_after_positive"),
        CheckConstraint("default_decision IN ('approve','reject')", name="decision_known"),
        CheckConstraint("signal_retention_days > 0", name="retention_positive"),
    )


class InteractionSignal(Base):
    """What the request that stored an interaction looked like, as keyed hashes only
    (HMAC-SHA256 with the server secret, per product): nothing here can be read back.

    No foreign key (like evaluation_queue): the request path adds the row without a lookup,
    and rows past the product's retention are deleted by a job.
    """

    __tablename__ = "interaction_signals"

    interaction_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    product_id: Mapped[str] = Bytes32()
    wallet: Mapped[str] = Address()
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    user_agent_hash: Mapped[str | None] = mapped_column(String(64))
    device_hash: Mapped[str | None] = mapped_column(String(64))
    passkey_hash: Mapped[str | None] = mapped_column(String(64))
    link_age_s: Mapped[int | None] = mapped_column(Integer)  # referral link opened -> this
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        Index("ix_interaction_signals_product_wallet", "product_id", "wallet"),
        Index("ix_interaction_signals_created_at", "created_at"),
    )
