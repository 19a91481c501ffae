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

Refunds give budget back here too (`cancel_interaction_rewards`, `give_back`). Which
campaigns are active per (product, trigger) is cached per process for the estimate
endpoint; every change of a campaign drops the entry (`invalidate_product_campaigns`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.models import CampaignStatus
from backend.core import pg_events
from backend.core.lru import LruCache
from backend.rewards import service as rewards
from backend.rewards.calculator import (
    BPS,
    RewardConfig,
    RewardConfigError,
    base_amount,
    parse_reward_config,
    range_seed,
    split_reward,
)

log = logging.getLogger(__name__)

CACHE_TTL_S = 5.0
AMOUNT_SCALE = 10**18  # orders.amount: currency amounts at 18 decimals (1 unit = 1 token)

_COLUMNS = """
    c.id, c.product_id, c.trigger, c.token, c.reward_type, c.reward_config, c.user_bps,
    c.decay_bps, c.max_depth, c.requires_referral, c.max_rewards_per_user, c.budget_cap,
    c.used_budget, c.budget_period, c.period_cap, c.lockup_seconds, c.starts_at, c.ends_at,
    c.status, c.status_reason, c.chain_refused, c.version,
    COALESCE(t.decimals, 18) AS token_decimals
"""
_FROM = """
    FROM campaigns AS c
    LEFT JOIN product_tokens AS t ON t.product_id = c.product_id AND t.address = c.token
"""
ACTIVE_SQL = text(
    f"SELECT {_COLUMNS} {_FROM} WHERE c.product_id = :product_id AND c.status = 'active'"
)
# the budget lock: campaigns in id order, so concurrent evaluations never deadlock
LOCK_SQL = text(f"SELECT {_COLUMNS} {_FROM} WHERE c.id = ANY(:ids) ORDER BY c.id FOR UPDATE OF c")


@dataclass(frozen=True)
class CampaignRule:
    """A campaign row as the engine reads it (amounts as int, config parsed)."""

    id: uuid.UUID
    product_id: str
    trigger: str
    token: str
    reward_type: str
    config: RewardConfig | None  # None: the stored reward_config is invalid, never pays
    user_bps: int
    decay_bps: int
    max_depth: int
    requires_referral: bool
    max_rewards_per_user: int | None
    budget_cap: int
    used_budget: int
    budget_period: str
    period_cap: int
    lockup_seconds: int
    starts_at: datetime | None
    ends_at: datetime | None
    status: str
    version: int
    token_decimals: int
    status_reason: str | None = None
    chain_refused: bool = False  # closed because the bank refused to pay, not by its cap

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> CampaignRule:
        try:
            config: RewardConfig | None = parse_reward_config(
                row["reward_type"], row["reward_config"] or {}
            )
        except RewardConfigError as exc:
            log.warning("campaign %s has an invalid reward_config: %s", row["id"], exc)
            config = None
        return cls(
            id=row["id"],
            product_id=row["product_id"],
            trigger=row["trigger"],
            token=row["token"],
            reward_type=row["reward_type"],
            config=config,
            user_bps=row["user_bps"],
            decay_bps=row["decay_bps"],
            max_depth=row["max_depth"],
            requires_referral=row["requires_referral"],
            max_rewards_per_user=row["max_rewards_per_user"],
            budget_cap=int(row["budget_cap"]),
            used_budget=int(row["used_budget"]),
            budget_period=row["budget_period"],
            period_cap=int(row["period_cap"]),
            lockup_seconds=row["lockup_seconds"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            status=row["status"],
            version=row["version"],
            token_decimals=row["token_decimals"],
            status_reason=row.get("status_reason"),
            chain_refused=bool(row.get("chain_refused")),
        )

    @property
    def smallest(self) -> int:
        return self.config.smallest_reward if self.config else 0

    @property
    def has_period_cap(self) -> bool:
        return self.period_cap > 0 and self.budget_period != "total"

    def in_window(self, now: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and not self.is_past(now)

    def is_past(self, now: datetime) -> bool:
        return self.ends_at is not None and self.ends_at <= now

    def order_amount(self, amount_e18: int | None) -> int | None:
        """An order amount (18-decimal currency units) in this campaign token's base units."""
        if amount_e18 is None:
            return None
        return amount_e18 * 10**self.token_decimals // AMOUNT_SCALE


@dataclass(frozen=True)
class EvaluationInput:
    """One stored interaction to evaluate (flagged interactions are never evaluated)."""

    interaction_id: int
    product_id: str
    wallet: str
    type: str
    referrers: tuple[str, ...] = ()  # nearest first, up to MAX_LEVELS
    order_amount_e18: int | None = None  # purchase amount, 18-decimal currency units


# --- active campaign cache ---------------------------------------------------------------

# Active campaigns per product (the estimate endpoint's view; evaluation always reads the
# locked rows). Dropped by the campaigns trigger's notification (`campaigns:<product>`).
_active_cache: LruCache[str, dict[str, list[CampaignRule]]] = LruCache(
    10_000, live_ttl_s=60.0, dead_ttl_s=CACHE_TTL_S
)


def _on_cache_change(payload: str) -> None:
    for product_id in pg_events.each(payload, "campaigns"):
        _active_cache.pop(product_id)


pg_events.on(pg_events.CACHE, _on_cache_change)
pg_events.on_gap(_active_cache.clear)


def invalidate_product_campaigns(product_id: str | None = None) -> None:
    """Forget the cached active campaigns of a product (all products when None).

    The business API calls this after creating, changing, activating or stopping
    a campaign so the next request sees it at once in this process; other processes
    hear the campaigns trigger's notification.
    """
    if product_id is None:
        _active_cache.clear()
    else:
        _active_cache.pop(product_id.lower())


async def active_campaigns(session: AsyncSession, product_id: str) -> dict[str, list[CampaignRule]]:
    """Active campaigns of a product by trigger (cached)."""
    cached = _active_cache.get(product_id)
    if cached is not None:
        return cached
    generation = _active_cache.generation
    rows = (await session.execute(ACTIVE_SQL, {"product_id": product_id})).mappings().all()
    by_trigger: dict[str, list[CampaignRule]] = {}
    for row in rows:
        rule = CampaignRule.from_row(row)
        by_trigger.setdefault(rule.trigger, []).append(rule)
    _active_cache.put(product_id, by_trigger, since=generation)
    return by_trigger


async def candidates(
    session: AsyncSession, product_id: str, interaction_type: str
) -> list[CampaignRule]:
    return (await active_campaigns(session, product_id)).get(interaction_type, [])


def max_depth_needed(rules: Iterable[CampaignRule]) -> int:
    return max((rule.max_depth for rule in rules), default=0)


# --- periods ------------------------------------------------------------------------------


def period_start(period: str, moment: datetime) -> datetime:
    """Start (UTC) of the budget period holding `moment`: day, ISO week or month."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return day


# --- evaluation (pure) -------------------------------------------------------------------


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


# --- refunds ------------------------------------------------------------------------------


async def cancel_interaction_rewards(
    session: AsyncSession, interaction_ids: Sequence[int], reason: str
) -> rewards.CancelOutcome:
    """Cancel the not-yet-settled rewards of these interactions and give their budget back.

    Rows already batched are flagged `refunded_after_settlement`: settlement cancels their
    batch's nonce on-chain and cancels them (budget back) unless the push wins the race;
    pushed rows keep the flag so the owner sees what was paid for a refund.
    """
    if not interaction_ids:
        return rewards.CancelOutcome([], [])
    campaign_ids = await rewards.campaigns_of_interactions(session, interaction_ids)
    if not campaign_ids:
        return rewards.CancelOutcome([], [])
    rules = await lock_campaigns(session, campaign_ids)
    outcome = await rewards.cancel_pending(session, interaction_ids, reason)
    await give_back(session, rules, outcome.cancelled)
    return outcome


async def cancel_campaign_rewards(
    session: AsyncSession, campaign_id: uuid.UUID, reason: str
) -> list[rewards.CancelledReward]:
    """A campaign that can never pay again (deactivated): its pending rows end cancelled."""
    rules = await lock_campaigns(session, [campaign_id])
    cancelled = await rewards.cancel_pending_of_campaign(session, campaign_id, reason)
    await give_back(session, rules, cancelled)
    return cancelled


async def lock_campaigns(
    session: AsyncSession, campaign_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CampaignRule]:
    """Row-lock campaigns (in id order, like every evaluation) and read their rules."""
    locked = (await session.execute(LOCK_SQL, {"ids": sorted(set(campaign_ids))})).mappings()
    return {row["id"]: CampaignRule.from_row(row) for row in locked.all()}


async def give_back(
    session: AsyncSession,
    rules: Mapping[uuid.UUID, CampaignRule],
    cancelled: Sequence[rewards.CancelledReward],
) -> None:
    """Return cancelled rows' budget, per-user counts and period usage to their campaigns.

    The caller holds the campaigns' locks (`lock_campaigns`). A campaign the engine closed
    for its cap reopens; one the chain refused stays closed until its owner acts (reopening
    it would only loop on refused pushes).
    """
    given_back: dict[uuid.UUID, int] = {}
    users: dict[tuple[uuid.UUID, str], list[int]] = {}
    periods: dict[tuple[uuid.UUID, datetime], int] = {}
    for row in cancelled:
        given_back[row.campaign_id] = given_back.get(row.campaign_id, 0) + row.amount
        rule = rules.get(row.campaign_id)
        if rule is not None and rule.budget_period != "total":
            key = (row.campaign_id, period_start(rule.budget_period, row.created_at))
            periods[key] = periods.get(key, 0) + row.amount
        if row.level == 0:
            counter = users.setdefault((row.campaign_id, row.wallet), [0, 0])
            counter[0] += 1
            counter[1] += row.amount
    now = datetime.now(UTC)
    for campaign_id, amount in given_back.items():
        rule = rules[campaign_id]
        reopen = (
            rule.status == CampaignStatus.BUDGET_EXHAUSTED
            and not rule.chain_refused
            and not rule.is_past(now)
        )
        await session.execute(
            text(
                "UPDATE campaigns SET used_budget = GREATEST(used_budget - :amount, 0), "
                "status = CASE WHEN :reopen THEN 'active' ELSE status END, updated_at = now() "
                "WHERE id = :id"
            ),
            {"amount": amount, "reopen": reopen, "id": campaign_id},
        )
        if reopen:
            invalidate_product_campaigns(rule.product_id)
    for (campaign_id, wallet), (count, amount) in users.items():
        await session.execute(
            text(
                "UPDATE campaign_user_rewards "
                "SET reward_count = GREATEST(reward_count - :count, 0),"
                " total_amount = GREATEST(total_amount - :amount, 0), updated_at = now() "
                "WHERE campaign_id = :id AND wallet = :wallet"
            ),
            {"count": count, "amount": amount, "id": campaign_id, "wallet": wallet},
        )
    for (campaign_id, start), amount in periods.items():
        await session.execute(
            text(
                "UPDATE campaign_period_usage SET used = GREATEST(used - :amount, 0) "
                "WHERE campaign_id = :id AND period_start = :start"
            ),
            {"amount": amount, "id": campaign_id, "start": start},
        )


# --- jobs and estimates -------------------------------------------------------------------


async def expire_campaigns(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Scheduler job: campaigns past ends_at become `expired`. Returns how many; commits."""
    rows = await session.execute(
        text(
            "UPDATE campaigns SET status = 'expired', status_reason = 'ends_at passed', "
            "chain_refused = false, updated_at = now() "
            "WHERE status IN ('active', 'paused', 'budget_exhausted') AND ends_at IS NOT NULL "
            "AND ends_at <= :now RETURNING product_id"
        ),
        {"now": now or datetime.now(UTC)},
    )
    products = [row.product_id for row in rows]
    await session.commit()
    for product_id in set(products):
        invalidate_product_campaigns(product_id)
    return len(products)


@dataclass(frozen=True)
class Estimate:
    campaign_id: uuid.UUID
    token: str
    reward_type: str
    eligible: bool
    reason: str | None
    base: int | None
    base_min: int | None
    base_max: int | None
    user: int | None
    referrers: tuple[tuple[str, int], ...]


def _expected_range(config: RewardConfig) -> int:
    # E[X] for Beta(2, b) = 2 / (2 + b); in integer bps math: 2*BPS / (2*BPS + beta_bps)
    width = config.end - config.start
    return config.start + width * 2 * BPS // (2 * BPS + config.beta_bps)


async def estimate(
    session: AsyncSession,
    product_id: str,
    wallet: str,
    interaction_type: str,
    referrers: tuple[str, ...],
    *,
    order_amount_e18: int | None = None,
    now: datetime | None = None,
) -> list[Estimate]:
    """What `wallet` would earn for `interaction_type` now, per campaign (no writes).

    A range reward is shown at its expected value, with its bounds.
    """
    now = now or datetime.now(UTC)
    out: list[Estimate] = []
    for rule in await candidates(session, product_id, interaction_type):
        reason = await _ineligible(session, rule, wallet, referrers, now)
        config = rule.config
        base = low = high = None
        if config is not None:
            order = rule.order_amount(order_amount_e18)
            if config.reward_type == "range":
                base, low, high = _expected_range(config), config.start, config.end
            elif config.reward_type == "fixed" or order is not None:
                base = base_amount(config, order_amount=order, seed=b"")
        if reason is None and base is not None and rule.budget_cap:
            if rule.used_budget + base > rule.budget_cap:
                reason = "budget_exhausted"
        user = None
        shares: tuple[tuple[str, int], ...] = ()
        if base is not None:
            chain = referrers[: rule.max_depth]
            parts = split_reward(base, rule.user_bps, rule.decay_bps, len(chain))
            user = parts[0] if not (rule.requires_referral and not chain) else 0
            shares = tuple(zip(chain, parts[1:], strict=True))
        out.append(
            Estimate(
                campaign_id=rule.id,
                token=rule.token,
                reward_type=rule.reward_type,
                eligible=reason is None and base is not None and base > 0,
                reason=reason if base is not None else reason or "needs_order_amount",
                base=base,
                base_min=low,
                base_max=high,
                user=user,
                referrers=shares,
            )
        )
    return out


async def _ineligible(
    session: AsyncSession,
    rule: CampaignRule,
    wallet: str,
    referrers: tuple[str, ...],
    now: datetime,
) -> str | None:
    if rule.config is None:
        return "invalid_config"
    if not rule.in_window(now):
        return "outside_window"
    if rule.requires_referral and not referrers[: rule.max_depth]:
        return "requires_referral"
    if rule.max_rewards_per_user:
        count = await session.scalar(
            text(
                "SELECT reward_count FROM campaign_user_rewards "
                "WHERE campaign_id = :id AND wallet = :wallet"
            ),
            {"id": rule.id, "wallet": wallet},
        )
        if (count or 0) >= rule.max_rewards_per_user:
            return "per_user_limit"
    return None
