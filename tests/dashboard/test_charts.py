"""The SVG chart builders: escaped text, scaled axes, an empty state, and the burn-down maths."""

from __future__ import annotations

from datetime import date, timedelta

from backend.dashboard import charts, insights


def test_bars__labels_and_series_names_are_escaped():
    svg = charts.bars("c", "T <b>", "d", ["<script>"], [charts.Series("a&b", [3])])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "a&amp;b" in svg and "T &lt;b&gt;" in svg
    assert 'viewBox="0 0 640 260"' in svg and 'role="img"' in svg


def test_lines__skip_missing_points_and_empty_chart_says_so():
    svg = charts.lines("c", "t", "d", ["a", "b", "c"], [charts.Series("s", [None, 2, 4])])
    assert svg.count("<circle") == 2
    empty = charts.lines("e", "t", "d", ["a"], [charts.Series("s", [0])])
    assert "No data yet" in empty


def test_nice_ceiling():
    assert [charts.nice_ceiling(v) for v in (0, 3, 11, 26, 740)] == [1.0, 5.0, 20.0, 50.0, 1000.0]


def test_burn_down__projects_exhaustion_at_last_weeks_pace():
    class Capped:
        budget_cap = 1_000

    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(10)]
    series = insights.RewardSeries(days=days, earned=[n * 50 for n in range(1, 11)])

    burn = insights.burn_down(Capped(), series)  # type: ignore[arg-type]

    assert burn is not None and burn.remaining[-1] == 500 and burn.daily_rate == 50
    assert burn.exhausted_on == days[-1] + timedelta(days=10)
