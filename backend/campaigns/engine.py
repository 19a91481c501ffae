"""Campaign evaluation: which campaigns an interaction triggers and what they pay.

`evaluate` is the whole rule of paying, as a function of plain values: a batch of
stored interactions in arrival order, the campaigns' snapshots, each interaction's
referral chain and the per-user and period counters. It returns the reward rows and
one summed charge per campaign; backend.campaigns.charges reads those inputs under
the campaigns' row locks and writes the outcome, and backend.evaluation runs both
in one transaction per batch.

Money rules kept here: a reward (all its levels) is charged to the campaign's total
and period budget at once or not at all; per-user limits hold. They hold under
concurrency because every writer of a campaign's budget, period usage or per-user
counters first takes that campaign's row lock (campaigns in id order, so two writers
never deadlock) and decides with the fresh row in hand.

Around it, one module per seam: campaign snapshots and their cache (`snapshots`),
refunds giving budget back (`refunds`), what a wallet would earn (`estimates`),
expiry (`transitions.expire_campaigns`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from backend.campaigns.models import CampaignStatus
from backend.campaigns.snapshots import CampaignRule, period_start
from backend.rewards.calculator import base_amount, range_seed, split_reward


@dataclass(frozen=True)
class EvaluationInput:
    """One stored interaction to evaluate (flagged interactions are never evaluated)."""

    interaction_id: int
    product_id: str
    wallet: str
    type: str
    referrers: tuple[str, ...] = ()  # nearest first, up to MAX_LEVELS
    order_amount_e18: int | None = None  # purchase amount, 18-decimal currency units


@dataclass(frozen=True)
class Limits:
    """Counters read under the campaign locks for one batch (only limited campaigns need them)."""

    user_counts: Mapping[tuple[uuid.UUID, str], int] = field(default_factory=dict)
    period_used: Mapping[tuple[uuid.UUID, datetime], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Payout:
    """One reward row to write: one recipient's share of one campaign's reward."""

    interaction_id: int
    product_id: str
    campaign_id: uuid.UUID
    wallet: str
    level: int
    token: str
    amount: int
    lockup_seconds: int


@dataclass(frozen=True)
class CampaignChange:
    """What a batch does to one campaign row: charged (summed) and its status afterwards."""

    campaign_id: uuid.UUID
    product_id: str
    charged: int
    status: str
    reason: str | None  # None keeps the current status_reason


@dataclass
class Outcome:
    """Everything one batch pays: rows, campaign charges and counter increments."""

    payouts: list[Payout] = field(default_factory=list)
    campaigns: list[CampaignChange] = field(default_factory=list)
    users: dict[tuple[uuid.UUID, str], tuple[int, int]] = field(default_factory=dict)
    periods: dict[tuple[uuid.UUID, datetime], int] = field(default_factory=dict)

    def closed_products(self) -> set[str]:
        """Products with a campaign that stopped paying in this batch (caches to refresh)."""
        return {c.product_id for c in self.campaigns if c.status != CampaignStatus.ACTIVE}


@dataclass
class _CampaignState:
    """One campaign while a batch is decided: its snapshot and what the batch changed."""

    rule: CampaignRule
    used: int
    status: str
    past: bool  # ends_at passed: the first interaction it meets expires it
    open: bool  # inside its window
    reason: str | None = None
    changed: bool = False
    user_counts: dict[str, int] = field(default_factory=dict)
    period_used: dict[datetime, int] = field(default_factory=dict)
    period: datetime | None = None  # the current budget period's start


def plan_reward(
    rule: CampaignRule, item: EvaluationInput, secret: str
) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
    """The split one campaign would pay for one interaction, or None if it pays nothing."""
    return _plan(rule, item, item.referrers, secret)


def _plan(
    rule: CampaignRule, item: EvaluationInput, referrers: tuple[str, ...], secret: str
) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
    config = rule.config
    if config is None:
        return None
    referrers = referrers[: rule.max_depth]
    if rule.requires_referral and not referrers:
        return None
    seed = (
        range_seed(secret, rule.id, item.interaction_id) if config.reward_type == "range" else b""
    )
    base = base_amount(config, order_amount=rule.order_amount(item.order_amount_e18), seed=seed)
    if base <= 0:
        return None
    parts = split_reward(
        base,
        rule.user_bps,
        rule.decay_bps,
        len(referrers),
        requires_referral=rule.requires_referral,
    )
    return tuple(parts), (item.wallet, *referrers)


def evaluate(
    items: Sequence[EvaluationInput],
    snapshots: Mapping[uuid.UUID, CampaignRule],
    chains: Mapping[int, tuple[str, ...]],
    limits: Limits,
    *,
    secret: str,
    now: datetime,
    already: Mapping[int, Collection[uuid.UUID]] | None = None,
) -> Outcome:
    """What a batch of stored interactions pays, from plain values (no database).

    `items` in arrival order; `snapshots` the locked rows of the campaigns that may pay
    them; `chains` each interaction's referrers (nearest first); `limits` the per-user
    and period counters of the limited campaigns; `already` campaigns that rewarded an
    interaction before (never twice). Per campaign, a reward (all its levels) is charged
    whole or not at all, in arrival order, until the cap, the period cap or the
    per-user limit says no; the charges are summed into one change per campaign.
    """
    states = {
        cid: _CampaignState(
            rule,
            rule.used_budget,
            rule.status,
            past=rule.is_past(now),
            open=rule.in_window(now),
            period=period_start(rule.budget_period, now) if rule.budget_period != "total" else None,
        )
        for cid, rule in snapshots.items()
    }
    for (cid, wallet), count in limits.user_counts.items():
        if cid in states:
            states[cid].user_counts[wallet] = count
    for (cid, start), used in limits.period_used.items():
        if cid in states:
            states[cid].period_used[start] = used
    by_trigger: dict[tuple[str, str], list[_CampaignState]] = {}
    for state in sorted(states.values(), key=lambda s: s.rule.id):
        by_trigger.setdefault((state.rule.product_id, state.rule.trigger), []).append(state)
    outcome = Outcome()
    skip_all = already or {}
    for item in items:
        matching = by_trigger.get((item.product_id, item.type))
        if not matching:
            continue
        referrers = chains.get(item.interaction_id, item.referrers)
        skip = skip_all.get(item.interaction_id, ())
        for state in matching:
            if state.rule.id not in skip:
                _decide(state, item, referrers, secret, outcome)
    for state in states.values():
        if state.changed:
            outcome.campaigns.append(
                CampaignChange(
                    state.rule.id,
                    state.rule.product_id,
                    state.used - state.rule.used_budget,
                    state.status,
                    state.reason,
                )
            )
    return outcome


def _decide(
    state: _CampaignState,
    item: EvaluationInput,
    referrers: tuple[str, ...],
    secret: str,
    outcome: Outcome,
) -> None:
    """Check status, window, per-user limit and budgets; on success charge the state."""
    rule = state.rule
    if state.status != CampaignStatus.ACTIVE:
        return
    if state.past:
        state.status, state.reason, state.changed = CampaignStatus.EXPIRED, "ends_at passed", True
        return
    if not state.open:
        return
    plan = _plan(rule, item, referrers, secret)
    if plan is None:
        return
    parts, recipients = plan
    total = sum(parts)
    if rule.max_rewards_per_user and (
        state.user_counts.get(item.wallet, 0) >= rule.max_rewards_per_user
    ):
        return
    start = state.period
    if rule.has_period_cap and start is not None:
        if state.period_used.get(start, 0) + total > rule.period_cap:
            return
    if rule.budget_cap and state.used + total > rule.budget_cap:
        state.status, state.changed = CampaignStatus.BUDGET_EXHAUSTED, True
        state.reason = "remaining budget cannot pay a reward"
        return
    state.used += total
    state.changed = True
    if rule.max_rewards_per_user:
        state.user_counts[item.wallet] = state.user_counts.get(item.wallet, 0) + 1
    if rule.has_period_cap and start is not None:
        state.period_used[start] = state.period_used.get(start, 0) + total
    if rule.budget_cap and rule.budget_cap - state.used < max(rule.smallest, 1):
        state.status, state.reason = CampaignStatus.BUDGET_EXHAUSTED, "budget fully used"
    key = (rule.id, item.wallet)
    count, amount = outcome.users.get(key, (0, 0))
    outcome.users[key] = (count + 1, amount + parts[0])
    if start is not None:
        outcome.periods[(rule.id, start)] = outcome.periods.get((rule.id, start), 0) + total
    product_id, token, lockup = rule.product_id, rule.token, rule.lockup_seconds
    for level, amount in enumerate(parts):
        if amount > 0:  # a zero share is part of the exact split but not a row
            outcome.payouts.append(
                Payout(
                    item.interaction_id,
                    product_id,
                    rule.id,
                    recipients[level],
                    level,
                    token,
                    amount,
                    lockup,
                )
            )
