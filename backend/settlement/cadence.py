"""When a campaign's ready rewards settle: the one rule the builder and the wallet views share.

A reward is *ready* once it is `push_cooldown_s` past its `available_at` (lockups and the
refund window already sit in `available_at`). A campaign with `settle_max_wait_s = 0`
settles its ready rewards on every push cycle. Any other campaign's queue (its ready rows
of one token at one bank) waits until one of these holds, then settles whole:
- its oldest ready reward has waited `settle_max_wait_s` (the promise made to users);
- it holds at least `settle_min_rewards` ready rewards;
- its ready rewards add up to at least `settle_min_amount` base units.
The push is a fixed ~150k gas whatever it carries, so a thin campaign that waits for an
hour or a day pays that cost once for many rewards instead of once per reward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_

from backend.campaigns.models import Campaign, CampaignStatus
from backend.core.config import Settings
from backend.rewards.models import Reward

# Campaigns whose rows wait: deactivated, or never ran.
WAITING_CAMPAIGNS = (CampaignStatus.DEACTIVATED, CampaignStatus.DRAFT)


@dataclass(frozen=True)
class Timing:
    """The push job's clock: readiness delay and the time between cycles."""

    cooldown_s: int
    interval_s: int

    @classmethod
    def of(cls, settings: Settings) -> Timing:
        return cls(settings.push_cooldown_s, settings.push_interval_s)


def campaign_settles() -> ColumnElement[bool]:
    """WHERE clause on `campaigns`: its ready rows may settle at all.

    Only budget_exhausted campaigns the chain refused (`chain_refused`) wait: one the
    engine closed because its rewards reserved the whole cap still owes every reward it
    granted, and the chain budget covers them.
    """
    return and_(
        Campaign.status.not_in([str(s) for s in WAITING_CAMPAIGNS]),
        or_(
            Campaign.status != CampaignStatus.BUDGET_EXHAUSTED,
            Campaign.chain_refused.is_(False),
        ),
    )


def ready_cutoff(cooldown_s: int) -> ColumnElement[datetime]:
    """Rows with `available_at` at or before this are ready."""
    return func.now() - timedelta(seconds=cooldown_s)


def may_settle_early() -> ColumnElement[bool]:
    """On `campaigns`: a queue size or value may send its queue before the maximum wait."""
    return or_(Campaign.settle_min_rewards.is_not(None), Campaign.settle_min_amount.is_not(None))


def queue_is_due(cooldown_s: int) -> ColumnElement[bool]:
    """HAVING clause over one group of ready rows joined to their campaign (builder query)."""
    waited = func.min(Reward.available_at) <= ready_cutoff(cooldown_s) - func.make_interval(
        0, 0, 0, 0, 0, 0, Campaign.settle_max_wait_s
    )
    return or_(
        Campaign.settle_max_wait_s == 0,
        waited,
        and_(
            Campaign.settle_min_rewards.is_not(None),
            func.count(Reward.id) >= Campaign.settle_min_rewards,
        ),
        and_(
            Campaign.settle_min_amount.is_not(None),
            func.sum(Reward.amount) >= Campaign.settle_min_amount,
        ),
    )


def expected_by(
    *,
    available_at: datetime,
    oldest_available_at: datetime,
    now: datetime,
    max_wait_s: int,
    thresholds: bool,
    timing: Timing,
) -> datetime:
    """The latest a pending reward should be in a push, seen at `now` (a promise, not a guess).

    Its queue goes whole once its oldest reward (`oldest_available_at`, this one included)
    has waited `max_wait_s` past readiness, and every batch of a queue takes every ready
    row. So a ready reward goes when its queue is due. One not ready yet may miss a batch
    of the older rows and then waits its own `max_wait_s` as the oldest of the next queue:
    that happens when the queue is due before it is ready, or at any time when a queue
    size or value may send the older rows early. Then the next cycle (`interval_s`) runs.
    The answer moves only when the reward becomes ready or its queue changes, never with
    the clock (a stream of snapshots stays quiet); a time in the past means "overdue: the
    next cycle", which only a late or halted push job makes happen.
    """
    cooldown = timedelta(seconds=timing.cooldown_s)
    wait = timedelta(seconds=max_wait_s)
    ready = available_at + cooldown
    queue_due = min(oldest_available_at, available_at) + cooldown + wait
    if ready <= now or (queue_due >= ready and not thresholds):
        due = queue_due
    else:
        due = ready + wait
    return due + timedelta(seconds=timing.interval_s)
