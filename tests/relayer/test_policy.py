"""The pure sponsorship rules: dust, attribution, the gas split, the day window."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from backend.relayer import policy

A, B, C = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20


def test_split_by_minimum__zero_is_not_dust_and_the_minimum_itself_is_worth_it():
    worth, dust = policy.split_by_minimum({A: 0, B: 9, C: 10}, lambda token: 10)
    assert worth == [policy.Claimable(C, 10)] and dust == [policy.Claimable(B, 9)]


def test_attribute__the_product_that_pushed_most_pays__ties_to_the_lowest_id():
    owners = policy.attribute({A: {"0x02": 5, "0x01": 3}, B: {"0x02": 4, "0x01": 4}, C: {}})
    assert owners == {A: "0x02", B: "0x01"}


def test_split_gas__tokens_without_a_product_stay_in_the_global_budget():
    assert policy.split_gas(100, [A, B, C], {A: "p", C: "q"}) == {"p": 34, "q": 33}


@given(
    gas=st.integers(min_value=0, max_value=10**9),
    owners=st.lists(st.sampled_from(["p", "q", "r", None]), min_size=1, max_size=64),
)
def test_split_gas__never_charges_more_than_the_gas(gas: int, owners: list[str | None]):
    tokens = [f"0x{index:040x}" for index in range(len(owners))]
    mapping = {token: owner for token, owner in zip(tokens, owners, strict=True) if owner}
    shares = policy.split_gas(gas, tokens, mapping)
    assert sum(shares.values()) <= gas
    if len(mapping) == len(tokens):
        assert sum(shares.values()) == gas  # every token owned: nothing lost either


def test_over_budget__counts_what_was_used_today():
    assert policy.over_budget({"p": 10, "q": 10}, {"p": 95}, 100) == {"p"}


def test_day_window__is_the_utc_calendar_day():
    now = datetime(2026, 12, 6, 23, 59, 30, tzinfo=UTC)
    assert policy.day_start(now) == datetime(2026, 12, 6, tzinfo=UTC)
    assert policy.seconds_to_next_day(now) == 30


@given(
    total=st.integers(min_value=0, max_value=10**8),
    weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=130),
)
def test_share_gas__adds_up_to_the_batch_and_follows_the_reserved_gas(total, weights):
    shares = policy.share_gas(total, weights)
    assert sum(shares) == total and all(share >= 0 for share in shares)
    whole = sum(weights) or len(weights)
    for share, weight in zip(shares[:-1], weights[:-1], strict=True):
        assert share == total * (weight if sum(weights) else 1) // whole
    # the last takes the rounding only: never more than one unit per other request over
    last = weights[-1] if sum(weights) else 1
    assert total * last // whole <= shares[-1] <= total * last // whole + len(weights)


def test_share_gas__a_batch_of_two_equal_claims_halves_its_gas():
    assert policy.share_gas(95_547, [70_000, 70_000]) == [47_773, 47_774]
    assert policy.share_gas(10, [0, 0, 0]) == [3, 3, 4]
    assert policy.share_gas(10, []) == []
