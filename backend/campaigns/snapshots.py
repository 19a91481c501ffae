"""Campaign snapshots: a campaign as the engine reads it, and the active ones cached.

`CampaignRule` is one campaign row in plain values (what evaluation, refunds and
estimates decide with). Which campaigns are active per (product, trigger) is cached
per process for the estimate endpoint; every change of a campaign drops the entry
(`invalidate_product_campaigns`), and the campaigns trigger's notification drops it
in every other process.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core import pg_events
from backend.core.lru import LruCache
from backend.rewards.calculator import RewardConfig, RewardConfigError, parse_reward_config

log = logging.getLogger(__name__)

CACHE_TTL_S = 5.0
AMOUNT_SCALE = 10**18  # orders.amount: currency amounts at 18 decimals (1 unit = 1 token)

# Every query of campaign rules selects _COLUMNS; `CampaignRule.from_row` reads them by
# position, named by FIELDS (same order; tests/campaigns/test_snapshots.py holds the two
# together). By position because a SQLAlchemy RowMapping's item access cost ~10 us a row,
# and a batch of traffic spread over thousands of products reads a row per product.
# reward_config comes as its JSON text: parsed once per distinct text (_config).
_COLUMNS = """
    c.id, c.product_id, c.trigger, c.token, c.reward_type,
    CAST(c.reward_config AS text) AS reward_config, c.user_bps,
    c.decay_bps, c.max_depth, c.requires_referral, c.max_rewards_per_user, c.budget_cap,
    c.used_budget, c.budget_period, c.period_cap, c.lockup_seconds, c.starts_at, c.ends_at,
    c.status, c.status_reason, c.chain_refused, c.version,
    COALESCE(t.decimals, 18) AS token_decimals
"""
FIELDS = (
    "id",
    "product_id",
    "trigger",
    "token",
    "reward_type",
    "reward_config",
    "user_bps",
    "decay_bps",
    "max_depth",
    "requires_referral",
    "max_rewards_per_user",
    "budget_cap",
    "used_budget",
    "budget_period",
    "period_cap",
    "lockup_seconds",
    "starts_at",
    "ends_at",
    "status",
    "status_reason",
    "chain_refused",
    "version",
    "token_decimals",
)
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
    def from_row(cls, values: Sequence[Any]) -> CampaignRule:
        """A row of _COLUMNS (a plain Row or tuple, in FIELDS order)."""
        row = dict(zip(FIELDS, values, strict=True))
        try:
            config: RewardConfig | None = _config(row["reward_type"], row["reward_config"])
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
            status_reason=row["status_reason"],
            chain_refused=bool(row["chain_refused"]),
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


@functools.lru_cache(maxsize=4_096)
def _config(reward_type: str, raw: str | None) -> RewardConfig:
    """A stored reward_config (JSON text) parsed; the same text is parsed once per process
    (a RewardConfig is immutable, so the rules of many campaigns may share it)."""
    try:
        config = json.loads(raw) if raw else {}
    except ValueError as exc:  # e.g. a number over Python's 4,300 digits, set by hand
        raise RewardConfigError(f"reward_config cannot be read: {exc}") from exc
    if not isinstance(config, dict):
        raise RewardConfigError("reward_config must be an object")
    return parse_reward_config(reward_type, config)


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
    rows = (await session.execute(ACTIVE_SQL, {"product_id": product_id})).all()
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


def period_start(period: str, moment: datetime) -> datetime:
    """Start (UTC) of the budget period holding `moment`: day, ISO week or month."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return day
