"""The reward formula: exact integer splits, reproducible range draws, tiers and percents."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.rewards.calculator import (
    RANGE_SCALE,
    RewardConfigError,
    Tier,
    base_amount,
    beta_fraction,
    beta_mean,
    parse_reward_config,
    percent_amount,
    range_amount,
    range_seed,
    split_reward,
    tier_amount,
)

E18 = 10**18
amounts = st.integers(min_value=0, max_value=2**256 - 1)
bps = st.integers(min_value=0, max_value=10_000)
depths = st.integers(min_value=0, max_value=5)


def test_split__design_example__pays_5_4_08_02():
    assert split_reward(10 * E18, 5_000, 8_000, 3) == [
        5 * E18,
        4 * E18,
        8 * E18 // 10,
        2 * E18 // 10,
    ]


def test_split__no_referrer__user_takes_all():
    assert split_reward(10 * E18, 5_000, 8_000, 0) == [10 * E18]


def test_split__no_referrer_but_required__pays_nobody():
    assert split_reward(10 * E18, 5_000, 8_000, 0, requires_referral=True) == []


def test_split__out_of_range_bps__raises():
    with pytest.raises(ValueError):
        split_reward(10, 10_001, 0, 1)


@given(base=amounts, user=bps, decay=bps, referrers=depths, required=st.booleans())
def test_split__any_input__parts_sum_exactly_to_base(base, user, decay, referrers, required):
    parts = split_reward(base, user, decay, referrers, requires_referral=required)
    if referrers == 0 and required:
        assert parts == []
    else:
        assert sum(parts) == base
        assert len(parts) == referrers + 1


@given(base=amounts, user=bps, decay=bps, referrers=depths)
def test_split__any_input__no_part_is_negative(base, user, decay, referrers):
    assert all(part >= 0 for part in split_reward(base, user, decay, referrers))


@given(base=amounts, user=bps, decay=bps, referrers=st.integers(min_value=1, max_value=5))
def test_split__deeper_levels__never_exceed_what_remains(base, user, decay, referrers):
    parts = split_reward(base, user, decay, referrers)
    remaining = base - parts[0]
    for level, part in enumerate(parts[1:], start=1):
        if level < referrers:
            assert part == remaining * decay // 10_000
        assert part <= remaining
        remaining -= part
    assert remaining == 0


@given(
    start=st.integers(min_value=0, max_value=10**30),
    width=st.integers(min_value=0, max_value=10**30),
    beta=st.integers(min_value=1, max_value=1_000_000),
    seed=st.binary(min_size=32, max_size=32),
)
def test_range__any_seed__stays_inside_start_end(start, width, beta, seed):
    amount = range_amount(start, start + width, beta, seed)
    assert start <= amount <= start + width


def test_range__same_seed__same_amount():
    seed = range_seed("secret", "campaign", 42)
    assert range_amount(E18, 100 * E18, 30_000, seed) == range_amount(E18, 100 * E18, 30_000, seed)
    assert range_seed("secret", "campaign", 42) != range_seed("other", "campaign", 42)
    assert range_seed("secret", "campaign", 42) != range_seed("secret", "campaign", 43)


@pytest.mark.parametrize("beta_bps", [5_000, 20_000, 50_000])
def test_range__many_seeds__sample_mean_matches_beta_mean(beta_bps):
    draws = [
        beta_fraction(range_seed("mean-check", "campaign", index), beta_bps) / RANGE_SCALE
        for index in range(4_000)
    ]
    # standard error of the mean of Beta(2, b) is < 0.25/sqrt(4000) = 0.004
    assert statistics.fmean(draws) == pytest.approx(beta_mean(beta_bps), abs=0.02)


def test_tiers__highest_reached_tier__wins():
    tiers = (Tier(0, 1), Tier(100, 5), Tier(1_000, 20))
    assert [tier_amount(tiers, amount) for amount in (0, 99, 100, 999, 5_000)] == [1, 1, 5, 5, 20]
    assert tier_amount((Tier(50, 3),), 10) == 0


def test_percent__cap__limits_the_amount():
    assert percent_amount(200 * E18, 250) == 5 * E18
    assert percent_amount(200 * E18, 250, cap=2 * E18) == 2 * E18


@given(order=amounts, rate=st.integers(min_value=1, max_value=10_000), cap=amounts)
def test_percent__any_order__never_above_order_or_cap(order, rate, cap):
    amount = percent_amount(order, rate, cap)
    assert 0 <= amount <= order
    if cap:
        assert amount <= cap


def test_base_amount__percent_without_order_amount__is_zero():
    config = parse_reward_config("percent_of_purchase", {"bps": 500})
    assert base_amount(config, order_amount=None, seed=b"") == 0
    assert base_amount(config, order_amount=100 * E18, seed=b"") == 5 * E18


def test_parse_config__each_type__reads_decimal_strings():
    assert parse_reward_config("fixed", {"amount": "10"}).amount == 10
    ranged = parse_reward_config("range", {"start": "1", "end": "9", "beta_bps": 30_000})
    assert (ranged.start, ranged.end, ranged.beta_bps) == (1, 9, 30_000)
    tiered = parse_reward_config(
        "tiered",
        {"tiers": [{"min_amount": "100", "amount": "5"}, {"min_amount": "0", "amount": "1"}]},
    )
    assert [t.min_amount for t in tiered.tiers] == [0, 100]
    assert parse_reward_config("percent_of_purchase", {"bps": 100, "cap": "7"}).cap == 7


@pytest.mark.parametrize(
    ("reward_type", "config", "key"),
    [
        ("fixed", {"amount": "1.5"}, "amount"),
        ("fixed", {}, "amount"),
        ("range", {"start": "9", "end": "1"}, "end"),
        ("percent_of_purchase", {"bps": 0}, "bps"),
        ("tiered", {"tiers": []}, "tiers"),
        ("lottery", {}, "reward_type"),
    ],
)
def test_parse_config__bad_values__name_the_key(reward_type, config, key):
    with pytest.raises(RewardConfigError, match=key):
        parse_reward_config(reward_type, config)


@settings(max_examples=50)
@given(seed=st.binary(min_size=32, max_size=32), beta=st.integers(min_value=1, max_value=10**6))
def test_beta_fraction__any_seed__is_inside_the_unit_scale(seed, beta):
    assert 0 <= beta_fraction(seed, beta) <= RANGE_SCALE


def test_base__tier_from_zero__an_order_of_zero_earns_nothing():
    config = parse_reward_config("tiered", {"tiers": [{"min_amount": "0", "amount": "5"}]})

    assert base_amount(config, order_amount=0, seed=b"") == 0
    assert base_amount(config, order_amount=1, seed=b"") == 5
