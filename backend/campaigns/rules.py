"""What a valid campaign is: cross-field checks and the stored column values.

The schemas already bound each field; these checks relate fields to each other
(start <= end, ends_at after starts_at, caps vs. periods) and convert decimal
strings to ints. The same function validates a new campaign and an edited one
(the edit merged over the current values), so both obey the same rules.
"""

from __future__ import annotations

from typing import Any

import msgspec

from backend.campaigns import schemas
from backend.campaigns.models import Campaign
from backend.products.validation import address, amount, invalid

# ProductBank packs a budget into 253 bits; a larger cap could never be allocated.
MAX_BUDGET = 2**253 - 1
ORDER_TRIGGER_PREFIX = "purchase."


def column_values(data: schemas.CampaignCreate) -> dict[str, Any]:
    """Checked column values of a campaign described by `data`."""
    reward_type, config = reward_config(data.reward)
    if reward_type in ("percent_of_purchase", "tiered") and not data.trigger.startswith(
        ORDER_TRIGGER_PREFIX
    ):
        raise invalid("trigger", f"a {reward_type} reward needs a purchase.* trigger")
    budget_cap = amount("budget_cap", data.budget_cap, maximum=MAX_BUDGET)
    period_cap = amount("period_cap", data.period_cap)
    if data.budget_period == "total" and period_cap:
        raise invalid("period_cap", "only applies with a daily, weekly or monthly budget_period")
    if data.budget_period != "total" and not period_cap:
        raise invalid("period_cap", f"must be positive for a {data.budget_period} budget_period")
    if budget_cap and period_cap > budget_cap:
        raise invalid("period_cap", "must not exceed budget_cap")
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        raise invalid("ends_at", "must be after starts_at")
    min_amount = None
    if data.settle_min_amount is not None:
        min_amount = amount("settle_min_amount", data.settle_min_amount)
        if min_amount == 0:
            raise invalid("settle_min_amount", "must be positive (omit it for no such trigger)")
    if data.settle_max_wait_s == 0 and (data.settle_min_rewards or min_amount):
        raise invalid(
            "settle_max_wait_s",
            "must be positive when a queue size or value is set: with 0 rewards settle "
            "every cycle and the thresholds would never matter",
        )
    return {
        "name": data.name,
        "trigger": data.trigger,
        "token": address("token", data.token),
        "reward_type": reward_type,
        "reward_config": config,
        "user_bps": data.user_bps,
        "decay_bps": data.decay_bps,
        "max_depth": data.max_depth,
        "requires_referral": data.requires_referral,
        "max_rewards_per_user": data.max_rewards_per_user,
        "budget_cap": budget_cap,
        "budget_period": data.budget_period,
        "period_cap": period_cap,
        "lockup_seconds": data.lockup_seconds,
        "settle_max_wait_s": data.settle_max_wait_s,
        "settle_min_rewards": data.settle_min_rewards,
        "settle_min_amount": min_amount,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }


def reward_config(reward: schemas.Reward) -> tuple[str, dict[str, Any]]:
    """(reward_type, reward_config) as stored; amounts stay decimal strings, normalised."""
    if isinstance(reward, schemas.FixedReward):
        value = amount("reward.amount", reward.amount)
        if value == 0:
            raise invalid("reward.amount", "must be positive")
        return "fixed", {"amount": str(value)}
    if isinstance(reward, schemas.RangeReward):
        start = amount("reward.start", reward.start)
        end = amount("reward.end", reward.end)
        if end < start:
            raise invalid("reward.end", "must be >= reward.start")
        if end == 0:
            raise invalid("reward.end", "must be positive")
        return "range", {"start": str(start), "end": str(end), "beta_bps": reward.beta_bps}
    if isinstance(reward, schemas.PercentReward):
        config: dict[str, Any] = {"bps": reward.bps}
        if reward.cap is not None:
            cap = amount("reward.cap", reward.cap)
            if cap == 0:
                raise invalid("reward.cap", "must be positive (omit it for no cap)")
            config["cap"] = str(cap)
        return "percent_of_purchase", config
    tiers: list[dict[str, str]] = []
    for index, tier in enumerate(reward.tiers):
        minimum = amount(f"reward.tiers[{index}].min_order", tier.min_order)
        value = amount(f"reward.tiers[{index}].amount", tier.amount)
        if value == 0:
            raise invalid(f"reward.tiers[{index}].amount", "must be positive")
        if tiers and minimum <= int(tiers[-1]["min_amount"]):
            raise invalid(f"reward.tiers[{index}].min_order", "tiers must ascend by min_order")
        tiers.append({"min_amount": str(minimum), "amount": str(value)})
    return "tiered", {"tiers": tiers}


def as_input(campaign: Campaign) -> schemas.CampaignCreate:
    """The current campaign in input form, so an edit can be merged and re-validated."""
    reward = msgspec.convert(
        schemas.reward_view(campaign.reward_type, campaign.reward_config), schemas.Reward
    )
    return schemas.CampaignCreate(
        name=campaign.name,
        trigger=campaign.trigger,
        token=campaign.token,
        reward=reward,
        user_bps=campaign.user_bps,
        decay_bps=campaign.decay_bps,
        max_depth=campaign.max_depth,
        requires_referral=campaign.requires_referral,
        max_rewards_per_user=campaign.max_rewards_per_user,
        budget_cap=str(campaign.budget_cap),
        budget_period=campaign.budget_period,  # type: ignore[arg-type]
        period_cap=str(campaign.period_cap),
        lockup_seconds=campaign.lockup_seconds,
        settle_max_wait_s=campaign.settle_max_wait_s,
        settle_min_rewards=campaign.settle_min_rewards,
        settle_min_amount=(
            None if campaign.settle_min_amount is None else str(campaign.settle_min_amount)
        ),
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
    )


def merged(campaign: Campaign, patch: schemas.CampaignUpdate) -> schemas.CampaignCreate:
    """The campaign as it would be after `patch` (unset fields keep their value)."""
    changes = {
        field: getattr(patch, field)
        for field in schemas.CampaignUpdate.__struct_fields__
        if field != "version" and getattr(patch, field) is not msgspec.UNSET
    }
    return msgspec.structs.replace(as_input(campaign), **changes)


def snapshot(campaign: Campaign) -> dict[str, Any]:
    """What the audit log keeps of a campaign: JSON-safe, amounts as strings."""
    return msgspec.to_builtins(schemas.CampaignRead.of(campaign))  # type: ignore[no-any-return]
