"""Request and response bodies of the campaigns part of the business API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from backend.campaigns.models import MAX_SETTLE_WAIT_S, Campaign
from backend.products.validation import AddressStr, AmountStr, Bps, Input, Name

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType
Trigger = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=64)
]
Depth = Annotated[int, msgspec.Meta(ge=0, le=5)]
PerUser = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Lockup = Annotated[int, msgspec.Meta(ge=0, le=365 * 86_400)]
MaxWait = Annotated[int, msgspec.Meta(ge=0, le=MAX_SETTLE_WAIT_S)]  # settlement cadence, seconds
MinRewards = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
BetaBps = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]  # beta = beta_bps / 10_000
Period = Literal["total", "daily", "weekly", "monthly"]
Moment = Annotated[datetime, msgspec.Meta(tz=True)]  # timezone required: no local-time guesses


class FixedReward(Input, tag="fixed", tag_field="type"):
    amount: AmountStr


class RangeReward(Input, tag="range", tag_field="type"):
    start: AmountStr
    end: AmountStr
    beta_bps: BetaBps = 20_000


class PercentReward(Input, tag="percent_of_purchase", tag_field="type"):
    bps: Annotated[int, msgspec.Meta(ge=1, le=10_000)]
    cap: AmountStr | None = None


class Tier(Input):
    min_order: AmountStr
    amount: AmountStr


class TieredReward(Input, tag="tiered", tag_field="type"):
    tiers: Annotated[list[Tier], msgspec.Meta(min_length=1, max_length=20)]


Reward = FixedReward | RangeReward | PercentReward | TieredReward


class CampaignCreate(Input):
    name: Name
    trigger: Trigger
    token: AddressStr
    reward: Reward
    user_bps: Bps
    decay_bps: Bps
    max_depth: Depth = 5
    requires_referral: bool = False
    max_rewards_per_user: PerUser | None = None
    budget_cap: AmountStr = "0"  # 0 = unlimited
    budget_period: Period = "total"
    period_cap: AmountStr = "0"  # 0 = none; only with a daily/weekly/monthly period
    lockup_seconds: Lockup = 0
    # when ready rewards settle (docs/shops.md "Settlement cadence"): 0 = every push cycle
    settle_max_wait_s: MaxWait = 0
    settle_min_rewards: MinRewards | None = None
    settle_min_amount: AmountStr | None = None
    starts_at: Moment | None = None
    ends_at: Moment | None = None


class CampaignUpdate(Input):
    """Fields to change; absent ones stay. `version` (optional) guards against lost edits."""

    version: int | Unset = UNSET
    name: Name | Unset = UNSET
    trigger: Trigger | Unset = UNSET
    token: AddressStr | Unset = UNSET
    reward: Reward | Unset = UNSET
    user_bps: Bps | Unset = UNSET
    decay_bps: Bps | Unset = UNSET
    max_depth: Depth | Unset = UNSET
    requires_referral: bool | Unset = UNSET
    max_rewards_per_user: PerUser | None | Unset = UNSET
    budget_cap: AmountStr | Unset = UNSET
    budget_period: Period | Unset = UNSET
    period_cap: AmountStr | Unset = UNSET
    lockup_seconds: Lockup | Unset = UNSET
    settle_max_wait_s: MaxWait | Unset = UNSET
    settle_min_rewards: MinRewards | None | Unset = UNSET
    settle_min_amount: AmountStr | None | Unset = UNSET
    starts_at: Moment | None | Unset = UNSET
    ends_at: Moment | None | Unset = UNSET


def reward_view(reward_type: str, config: dict[str, Any]) -> dict[str, Any]:
    """The stored reward_config as the API shows it (tiers use `min_order`)."""
    view: dict[str, Any] = {"type": reward_type, **config}
    if reward_type == "tiered":
        view["tiers"] = [
            {"min_order": tier["min_amount"], "amount": tier["amount"]} for tier in config["tiers"]
        ]
    return view


class CampaignRead(msgspec.Struct):
    id: str
    product_id: str
    chain_campaign_id: str
    name: str
    trigger: str
    token: str
    reward: dict[str, Any]
    user_bps: int
    decay_bps: int
    max_depth: int
    requires_referral: bool
    max_rewards_per_user: int | None
    budget_cap: str
    used_budget: str
    budget_period: str
    period_cap: str
    lockup_seconds: int
    settle_max_wait_s: int
    settle_min_rewards: int | None
    settle_min_amount: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    status: str
    status_reason: str | None
    budget_allocated_tx: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignRead:
        return cls(
            id=str(campaign.id),
            product_id=campaign.product_id,
            chain_campaign_id=campaign.chain_campaign_id,
            name=campaign.name,
            trigger=campaign.trigger,
            token=campaign.token,
            reward=reward_view(campaign.reward_type, campaign.reward_config),
            user_bps=campaign.user_bps,
            decay_bps=campaign.decay_bps,
            max_depth=campaign.max_depth,
            requires_referral=campaign.requires_referral,
            max_rewards_per_user=campaign.max_rewards_per_user,
            budget_cap=str(campaign.budget_cap),
            used_budget=str(campaign.used_budget),
            budget_period=campaign.budget_period,
            period_cap=str(campaign.period_cap),
            lockup_seconds=campaign.lockup_seconds,
            settle_max_wait_s=campaign.settle_max_wait_s,
            settle_min_rewards=campaign.settle_min_rewards,
            settle_min_amount=(
                None if campaign.settle_min_amount is None else str(campaign.settle_min_amount)
            ),
            starts_at=campaign.starts_at,
            ends_at=campaign.ends_at,
            status=campaign.status,
            status_reason=campaign.status_reason,
            budget_allocated_tx=campaign.budget_allocated_tx,
            version=campaign.version,
            created_at=campaign.created_at,
            updated_at=campaign.updated_at,
        )
