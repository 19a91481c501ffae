"""Stat cards never wrap a number mid-figure: amounts shortened for display, exact on hover."""

from __future__ import annotations

import re
from pathlib import Path

from backend.dashboard.web import stat_amount

TEMPLATES = Path(__file__).resolve().parents[2] / "backend" / "dashboard" / "templates"
E18 = 10**18


def test_stat_amount__large_amounts__shortened_never_rounded_up():
    assert stat_amount(12_345_678 * E18 + 9 * E18 // 10, 18, "RWD") == "12.3M RWD"
    assert stat_amount(99_999 * E18, 18, "RWD") == "99.9k RWD"
    assert stat_amount(10_000 * E18, 18, "RWD") == "10k RWD"
    assert stat_amount(3 * 10**12 * E18, 18) == "3T"


def test_stat_amount__small_amounts__as_before_up_to_four_decimals():
    assert stat_amount(15 * E18, 18, "RWD") == "15 RWD"
    assert stat_amount(86 * E18 + E18 // 3, 18, "RWD") == "86.3333 RWD"
    assert stat_amount(None, 18, "RWD") == "–"


def test_analytics_cards__every_amount_has_its_exact_value_as_title_and_never_wraps():
    html = (TEMPLATES / "analytics.html").read_text()
    card = r'<span class="value([^"]*)"([^>]*) data-metric="([\w-]+)">(.*?)</span>'
    cards = re.findall(card, html)
    amounts = [found for found in cards if "stat_amount" in found[3]]
    assert len(amounts) >= 4
    exact = r'title="\{\{ [\w.]+ \| amount\(fmt_dec, symbol\) \}\}"'
    for classes, attributes, metric, _ in amounts:
        assert "figure" in classes, metric
        assert re.search(exact, attributes), metric
    assert "| amount(fmt_dec, symbol, 4)" not in "".join(found[3] for found in cards)
    css = (TEMPLATES.parent / "static" / "dashboard.css").read_text()
    assert re.search(r"\.stat \.figure \{[^}]*white-space: nowrap", css)
    assert not re.search(r"\.stat \.value \{[^}]*overflow-wrap: anywhere", css)
