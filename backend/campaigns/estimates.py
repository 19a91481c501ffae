"""What a wallet would earn for an interaction now, per active campaign (no writes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.snapshots import CampaignRule, candidates
from backend.rewards.calculator import BPS, RewardConfig, base_amount, split_reward


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
