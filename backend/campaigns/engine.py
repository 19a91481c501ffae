"""Campaign evaluation: which campaigns an interaction triggers and the reward rows they pay.

Money rules kept here: a reward (all its levels) is charged to the campaign's
total and period budget at once or not at all, and per-user limits hold under
concurrency. Both come from one lock: every writer of a campaign's budget,
period usage or per-user counters first takes that campaign's row lock
(`SELECT ... FOR UPDATE`, campaigns in id order so two writers never deadlock),
decides with the fresh row in hand, then writes everything in one statement.
The single endpoint's one-statement path (`plan_inline`, run by
backend.interactions.inline) takes the same locks in the same order inside the
statement that stores the interaction.

Which campaigns match a (product, trigger) is cached per process for a few
seconds; the business API calls `invalidate_product_campaigns` when it changes
one. The cache only narrows the candidates: status, window, config and budget
are always re-read under the lock, so a stale cache can never pay wrongly.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.models import CHAIN_REFUSED
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
    c.status, c.status_reason, c.version, COALESCE(t.decimals, 18) AS token_decimals
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

USER_COUNTS_SQL = text(
    "SELECT campaign_id, wallet, reward_count FROM campaign_user_rewards "
    "WHERE campaign_id = ANY(:ids) AND wallet = ANY(:wallets)"
)
PERIOD_USAGE_SQL = text(
    "SELECT campaign_id, period_start, used FROM campaign_period_usage "
    "WHERE campaign_id = ANY(:ids) AND period_start = ANY(:starts)"
)

# One round trip for every write of an evaluation: budgets and statuses,
# per-user counters and period usage (as increments, safe under the lock), rows.
# Data-modifying CTEs always run to completion, whether or not they are read.
WRITE_SQL = text(
    """
    WITH budget AS (
        UPDATE campaigns AS c
        SET used_budget = v.used, status = v.status,
            status_reason = COALESCE(v.reason, c.status_reason), updated_at = now()
        FROM unnest(CAST(:c_ids AS uuid[]), CAST(:c_used AS numeric[]),
                    CAST(:c_status AS varchar[]), CAST(:c_reason AS text[]))
             AS v(id, used, status, reason)
        WHERE c.id = v.id
        RETURNING c.id
    ), users AS (
        INSERT INTO campaign_user_rewards AS u (campaign_id, wallet, reward_count, total_amount)
        SELECT * FROM unnest(CAST(:u_ids AS uuid[]), CAST(:u_wallets AS varchar[]),
                             CAST(:u_counts AS int[]), CAST(:u_amounts AS numeric[]))
        ON CONFLICT (campaign_id, wallet) DO UPDATE
        SET reward_count = u.reward_count + EXCLUDED.reward_count,
            total_amount = u.total_amount + EXCLUDED.total_amount, updated_at = now()
        RETURNING 1
    ), periods AS (
        INSERT INTO campaign_period_usage AS p (campaign_id, period_start, used)
        SELECT * FROM unnest(CAST(:p_ids AS uuid[]), CAST(:p_starts AS timestamptz[]),
                             CAST(:p_used AS numeric[]))
        ON CONFLICT (campaign_id, period_start) DO UPDATE SET used = p.used + EXCLUDED.used
        RETURNING 1
    )
    INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, level, token, amount,
                         available_at)
    SELECT v.product_id, v.campaign_id, v.interaction_id, v.wallet, v.level, v.token, v.amount,
           now() + make_interval(secs => v.lockup)
    FROM unnest(CAST(:r_products AS varchar[]), CAST(:r_campaigns AS uuid[]),
                CAST(:r_interactions AS bigint[]), CAST(:r_wallets AS varchar[]),
                CAST(:r_levels AS smallint[]), CAST(:r_tokens AS varchar[]),
                CAST(:r_amounts AS numeric[]), CAST(:r_lockups AS int[]))
         AS v(product_id, campaign_id, interaction_id, wallet, level, token, amount, lockup)
    ON CONFLICT (interaction_id, campaign_id, level) DO NOTHING
    RETURNING id, interaction_id, campaign_id, wallet, level, token, amount
    """
)


# The fast path for campaigns without per-user or period limits: no prior lock, one
# guarded increment per campaign (status, version, window and cap re-checked by the
# UPDATE itself, which waits for and re-reads a row another transaction changed), and
# reward rows only for the campaigns whose increment passed. The campaign row is
# then locked only from this statement to the commit.
FAST_WRITE_SQL = text(
    """
    WITH budget AS (
        UPDATE campaigns AS c
        SET used_budget = c.used_budget + v.total,
            status = CASE WHEN c.budget_cap > 0
                          AND c.budget_cap - (c.used_budget + v.total) < v.smallest
                          THEN 'budget_exhausted' ELSE c.status END,
            status_reason = CASE WHEN c.budget_cap > 0
                                 AND c.budget_cap - (c.used_budget + v.total) < v.smallest
                                 THEN 'budget fully used' ELSE c.status_reason END,
            updated_at = now()
        FROM unnest(CAST(:c_ids AS uuid[]), CAST(:c_totals AS numeric[]),
                    CAST(:c_versions AS int[]), CAST(:c_smallest AS numeric[]))
             AS v(id, total, version, smallest)
        WHERE c.id = v.id AND c.status = 'active' AND c.version = v.version
          AND (c.starts_at IS NULL OR c.starts_at <= now())
          AND (c.ends_at IS NULL OR c.ends_at > now())
          AND (c.budget_cap = 0 OR c.used_budget + v.total <= c.budget_cap)
        RETURNING c.id, c.status
    ), users AS (
        INSERT INTO campaign_user_rewards AS u (campaign_id, wallet, reward_count, total_amount)
        SELECT k.campaign_id, k.wallet, k.n, k.amount
        FROM unnest(CAST(:u_ids AS uuid[]), CAST(:u_wallets AS varchar[]),
                     CAST(:u_counts AS int[]), CAST(:u_amounts AS numeric[]))
             AS k(campaign_id, wallet, n, amount)
        WHERE k.campaign_id IN (SELECT id FROM budget)
        ON CONFLICT (campaign_id, wallet) DO UPDATE
        SET reward_count = u.reward_count + EXCLUDED.reward_count,
            total_amount = u.total_amount + EXCLUDED.total_amount, updated_at = now()
        RETURNING 1
    ), ins AS (
        INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, level, token,
                             amount, available_at)
        SELECT v.product_id, v.campaign_id, v.interaction_id, v.wallet, v.level, v.token,
               v.amount, now() + make_interval(secs => v.lockup)
        FROM unnest(CAST(:r_products AS varchar[]), CAST(:r_campaigns AS uuid[]),
                    CAST(:r_interactions AS bigint[]), CAST(:r_wallets AS varchar[]),
                    CAST(:r_levels AS smallint[]), CAST(:r_tokens AS varchar[]),
                    CAST(:r_amounts AS numeric[]), CAST(:r_lockups AS int[]))
             AS v(product_id, campaign_id, interaction_id, wallet, level, token, amount, lockup)
        WHERE v.campaign_id IN (SELECT id FROM budget)
        ON CONFLICT (interaction_id, campaign_id, level) DO NOTHING
        RETURNING id, interaction_id, campaign_id, wallet, level, token, amount
    )
    SELECT id, interaction_id, campaign_id, wallet, level, token, amount, NULL AS status
    FROM ins
    UNION ALL
    SELECT NULL, NULL, id, NULL, NULL, NULL, NULL, status FROM budget
    """
)


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
        )

    @property
    def chain_refused(self) -> bool:
        """Closed because the bank refused to pay, not by the engine's own cap."""
        return (self.status_reason or "").startswith(CHAIN_REFUSED)

    @property
    def smallest(self) -> int:
        return self.config.smallest_reward if self.config else 0

    @property
    def has_period_cap(self) -> bool:
        return self.period_cap > 0 and self.budget_period != "total"

    @property
    def unmetered(self) -> bool:
        """No per-user or period limit: the budget alone decides (the fast path)."""
        return (
            self.config is not None and not self.max_rewards_per_user and not (self.has_period_cap)
        )

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


@dataclass(frozen=True)
class RewardOut:
    id: int
    interaction_id: int
    campaign_id: uuid.UUID
    wallet: str
    level: int
    token: str
    amount: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "wallet": self.wallet,
            "level": self.level,
            "amount": str(self.amount),
            "token": self.token,
            "campaign_id": str(self.campaign_id),
        }


@dataclass
class _CampaignState:
    """What one evaluation changes on a locked campaign before it writes."""

    rule: CampaignRule
    used: int
    status: str
    reason: str | None = None
    changed: bool = False
    user_counts: dict[str, int] = field(default_factory=dict)
    period_used: dict[datetime, int] = field(default_factory=dict)


# --- active campaign cache ---------------------------------------------------------------

_active_cache: dict[str, tuple[float, dict[str, list[CampaignRule]]]] = {}


def invalidate_product_campaigns(product_id: str | None = None) -> None:
    """Forget the cached active campaigns of a product (all products when None).

    The business API calls this after creating, changing, activating or stopping
    a campaign so the next interaction sees it at once in this process.
    """
    if product_id is None:
        _active_cache.clear()
    else:
        _active_cache.pop(product_id.lower(), None)


async def active_campaigns(session: AsyncSession, product_id: str) -> dict[str, list[CampaignRule]]:
    """Active campaigns of a product by trigger (cached for CACHE_TTL_S)."""
    cached = _active_cache.get(product_id)
    now = time.monotonic()
    if cached is not None and now - cached[0] < CACHE_TTL_S:
        return cached[1]
    rows = (await session.execute(ACTIVE_SQL, {"product_id": product_id})).mappings().all()
    by_trigger: dict[str, list[CampaignRule]] = {}
    for row in rows:
        rule = CampaignRule.from_row(row)
        by_trigger.setdefault(rule.trigger, []).append(rule)
    _active_cache[product_id] = (now, by_trigger)
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


# --- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    item: EvaluationInput
    rule: CampaignRule
    parts: tuple[int, ...]  # level 0 = the user, 1.. = referrers
    recipients: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(self.parts)


def plan_reward(
    rule: CampaignRule, item: EvaluationInput, secret: str
) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
    """The split one campaign would pay for one interaction, or None if it pays nothing."""
    if rule.config is None:
        return None
    referrers = item.referrers[: rule.max_depth]
    if rule.requires_referral and not referrers:
        return None
    base = base_amount(
        rule.config,
        order_amount=rule.order_amount(item.order_amount_e18),
        seed=range_seed(secret, rule.id, item.interaction_id),
    )
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


async def evaluate(
    session: AsyncSession,
    items: Sequence[EvaluationInput],
    *,
    secret: str,
    now: datetime | None = None,
    skip: Mapping[int, set[uuid.UUID]] | None = None,
) -> dict[int, list[RewardOut]]:
    """Create the reward rows of freshly stored interactions, inside the caller's transaction.

    `skip` lists campaigns already rewarded per interaction (re-evaluation).
    Returns the new rows by interaction id. Call `commit` afterwards.
    """
    now = now or datetime.now(UTC)
    wanted: dict[int, list[CampaignRule]] = {}
    for item in items:
        already = (skip or {}).get(item.interaction_id, set())
        matched = [
            r for r in await candidates(session, item.product_id, item.type) if r.id not in already
        ]
        if matched:
            wanted[item.interaction_id] = matched
    if not wanted:
        return {}
    rules = {r.id: r for found in wanted.values() for r in found}
    fast = {cid for cid, r in rules.items() if r.unmetered and r.in_window(now)}
    result: dict[int, list[RewardOut]] = {}
    if fast:
        passed = await _evaluate_fast(session, items, wanted, fast, secret, result)
        fast &= passed
    slow = set(rules) - fast
    if slow:
        await _evaluate_locked(session, items, wanted, slow, secret, now, result)
    for found in result.values():
        found.sort(key=lambda r: (str(r.campaign_id), r.level))
    return result


@dataclass(frozen=True)
class InlinePlan:
    """What one interaction pays, for a statement that also stores the interaction.

    The statement locks `charged` (in id order, like LOCK_SQL) and pays only if
    every guard still holds; otherwise it stores nothing and the caller takes
    the locked path.
    """

    charged: dict[uuid.UUID, CampaignRule]
    params: dict[str, Any]


def needs_interaction_id(rules: Iterable[CampaignRule]) -> bool:
    """A range reward is drawn from a seed holding the interaction id."""
    return any(rule.config is not None and rule.config.reward_type == "range" for rule in rules)


def plan_inline(
    rules: Sequence[CampaignRule], item: EvaluationInput, secret: str, now: datetime
) -> InlinePlan | None:
    """Parameters for charging `rules` inside the statement storing `item`.

    None when a campaign needs the locked path (per-user or period limit, outside
    its window, invalid config): that path reads counters under the lock.
    """
    if not all(rule.unmetered and rule.in_window(now) for rule in rules):
        return None
    planned: list[_Planned] = []
    for rule in sorted(rules, key=lambda r: r.id):
        split = plan_reward(rule, item, secret)
        if split is not None:
            planned.append(_Planned(item, rule, *split))
    totals: dict[uuid.UUID, int] = {}
    charged: dict[uuid.UUID, CampaignRule] = {}
    for plan in planned:
        totals[plan.rule.id] = totals.get(plan.rule.id, 0) + plan.total
        charged[plan.rule.id] = plan.rule
    params = _write_params(planned, now=None)
    params.update(
        {
            "c_ids": list(charged),
            "c_totals": [totals[c] for c in charged],
            "c_versions": [rule.version for rule in charged.values()],
            "c_smallest": [max(rule.smallest, 1) for rule in charged.values()],
            "c_count": len(charged),
        }
    )
    return InlinePlan(charged, params)


def inline_outcome(plan: InlinePlan, rows: Iterable[Any]) -> list[RewardOut]:
    """Reward rows written by the inline statement; refreshes the cache on exhaustion."""
    found: dict[int, list[RewardOut]] = {}
    for row in rows:
        if row.id is not None:
            _collect(found, row)
        elif row.status is not None and row.status != "active":
            invalidate_product_campaigns(plan.charged[row.campaign_id].product_id)
    out = [r for rows_of in found.values() for r in rows_of]
    out.sort(key=lambda r: (str(r.campaign_id), r.level))
    return out


async def _evaluate_fast(
    session: AsyncSession,
    items: Sequence[EvaluationInput],
    wanted: Mapping[int, list[CampaignRule]],
    fast: set[uuid.UUID],
    secret: str,
    result: dict[int, list[RewardOut]],
) -> set[uuid.UUID]:
    """Charge unmetered campaigns with guarded increments; returns the campaigns that passed.

    A campaign whose guard fails (paused, edited, exhausted, outside its window)
    pays nothing here and is left to the locked path, which decides per item.
    """
    planned: list[_Planned] = []
    for item in items:
        for rule in wanted.get(item.interaction_id, []):
            if rule.id in fast:
                split = plan_reward(rule, item, secret)
                if split is not None:
                    planned.append(_Planned(item, rule, *split))
    if not planned:
        return fast
    totals: dict[uuid.UUID, int] = {}
    charged: dict[uuid.UUID, CampaignRule] = {}
    for plan in planned:
        totals[plan.rule.id] = totals.get(plan.rule.id, 0) + plan.total
        charged[plan.rule.id] = plan.rule
    params = _write_params(planned, now=None)
    params.update(
        {
            "c_ids": list(charged),
            "c_totals": [totals[c] for c in charged],
            "c_versions": [rule.version for rule in charged.values()],
            "c_smallest": [max(rule.smallest, 1) for rule in charged.values()],
        }
    )
    passed: set[uuid.UUID] = set()
    for row in await session.execute(FAST_WRITE_SQL, params):
        if row.id is None:
            passed.add(row.campaign_id)
            if row.status != "active":  # this charge used the budget up
                invalidate_product_campaigns(charged[row.campaign_id].product_id)
        else:
            _collect(result, row)
    # campaigns with nothing to charge "pass" trivially; failed ones go to the locked path
    return (fast - set(totals)) | passed


async def _evaluate_locked(
    session: AsyncSession,
    items: Sequence[EvaluationInput],
    wanted: Mapping[int, list[CampaignRule]],
    ids: set[uuid.UUID],
    secret: str,
    now: datetime,
    result: dict[int, list[RewardOut]],
) -> None:
    """Lock the campaigns, decide item by item with fresh rows, write in one statement."""
    rows = (await session.execute(LOCK_SQL, {"ids": sorted(ids)})).mappings().all()
    states = {row["id"]: _CampaignState(CampaignRule.from_row(row), 0, "") for row in rows}
    for state in states.values():
        state.used, state.status = state.rule.used_budget, state.rule.status
    stale = {s.rule.product_id for s in states.values() if s.rule.status != "active"}
    if len(states) < len(ids):  # a cached campaign is gone
        stale |= {item.product_id for item in items}

    await _load_limits(session, states, items, now)

    planned: list[_Planned] = []
    for item in items:
        for rule in sorted(wanted.get(item.interaction_id, []), key=lambda r: r.id):
            locked = states.get(rule.id)
            if locked is None or locked.rule.trigger != item.type:
                continue
            accepted = _decide(locked, item, secret, now)
            if accepted is not None:
                planned.append(accepted)

    changed = [s for s in states.values() if s.changed]
    if changed or planned:
        await _write(session, states, planned, now, result)
    for state in changed:
        if state.status != "active":
            stale.add(state.rule.product_id)
    for product_id in stale:
        invalidate_product_campaigns(product_id)


async def _load_limits(
    session: AsyncSession,
    states: dict[uuid.UUID, _CampaignState],
    items: Sequence[EvaluationInput],
    now: datetime,
) -> None:
    """Per-user counts and period usage, read under the campaign locks (only when limited)."""
    limited = [cid for cid, s in states.items() if s.rule.max_rewards_per_user]
    if limited:
        rows = await session.execute(
            USER_COUNTS_SQL, {"ids": limited, "wallets": list({i.wallet for i in items})}
        )
        for campaign_id, wallet, count in rows:
            states[campaign_id].user_counts[wallet] = count
    periodic = [cid for cid, s in states.items() if s.rule.has_period_cap]
    if periodic:
        starts = list({period_start(states[cid].rule.budget_period, now) for cid in periodic})
        rows = await session.execute(PERIOD_USAGE_SQL, {"ids": periodic, "starts": starts})
        for campaign_id, start, used in rows:
            states[campaign_id].period_used[start] = int(used)


def _decide(
    state: _CampaignState, item: EvaluationInput, secret: str, now: datetime
) -> _Planned | None:
    """Check status, window, per-user limit and budgets; on success charge the state."""
    rule = state.rule
    if state.status != "active":
        return None
    if rule.is_past(now):
        state.status, state.reason, state.changed = "expired", "ends_at passed", True
        return None
    if not rule.in_window(now):
        return None
    plan = plan_reward(rule, item, secret)
    if plan is None:
        return None
    parts, recipients = plan
    total = sum(parts)
    if rule.max_rewards_per_user and (
        state.user_counts.get(item.wallet, 0) >= rule.max_rewards_per_user
    ):
        return None
    start = period_start(rule.budget_period, now)
    if rule.has_period_cap and state.period_used.get(start, 0) + total > rule.period_cap:
        return None
    if rule.budget_cap and state.used + total > rule.budget_cap:
        state.status, state.changed = "budget_exhausted", True
        state.reason = "remaining budget cannot pay a reward"
        return None
    state.used += total
    state.changed = True
    state.user_counts[item.wallet] = state.user_counts.get(item.wallet, 0) + 1
    if rule.has_period_cap:
        state.period_used[start] = state.period_used.get(start, 0) + total
    smallest = rule.config.smallest_reward if rule.config else 0
    if rule.budget_cap and rule.budget_cap - state.used < max(smallest, 1):
        state.status, state.reason = "budget_exhausted", "budget fully used"
    return _Planned(item, rule, parts, recipients)


def _write_params(planned: Sequence[_Planned], now: datetime | None) -> dict[str, Any]:
    """Array parameters for per-user counters, period usage and reward rows."""
    users: dict[tuple[uuid.UUID, str], list[int]] = {}
    periods: dict[tuple[uuid.UUID, datetime], int] = {}
    reward_rows: list[tuple[Any, ...]] = []
    for plan in planned:
        rule = plan.rule
        counter = users.setdefault((rule.id, plan.item.wallet), [0, 0])
        counter[0] += 1
        counter[1] += plan.parts[0]
        if now is not None and rule.budget_period != "total":
            key = (rule.id, period_start(rule.budget_period, now))
            periods[key] = periods.get(key, 0) + plan.total
        for level, (amount, wallet) in enumerate(zip(plan.parts, plan.recipients, strict=True)):
            if amount > 0:  # a zero share is part of the exact split but not a row
                reward_rows.append(
                    (
                        rule.product_id,
                        rule.id,
                        plan.item.interaction_id,
                        wallet,
                        level,
                        rule.token,
                        amount,
                        rule.lockup_seconds,
                    )
                )
    columns = list(zip(*reward_rows, strict=True)) if reward_rows else [()] * 8
    return {
        "u_ids": [k[0] for k in users],
        "u_wallets": [k[1] for k in users],
        "u_counts": [v[0] for v in users.values()],
        "u_amounts": [v[1] for v in users.values()],
        "p_ids": [k[0] for k in periods],
        "p_starts": [k[1] for k in periods],
        "p_used": list(periods.values()),
        "r_products": list(columns[0]),
        "r_campaigns": list(columns[1]),
        "r_interactions": list(columns[2]),
        "r_wallets": list(columns[3]),
        "r_levels": list(columns[4]),
        "r_tokens": list(columns[5]),
        "r_amounts": list(columns[6]),
        "r_lockups": list(columns[7]),
    }


def _collect(result: dict[int, list[RewardOut]], row: Any) -> None:
    result.setdefault(row.interaction_id, []).append(
        RewardOut(
            id=row.id,
            interaction_id=row.interaction_id,
            campaign_id=row.campaign_id,
            wallet=row.wallet,
            level=row.level,
            token=row.token,
            amount=int(row.amount),
        )
    )


async def _write(
    session: AsyncSession,
    states: Mapping[uuid.UUID, _CampaignState],
    planned: Sequence[_Planned],
    now: datetime,
    result: dict[int, list[RewardOut]],
) -> None:
    changed = [s for s in states.values() if s.changed]
    params = _write_params(planned, now)
    params.update(
        {
            "c_ids": [s.rule.id for s in changed],
            "c_used": [s.used for s in changed],
            "c_status": [s.status for s in changed],
            "c_reason": [s.reason for s in changed],
        }
    )
    for row in await session.execute(WRITE_SQL, params):
        _collect(result, row)


async def reevaluate(
    session: AsyncSession, item: EvaluationInput, *, secret: str
) -> list[RewardOut]:
    """Evaluate an interaction again; campaigns that already rewarded it are skipped."""
    done = await rewards.campaigns_rewarded(session, item.interaction_id)
    found = await evaluate(session, [item], secret=secret, skip={item.interaction_id: done})
    return found.get(item.interaction_id, [])


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
            rule.status == "budget_exhausted" and not rule.chain_refused and not rule.is_past(now)
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
            "updated_at = now() "
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


def with_referrers(item: EvaluationInput, referrers: tuple[str, ...]) -> EvaluationInput:
    return replace(item, referrers=referrers)
