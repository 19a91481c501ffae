"""The reward formula as pure integer functions: no I/O, no floats in the money path.

Everything here works in token base units (`int`) and basis points
(10_000 = 100%), so the split of a base reward creates and loses nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

BPS = 10_000
MAX_LEVELS = 5  # referrer levels below the user (rewards.level 1..5)
RANGE_SCALE = 10**18  # fixed-point scale of the Beta draw: X in [0, 1] as an integer
DEFAULT_BETA_BPS = 20_000  # beta = 2.0: a symmetric Beta(2, 2) when a range sets none
UINT256_MAX = 2**256 - 1


class RewardConfigError(ValueError):
    """A campaign's reward_config does not fit its reward_type; the message names the key."""


@dataclass(frozen=True)
class Tier:
    min_amount: int  # order amount (token base units) from which the tier applies
    amount: int  # base reward of the tier


@dataclass(frozen=True)
class RewardConfig:
    """A parsed reward_config; only the fields of its reward_type are set."""

    reward_type: str
    amount: int = 0  # fixed
    start: int = 0  # range
    end: int = 0  # range
    beta_bps: int = DEFAULT_BETA_BPS  # range: beta = beta_bps / 10_000
    bps: int = 0  # percent_of_purchase
    cap: int = 0  # percent_of_purchase, 0 = no cap
    tiers: tuple[Tier, ...] = ()  # tiered, ascending by min_amount

    @property
    def smallest_reward(self) -> int:
        """The least a single reward can cost (0 when it depends on the order)."""
        if self.reward_type == "fixed":
            return self.amount
        if self.reward_type == "range":
            return self.start
        if self.reward_type == "tiered" and self.tiers:
            return min(tier.amount for tier in self.tiers)
        return 0


def _amount(config: Mapping[str, Any], key: str, *, required: bool = True) -> int:
    value = config.get(key)
    if value is None:
        if required:
            raise RewardConfigError(f"reward_config.{key} is required")
        return 0
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RewardConfigError(f"reward_config.{key} must be a decimal string of base units")
    text = str(value)
    if not text.isdigit():
        raise RewardConfigError(f"reward_config.{key} must be a decimal string of base units")
    number = int(text)
    if number > UINT256_MAX:
        raise RewardConfigError(f"reward_config.{key} exceeds uint256")
    return number


def _bps(config: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RewardConfigError(f"reward_config.{key} must be an integer (basis points)")
    return value


def parse_reward_config(reward_type: str, config: Mapping[str, Any]) -> RewardConfig:
    """Validate and parse a campaign's reward_config (amounts are decimal strings).

    Shapes: fixed {"amount"}; range {"start", "end", "beta_bps"?};
    percent_of_purchase {"bps", "cap"?}; tiered {"tiers": [{"min_amount", "amount"}]}.
    """
    if reward_type == "fixed":
        amount = _amount(config, "amount")
        if amount <= 0:
            raise RewardConfigError("reward_config.amount must be positive")
        return RewardConfig(reward_type, amount=amount)
    if reward_type == "range":
        start, end = _amount(config, "start"), _amount(config, "end")
        beta_bps = _bps(config, "beta_bps", DEFAULT_BETA_BPS)
        if end < start:
            raise RewardConfigError("reward_config.end must be >= start")
        if end <= 0:
            raise RewardConfigError("reward_config.end must be positive")
        if not 1 <= beta_bps <= 1_000_000:
            raise RewardConfigError("reward_config.beta_bps must be in 1..1000000")
        return RewardConfig(reward_type, start=start, end=end, beta_bps=beta_bps)
    if reward_type == "percent_of_purchase":
        bps = _bps(config, "bps")
        if not 1 <= bps <= BPS:
            raise RewardConfigError("reward_config.bps must be in 1..10000")
        return RewardConfig(reward_type, bps=bps, cap=_amount(config, "cap", required=False))
    if reward_type == "tiered":
        raw = config.get("tiers")
        if not isinstance(raw, list) or not raw:
            raise RewardConfigError("reward_config.tiers must be a non-empty list")
        tiers = []
        for index, item in enumerate(raw):
            if not isinstance(item, Mapping):
                raise RewardConfigError(f"reward_config.tiers[{index}] must be an object")
            tier = Tier(_amount(item, "min_amount"), _amount(item, "amount"))
            if tier.amount <= 0:
                raise RewardConfigError(f"reward_config.tiers[{index}].amount must be positive")
            tiers.append(tier)
        tiers.sort(key=lambda t: t.min_amount)
        if len({t.min_amount for t in tiers}) != len(tiers):
            raise RewardConfigError("reward_config.tiers have duplicate min_amount")
        return RewardConfig(reward_type, tiers=tuple(tiers))
    raise RewardConfigError(f"unknown reward_type {reward_type!r}")


def split_reward(
    base: int, user_bps: int, decay_bps: int, referrers: int, *, requires_referral: bool = False
) -> list[int]:
    """Split `base` between the user (index 0) and `referrers` referrers (1..n).

    user = B*U//10000; each referrer but the last takes remaining*D//10000 of
    what is left, the last takes the rest. The parts always sum to `base`;
    with no referrer the user takes all, or nobody does when one is required.
    """
    if base < 0 or not 0 <= user_bps <= BPS or not 0 <= decay_bps <= BPS or referrers < 0:
        raise ValueError("base, user_bps, decay_bps and referrers must be in range")
    if referrers == 0:
        return [] if requires_referral else [base]
    user = base * user_bps // BPS
    remaining = base - user
    parts = [user]
    for _ in range(referrers - 1):
        share = remaining * decay_bps // BPS
        parts.append(share)
        remaining -= share
    parts.append(remaining)
    return parts


def range_seed(secret: str, campaign_id: Any, interaction_id: int) -> bytes:
    """The seed of one range draw: reproducible by the server, unpredictable to users."""
    message = f"{campaign_id}:{interaction_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def beta_fraction(seed: bytes, beta_bps: int) -> int:
    """X ~ Beta(2, beta_bps/10000) as an integer in [0, RANGE_SCALE], from `seed`.

    Beta(a, b) = Ga / (Ga + Gb) with Gamma(a, 1) and Gamma(b, 1) draws from a
    generator seeded by `seed`. The float quotient is turned into an exact
    fraction and floored at the 1e18 scale, so amounts stay integer math.
    """
    rng = random.Random(int.from_bytes(seed, "big"))
    first = rng.gammavariate(2.0, 1.0)
    second = rng.gammavariate(beta_bps / BPS, 1.0)
    total = first + second
    if total <= 0.0:  # both draws underflowed: only possible for tiny beta
        return RANGE_SCALE
    scaled = int(Fraction(first / total) * RANGE_SCALE)
    return min(max(scaled, 0), RANGE_SCALE)


def range_amount(start: int, end: int, beta_bps: int, seed: bytes) -> int:
    """B = start + (end - start) * X, floored; always inside [start, end]."""
    return start + (end - start) * beta_fraction(seed, beta_bps) // RANGE_SCALE


def tier_amount(tiers: Sequence[Tier], order_amount: int) -> int:
    """The reward of the highest tier the order reaches; 0 below the first tier."""
    chosen = 0
    for tier in tiers:
        if order_amount >= tier.min_amount:
            chosen = tier.amount
    return chosen


def percent_amount(order_amount: int, bps: int, cap: int = 0) -> int:
    """B = order amount * bps // 10000, at most `cap` when one is set."""
    amount = order_amount * bps // BPS
    return min(amount, cap) if cap > 0 else amount


def base_amount(config: RewardConfig, *, order_amount: int | None, seed: bytes) -> int:
    """The base reward B of one interaction; 0 when nothing is earned."""
    if config.reward_type == "fixed":
        return config.amount
    if config.reward_type == "range":
        return range_amount(config.start, config.end, config.beta_bps, seed)
    if order_amount is None or order_amount <= 0:
        return 0
    if config.reward_type == "percent_of_purchase":
        return percent_amount(order_amount, config.bps, config.cap)
    return tier_amount(config.tiers, order_amount)


def beta_mean(beta_bps: int) -> float:
    """E[Beta(2, beta)] = 2 / (2 + beta); what the UI shows as the expected draw."""
    return 2.0 / (2.0 + beta_bps / BPS)
