"""Reward inputs at their limits: the value on a limit is accepted, the next one refused (with
the key named). Mutation testing showed these bounds were only tested from far away, so `<=`
could become `<`, or one check drop out of a chain of `or`, unnoticed."""

from __future__ import annotations

import pytest

from backend.rewards.calculator import (
    RewardConfig,
    RewardConfigError,
    Tier,
    parse_reward_config,
    split_reward,
)

UINT256_MAX = 2**256 - 1


@pytest.mark.parametrize(
    ("reward_type", "config", "expected"),
    [
        ("fixed", {"amount": "1"}, RewardConfig("fixed", amount=1)),
        ("fixed", {"amount": str(UINT256_MAX)}, RewardConfig("fixed", amount=UINT256_MAX)),
        ("range", {"start": "0", "end": "1"}, RewardConfig("range", start=0, end=1)),
        ("range", {"start": "7", "end": "7"}, RewardConfig("range", start=7, end=7)),
        (
            "range",
            {"start": "0", "end": "9", "beta_bps": 1},
            RewardConfig("range", start=0, end=9, beta_bps=1),
        ),
        (
            "range",
            {"start": "0", "end": "9", "beta_bps": 1_000_000},
            RewardConfig("range", start=0, end=9, beta_bps=1_000_000),
        ),
        ("percent_of_purchase", {"bps": 1}, RewardConfig("percent_of_purchase", bps=1)),
        ("percent_of_purchase", {"bps": 10_000}, RewardConfig("percent_of_purchase", bps=10_000)),
        (
            "tiered",
            {"tiers": [{"min_amount": "0", "amount": "1"}]},
            RewardConfig("tiered", tiers=(Tier(0, 1),)),
        ),
    ],
)
def test_parse_config__value_on_its_limit__accepted(reward_type, config, expected):
    assert parse_reward_config(reward_type, config) == expected


@pytest.mark.parametrize(
    ("reward_type", "config", "key"),
    [
        ("fixed", {"amount": "0"}, "amount"),
        ("fixed", {"amount": str(UINT256_MAX + 1)}, "amount"),
        ("range", {"start": "0", "end": "0"}, "end"),
        ("range", {"start": "0", "end": "9", "beta_bps": 0}, "beta_bps"),
        ("range", {"start": "0", "end": "9", "beta_bps": 1_000_001}, "beta_bps"),
        ("percent_of_purchase", {"bps": 10_001}, "bps"),
        ("tiered", {"tiers": [{"min_amount": "0", "amount": "0"}]}, r"tiers\[0\]\.amount"),
    ],
)
def test_parse_config__value_one_past_its_limit__refused_naming_the_key(reward_type, config, key):
    with pytest.raises(RewardConfigError, match=key):
        parse_reward_config(reward_type, config)


@pytest.mark.parametrize(
    ("base", "user_bps", "decay_bps", "referrers"),
    [(-1, 0, 0, 1), (10, -1, 0, 1), (10, 10_001, 0, 1), (10, 0, -1, 1), (10, 0, 10_001, 1)]
    + [(10, 0, 0, -1)],
)
def test_split__any_one_argument_out_of_range__refused(base, user_bps, decay_bps, referrers):
    with pytest.raises(ValueError, match="in range"):
        split_reward(base, user_bps, decay_bps, referrers)


def test_split__every_argument_on_its_limit__splits():
    assert split_reward(0, 0, 0, 0) == [0]
    assert split_reward(10, 10_000, 10_000, 2) == [10, 0, 0]
