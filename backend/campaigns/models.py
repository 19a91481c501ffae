"""Tables owned by the campaigns domain."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Amount, Base, Bytes32, Timestamps


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    BUDGET_EXHAUSTED = "budget_exhausted"
    EXPIRED = "expired"
    DEACTIVATED = "deactivated"


class RewardType(enum.StrEnum):
    FIXED = "fixed"
    RANGE = "range"
    PERCENT_OF_PURCHASE = "percent_of_purchase"
    TIERED = "tiered"


class BudgetPeriod(enum.StrEnum):
    TOTAL = "total"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


# The longest a campaign's queue may wait before it settles (a week): the API's bound and
# the table's check say the same number.
MAX_SETTLE_WAIT_S = 7 * 86_400


class Campaign(Timestamps, Base):
    __tablename__ = "campaigns"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    product_id: Mapped[str] = Bytes32(ForeignKey("products.id", ondelete="CASCADE"))
    # bytes32 used on-chain for this campaign's budget (derived from id, stored for lookups)
    chain_campaign_id: Mapped[str] = Bytes32(unique=True)
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(64))  # interaction type
    token: Mapped[str] = Address()
    reward_type: Mapped[str] = mapped_column(String(32))
    # type-specific parameters; amounts are decimal strings in base units
    reward_config: Mapped[dict[str, Any]] = mapped_column()
    user_bps: Mapped[int] = mapped_column(Integer)
    decay_bps: Mapped[int] = mapped_column(Integer)
    max_depth: Mapped[int] = mapped_column(Integer)
    requires_referral: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    max_rewards_per_user: Mapped[int | None] = mapped_column(Integer)  # null = unlimited
    budget_cap: Mapped[int] = mapped_column(Amount, server_default=text("0"))  # 0 = unlimited
    used_budget: Mapped[int] = mapped_column(Amount, server_default=text("0"))
    budget_period: Mapped[str] = mapped_column(String(16), server_default=text("'total'"))
    period_cap: Mapped[int] = mapped_column(Amount, server_default=text("0"))  # 0 = none
    lockup_seconds: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(24), server_default=text("'draft'"))
    status_reason: Mapped[str | None] = mapped_column(Text)  # for people; never parsed
    # The bank refused to pay (set by settlement with the status it caused): such a
    # campaign stays closed when a refund gives budget back, and its rows wait.
    # Cleared by any other status change.
    chain_refused: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # When its ready rewards settle (docs/shops.md "Settlement cadence"): 0 = every push cycle;
    # otherwise once the oldest has waited this long, or earlier when the queue reaches
    # `settle_min_rewards` rewards or `settle_min_amount` base units (null = no such trigger).
    settle_max_wait_s: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    settle_min_rewards: Mapped[int | None] = mapped_column(Integer)
    settle_min_amount: Mapped[int | None] = mapped_column(Amount)
    # on-chain budget allocated by activation (tx hash), so activation is idempotent
    budget_allocated_tx: Mapped[str | None] = Bytes32()
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # the status owners were last told about (webhooks): one event per transition
    notified_status: Mapped[str | None] = mapped_column(String(24))

    __table_args__ = (
        CheckConstraint("user_bps BETWEEN 0 AND 10000", name="user_bps_range"),
        CheckConstraint("decay_bps BETWEEN 0 AND 10000", name="decay_bps_range"),
        CheckConstraint("max_depth BETWEEN 0 AND 5", name="max_depth_range"),
        CheckConstraint("lockup_seconds >= 0", name="lockup_nonnegative"),
        CheckConstraint(
            "max_rewards_per_user IS NULL OR max_rewards_per_user > 0", name="per_user_positive"
        ),
        CheckConstraint("budget_cap = 0 OR used_budget <= budget_cap", name="budget_not_exceeded"),
        CheckConstraint(
            f"settle_max_wait_s BETWEEN 0 AND {MAX_SETTLE_WAIT_S}", name="settle_max_wait_range"
        ),
        CheckConstraint(
            "settle_min_rewards IS NULL OR settle_min_rewards > 0",
            name="settle_min_rewards_positive",
        ),
        CheckConstraint(
            "settle_min_amount IS NULL OR settle_min_amount > 0", name="settle_min_amount_positive"
        ),
        CheckConstraint(
            "status IN ('draft','active','paused','budget_exhausted','expired','deactivated')",
            name="status_known",
        ),
        CheckConstraint(
            "reward_type IN ('fixed','range','percent_of_purchase','tiered')", name="type_known"
        ),
        CheckConstraint(
            "budget_period IN ('total','daily','weekly','monthly')", name="period_known"
        ),
        CheckConstraint(
            "ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at", name="window_ordered"
        ),
        # the engine's lookup: active campaigns of a product for a trigger
        Index("ix_campaigns_product_trigger_status", "product_id", "trigger", "status"),
    )


class CampaignUserReward(Base):
    """Per (campaign, wallet) counter that enforces max_rewards_per_user under concurrency."""

    __tablename__ = "campaign_user_rewards"

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    wallet: Mapped[str] = Address(primary_key=True)
    reward_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    total_amount: Mapped[int] = mapped_column(Amount, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (CheckConstraint("reward_count >= 0", name="count_nonnegative"),)


class CampaignPeriodUsage(Base):
    """Budget used inside one budget period (day / ISO week / month) of a campaign."""

    __tablename__ = "campaign_period_usage"

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(Amount, server_default=text("0"))
