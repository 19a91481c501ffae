"""The analytics block's context is a pure function of what was read: no database here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from backend.campaigns.analytics import (
    Budget,
    CampaignAnalytics,
    ClaimedTally,
    DayCount,
    Referrer,
    RewardTotals,
    Tally,
)
from backend.campaigns.models import Campaign
from backend.dashboard import analytics_view, insights
from backend.products.models import ProductToken

E18 = 10**18
DAYS = [date(2026, 12, 1) + timedelta(days=n) for n in range(3)]


def _report() -> CampaignAnalytics:
    return CampaignAnalytics(
        campaign_id="c",
        window_start=datetime(2026, 12, 1, tzinfo=UTC),
        window_end=None,
        interactions=[
            DayCount("2026-12-01", "webshop.open", 2),
            DayCount("2026-12-02", "purchase.completed", 1),
        ],
        rewards=RewardTotals(
            pending=Tally(1, str(5 * E18)),
            pushed=Tally(1, str(10 * E18)),
            cancelled=Tally(0, "0"),
            claimed=ClaimedTally(0, "0", True, ""),
        ),
        budget=Budget(False, str(100 * E18), str(15 * E18), str(85 * E18)),
        top_referrers=[Referrer("0x" + "ab" * 20, 2, str(6 * E18))],
        rewarded_wallets=2,
        completed_purchases=1,
        rewards_total=str(15 * E18),
        cost_per_acquisition=str(15 * E18),
    )


def test_context__numbers_and_five_charts_from_plain_values():
    campaign = Campaign(budget_cap=100 * E18)
    token = ProductToken(symbol="RWD", decimals=18)
    series = insights.RewardSeries(
        days=DAYS,
        earned=[5 * E18, 10 * E18, 15 * E18],
        queued=[5 * E18, 0, 5 * E18],
        pushed=[0, 10 * E18, 10 * E18],
        claimed=[0, 0, 0],
    )

    context = analytics_view.context(campaign, _report(), token, series, [(0, 2), (1, 1)])

    assert (context["total_interactions"], context["symbol"], context["decimals"]) == (3, "RWD", 18)
    assert context["burn"].remaining == [95 * E18, 90 * E18, 85 * E18]
    assert context["burn"].exhausted_on == DAYS[-1] + timedelta(days=17)  # 85 left at 5 a day
    figures = [str(chart) for chart in context["charts"]]
    assert len(figures) == 5
    assert all(
        f'id="chart-{key}"' in html
        for key, html in zip(
            ("interactions", "rewards", "budget", "referrers", "depth"), figures, strict=True
        )
    )
    assert "0xabab…abab" in figures[3]


def test_context__no_cap_and_no_token__spent_chart_in_base_units():
    series = insights.RewardSeries(
        days=DAYS, earned=[0, 1, 2], queued=[0, 1, 2], pushed=[0] * 3, claimed=[0] * 3
    )

    context = analytics_view.context(Campaign(budget_cap=0), _report(), None, series, [])

    assert context["burn"] is None and context["symbol"] == ""
    assert "Budget spent (base units)" in str(context["charts"][2])
