"""The campaign analytics block as a pure function of what was read: stats and charts.

`campaign_pages` reads the report, the token, the daily series and the levels; this
module turns them into the template's context, so it is tested without a database.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from backend.campaigns.analytics import CampaignAnalytics
from backend.campaigns.models import Campaign
from backend.dashboard import charts, insights
from backend.products.models import ProductToken


def context(
    campaign: Campaign,
    report: CampaignAnalytics,
    token: ProductToken | None,
    series: insights.RewardSeries,
    levels: list[tuple[int, int]],
) -> dict[str, Any]:
    """The analytics template's context: headline numbers and the five charts."""
    decimals = token.decimals if token else 0
    symbol = token.symbol if token else ""
    scale = 10**decimals

    def money(value: float) -> str:
        return charts.compact(value / scale)

    labels = [d.isoformat() for d in series.days]
    ticks = [d.strftime("%m-%d") for d in series.days]
    by_day: dict[str, dict[str, int]] = {}
    for row in report.interactions:
        by_day.setdefault(row.day, {})[row.type] = row.count
    types = sorted({row.type for row in report.interactions})
    interactions_chart = charts.bars(
        "chart-interactions",
        "Interactions per day",
        "Interactions per UTC day, stacked by type.",
        labels,
        [charts.Series(t, [by_day.get(day, {}).get(t, 0) for day in labels]) for t in types],
        axis_labels=ticks,
    )
    rewards_chart = charts.lines(
        "chart-rewards",
        f"Rewards over time ({symbol or 'base units'})",
        "Cumulative reward amounts at the end of each day: queued (earned, not yet "
        "on-chain), pushed on-chain, and claimed by users.",
        labels,
        [
            charts.Series("queued", series.queued),
            charts.Series("pushed", series.pushed),
            charts.Series("claimed", series.claimed),
        ],
        fmt=money,
        axis_labels=ticks,
    )
    burn = insights.burn_down(campaign, series)
    if burn is None:
        burn_chart = charts.lines(
            "chart-budget",
            f"Budget spent ({symbol or 'base units'})",
            "The campaign has no budget cap; cumulative amount committed per day.",
            labels,
            [charts.Series("spent", series.earned)],
            fmt=money,
            axis_labels=ticks,
        )
    else:
        future = _future_days(burn)
        last = burn.remaining[-1]
        projected: list[float | None] = [None] * (len(burn.remaining) - 1) + [float(last)]
        projected += [float(max(0, last - burn.daily_rate * (n + 1))) for n in range(len(future))]
        burn_chart = charts.lines(
            "chart-budget",
            f"Budget burn-down ({symbol or 'base units'})",
            "Budget left at the end of each day, and the projection at last week's pace "
            "until it runs out.",
            labels + [d.isoformat() for d in future],
            [
                charts.Series("remaining", [*burn.remaining, *([None] * len(future))]),
                charts.Series("projected", projected, dashed=True),
            ],
            fmt=money,
            axis_labels=ticks + [d.strftime("%m-%d") for d in future],
        )
    referrers_chart = charts.hbars(
        "chart-referrers",
        "Top referrers",
        "Referrers ranked by the number of rewards they earned in this campaign.",
        [
            (_short(r.wallet), float(r.rewards), f"{r.rewards} · {money(int(r.amount))}")
            for r in report.top_referrers
        ],
        empty="No referrer rewards yet",
    )
    depth_chart = charts.bars(
        "chart-depth",
        "Rewards by referral depth",
        "Rewards per level: 0 is the user who acted, n the n-th referrer up the chain.",
        [f"level {level}" for level, _ in levels],
        [charts.Series("rewards", [float(n) for _, n in levels])],
        axis_labels=[str(level) for level, _ in levels],
    )
    total_interactions = sum(row.count for row in report.interactions)
    return {
        "report": report,
        "token": token,
        "decimals": decimals,
        "symbol": symbol,
        "burn": burn,
        "total_interactions": total_interactions,
        "charts": [interactions_chart, rewards_chart, burn_chart, referrers_chart, depth_chart],
    }


def _future_days(burn: insights.BurnDown) -> list[date]:
    """Days after today the projection covers: until exhaustion, at most PROJECTION_DAYS."""
    if burn.exhausted_on is None or not burn.days or burn.daily_rate <= 0:
        return []
    today = burn.days[-1]
    span = min((burn.exhausted_on - today).days, PROJECTION_DAYS)
    return [today + timedelta(days=n) for n in range(1, span + 1)]


PROJECTION_DAYS = 30


def _short(wallet: str) -> str:
    return f"{wallet[:6]}…{wallet[-4:]}"
