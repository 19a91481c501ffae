"""Outbound webhook event types, the envelope they travel in, and the retry schedule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, get_args

# Every event a product's endpoints can subscribe to; the payload of each is listed in
# docs/shops.md ("Outbound events"). A Literal, so the OpenAPI schema shows an enum.
EventType = Literal[
    "interaction.rewarded",
    "rewards.pushed",
    "rewards.claimed",
    "campaign.budget_low",
    "campaign.budget_exhausted",
    "campaign.expired",
    "settlement.failed",
    "rewards.approved",
    "rewards.rejected",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

INTERACTION_REWARDED: EventType = "interaction.rewarded"
REWARDS_PUSHED: EventType = "rewards.pushed"
REWARDS_CLAIMED: EventType = "rewards.claimed"
CAMPAIGN_BUDGET_LOW: EventType = "campaign.budget_low"
CAMPAIGN_BUDGET_EXHAUSTED: EventType = "campaign.budget_exhausted"
CAMPAIGN_EXPIRED: EventType = "campaign.expired"
SETTLEMENT_FAILED: EventType = "settlement.failed"
REWARDS_APPROVED: EventType = "rewards.approved"  # held rewards released by a review
REWARDS_REJECTED: EventType = "rewards.rejected"  # held rewards refused by a review

# Delay before each attempt: the first goes out at once, the eighth ~28 h after the first.
# After the last one fails the delivery is dead (visible and re-sendable in the API).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE)


def delay_after_failure(attempts: int) -> timedelta | None:
    """Wait before the next attempt after `attempts` failed ones; None when out of attempts."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_SCHEDULE[attempts]


def envelope(event_type: str, data: dict[str, Any], occurred_at: datetime) -> dict[str, Any]:
    """The body every receiver gets: {"type", "timestamp", "data"} (Standard Webhooks style).

    Amounts inside `data` are decimal strings, never JSON numbers (uint256 overflows them).
    """
    return {
        "type": event_type,
        "timestamp": occurred_at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
