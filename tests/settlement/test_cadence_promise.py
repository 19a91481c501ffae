"""The wallet's "expected by" is a promise: no reward is pushed later than any time it showed.

A simulation of the documented cadence (docs/shops.md "Settlement cadence"): push cycles
every `interval_s` from an arbitrary phase; at each, the ready rows of the queue go whole
if its oldest ready row has waited `max_wait_s`, or (when set) the queue holds
`min_rewards` ready rows. Rewards arrive at arbitrary times; the view is read at every
arrival and cycle. Every reading must be at or after the cycle that pushed the reward.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.settlement.cadence import Timing, expected_by

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


@settings(max_examples=400, deadline=None)
@given(
    arrivals=st.lists(st.integers(0, 20_000), min_size=1, max_size=25),
    max_wait_s=st.sampled_from([0, 1, 60, 600, 3600, 7200]),
    cooldown_s=st.integers(0, 900),
    interval_s=st.integers(1, 1200),
    phase=st.integers(0, 1199),
    min_rewards=st.one_of(st.none(), st.integers(1, 6)),
)
def test_expected_by__never_earlier_than_the_push__whatever_the_arrivals_and_clock(
    arrivals: list[int],
    max_wait_s: int,
    cooldown_s: int,
    interval_s: int,
    phase: int,
    min_rewards: int | None,
) -> None:
    if max_wait_s == 0:
        min_rewards = None  # the API refuses thresholds without a max wait
    timing = Timing(cooldown_s, interval_s)
    arrivals = sorted(arrivals)
    pushed_at: dict[int, int] = {}
    promised: dict[int, list[datetime]] = {i: [] for i in range(len(arrivals))}

    def read_view(now: int) -> None:
        pending = [i for i in range(len(arrivals)) if arrivals[i] <= now and i not in pushed_at]
        if not pending:
            return
        oldest = min(arrivals[i] for i in pending)
        for i in pending:
            promised[i].append(
                expected_by(
                    available_at=_at(arrivals[i]),
                    oldest_available_at=_at(oldest),
                    now=_at(now),
                    max_wait_s=max_wait_s,
                    thresholds=min_rewards is not None,
                    timing=timing,
                )
            )

    cycle = phase % interval_s
    events = iter(arrivals)
    next_arrival = next(events, None)
    while len(pushed_at) < len(arrivals):
        while next_arrival is not None and next_arrival <= cycle:
            read_view(next_arrival)
            next_arrival = next(events, None)
        read_view(cycle)
        ready = [
            i
            for i in range(len(arrivals))
            if i not in pushed_at and arrivals[i] + cooldown_s <= cycle
        ]
        if ready:
            oldest_ready = min(arrivals[i] for i in ready)
            due = (
                max_wait_s == 0
                or oldest_ready + cooldown_s + max_wait_s <= cycle
                or (min_rewards is not None and len(ready) >= min_rewards)
            )
            if due:
                for i in ready:
                    pushed_at[i] = cycle
        cycle += interval_s

    for i, readings in promised.items():
        assert readings, "every reward was seen pending at least once (on arrival)"
        for promise in readings:
            assert _at(pushed_at[i]) <= promise, (i, arrivals[i], pushed_at[i], promise)
