"""Held and rejected amounts per rule, per day, and the share held: JSON, CSV, campaign page."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.rewards.models import Reward
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import bearer


def at(day: int) -> datetime:
    return datetime(2026, 1, day, 12, tzinfo=UTC)


async def _scenario(db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, starts_at=datetime(2026, 1, 1, tzinfo=UTC))
    rows = [
        # still held by two rules
        ("held", ["shared_device", "referral_velocity"], None, 10, at(2)),
        # held, then approved (kept its reasons), now pending
        ("pending", ["shared_device"], None, 20, at(2)),
        # held, then rejected by a reviewer
        ("cancelled", ["shared_device"], "fraud review: rejected (farm)", 30, at(3)),
        # refused at evaluation by a reject rule
        ("cancelled", None, "fraud: deny_list", 40, at(3)),
        # an honest reward and a refund: neither counts
        ("pending", None, None, 50, at(3)),
        ("cancelled", None, "order refunded", 60, at(3)),
    ]
    for index, (status, reasons, cancelled, amount, when) in enumerate(rows):
        db_session.add(
            Reward(
                product_id=product.id,
                campaign_id=campaign.id,
                interaction_id=1000 + index,
                wallet=wallet(),
                level=0,
                token=campaign.token,
                amount=amount,
                status=status,
                hold_reasons=reasons,
                cancelled_reason=cancelled,
                created_at=when,
            )
        )
    await db_session.commit()
    return campaign, key


async def test_analytics__fraud_per_rule_per_day_and_held_share(client, db_session):
    campaign, key = await _scenario(db_session)
    url = f"/api/business/campaigns/{campaign.id}/analytics"

    body = (await client.get(url, headers=bearer(key))).json()
    csv = (await client.get(url, params={"format": "csv"}, headers=bearer(key))).text

    assert body["rewards"]["held"] == {"count": 1, "amount": "10"}
    assert body["fraud"]["days"] == [
        {
            "day": "2026-01-02",
            "reason": "referral_velocity",
            "outcome": "held",
            "count": 1,
            "amount": "10",
        },
        {
            "day": "2026-01-02",
            "reason": "shared_device",
            "outcome": "held",
            "count": 2,
            "amount": "30",
        },
        {
            "day": "2026-01-03",
            "reason": "deny_list",
            "outcome": "rejected",
            "count": 1,
            "amount": "40",
        },
        {
            "day": "2026-01-03",
            "reason": "shared_device",
            "outcome": "held",
            "count": 1,
            "amount": "30",
        },
        {
            "day": "2026-01-03",
            "reason": "shared_device",
            "outcome": "rejected",
            "count": 1,
            "amount": "30",
        },
    ]
    assert body["fraud"]["held_share_bps"] == 5_000  # 3 of 6 rewards were held
    assert "rewards_held,,,,1,10\n" in csv
    assert "fraud_rejected,2026-01-03,deny_list,,1,40\n" in csv
    assert "fraud_held,2026-01-02,shared_device,,2,30\n" in csv
    assert csv.endswith("fraud_held_share_bps,,,,5000,\n")
