"""Tables owned by the rewards domain."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Amount, Base, Bytes32, Timestamps


class RewardStatus(enum.StrEnum):
    PENDING = "pending"
    BATCHED = "batched"
    PUSHED = "pushed"
    CANCELLED = "cancelled"
    HELD = "held"  # a fraud rule matched: never batched until a review approves it


class Reward(Timestamps, Base):
    """One recipient's share of one campaign reward for one interaction."""

    __tablename__ = "rewards"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # no foreign keys to products or interactions: the campaign implies the product, and
    # a reward outlives its raw interaction (migration 0008)
    product_id: Mapped[str] = Bytes32()
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    interaction_id: Mapped[int] = mapped_column(BigInteger)
    wallet: Mapped[str] = Address()
    level: Mapped[int] = mapped_column(SmallInteger)  # 0 = the user, 1..5 = referrer_n
    token: Mapped[str] = Address()
    amount: Mapped[int] = mapped_column(Amount)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    available_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("settlement_batches.id", ondelete="SET NULL")
    )
    tx_hash: Mapped[str | None] = Bytes32()
    pushed_at: Mapped[datetime | None]
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    refunded_after_settlement: Mapped[bool] = mapped_column(server_default=text("false"))
    # reason codes of the fraud rules that held it (kept after a review, as evidence)
    hold_reasons: Mapped[list[str] | None] = mapped_column(ARRAY(String(64)))

    __table_args__ = (
        # evaluating the same interaction twice can never create a second reward
        UniqueConstraint("interaction_id", "campaign_id", "level"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("level BETWEEN 0 AND 5", name="level_range"),
        CheckConstraint(
            "status IN ('pending','batched','pushed','cancelled','held')", name="status_known"
        ),
        CheckConstraint("status <> 'batched' OR batch_id IS NOT NULL", name="batched_has_batch"),
        # pending-by-token: what the batch builder scans
        Index(
            "ix_rewards_pending",
            "campaign_id",
            "token",
            "available_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # wallet status: the wallet views and the SDK's watchWalletStatus
        Index("ix_rewards_wallet_status", "wallet", "status", "token"),
        Index("ix_rewards_batch", "batch_id", postgresql_where=text("batch_id IS NOT NULL")),
        Index("ix_rewards_product_created", "product_id", "created_at"),
        # a campaign's analytics (backend.campaigns.analytics): its rows only, index-only
        Index(
            "ix_rewards_campaign_status",
            "campaign_id",
            "status",
            postgresql_include=["amount", "wallet", "level"],
        ),
        Index(
            "ix_rewards_campaign_fraud",
            "campaign_id",
            postgresql_where=text("hold_reasons IS NOT NULL OR cancelled_reason LIKE 'fraud%'"),
        ),
        # the review queue and the expiry of old holds
        Index(
            "ix_rewards_held",
            "product_id",
            "created_at",
            postgresql_where=text("status = 'held'"),
        ),
    )


class RewardTotal(Base):
    """A change to one campaign's rewards per status: count, amount, and rows ever held.

    Written by the trigger on `rewards` (migration 0019), never by application code:
    every statement that inserts, updates or deletes rewards appends its net change per
    (campaign, status), so no two transactions ever wait on the same totals row. A
    campaign's figures are the sums of its rows; backend.rewards.totals.compact folds
    them from time to time.
    """

    __tablename__ = "reward_totals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    n: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(Numeric(78, 0))  # a change: may be negative
    held: Mapped[int] = mapped_column(BigInteger)  # rows with hold_reasons (ever held)


class RewardFraudTotal(Base):
    """A change to one campaign's fraud breakdown per (UTC day of the reward, reason,
    outcome): rewards a rule held ("held", once per hold reason) or refused ("rejected").

    Written by the trigger on `rewards` (migration 0022), never by application code, as
    append-only change rows like `reward_totals`; backend.rewards.totals.compact folds them.
    """

    __tablename__ = "reward_fraud_totals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date]
    reason: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    n: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(Numeric(78, 0))  # a change: may be negative


class RewardWalletTotal(Base):
    """Per campaign and wallet: rewards not cancelled, and those of them paid as a referrer.

    Kept by the trigger on `rewards` (migration 0019). Only a reward that appears,
    disappears, or becomes cancelled changes a row, and every such writer (evaluation,
    refunds, fraud refusals) holds the campaign's row lock first, so these rows never see
    two writers at once; a status move between pending, batched and pushed leaves them
    alone.
    """

    __tablename__ = "reward_wallet_totals"  # fillfactor 70 (migration 0019): HOT updates

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    wallet: Mapped[str] = mapped_column(String(42), primary_key=True)
    live: Mapped[int] = mapped_column(BigInteger)
    referred: Mapped[int] = mapped_column(BigInteger)  # of which level >= 1
    referred_amount: Mapped[int] = mapped_column(Numeric(78, 0))
