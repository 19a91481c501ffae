"""Campaign analytics: exact figures from interactions and reward rows, as JSON and CSV."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from backend.interactions.models import Interaction
from backend.products.models import Role
from backend.rewards.models import Reward
from tests.evaluator.helpers import drain
from tests.factories import TEST_TOKEN, make_campaign, make_product, wallet
from tests.products.fixtures import bearer

A, B, C, R1, R2 = (wallet() for _ in range(5))


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


@pytest.fixture
async def scenario(clean_db, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(
        db_session, product, starts_at=at(1, 0), budget_cap=1000, used_budget=600
    )
    other = await make_campaign(db_session, product)

    def interaction(kind: str, when: datetime, flag: str | None = None) -> Interaction:
        row = Interaction(
            product_id=product.id,
            wallet=A,
            type=kind,
            source="api_key",
            flag=flag,
            received_at=when,
        )
        db_session.add(row)
        return row

    interaction("webshop.open", at(2, 9))
    interaction("webshop.open", at(2, 23))
    p1 = interaction("purchase.completed", at(2))
    p2 = interaction("purchase.completed", at(3))
    p3 = interaction("purchase.completed", at(3, 1))
    interaction("referral.referred", at(3), flag="self_referral")
    interaction("purchase.completed", datetime(2025, 12, 31, tzinfo=UTC))  # before the window
    await db_session.flush()

    def reward(source: Interaction, who: str, level: int, amount: int, status: str, cid=None):
        db_session.add(
            Reward(
                product_id=product.id,
                campaign_id=cid or campaign.id,
                interaction_id=source.id,
                wallet=who,
                level=level,
                token=TEST_TOKEN,
                amount=amount,
                status=status,
            )
        )

    reward(p1, A, 0, 100, "pending")
    reward(p1, R1, 1, 50, "pushed")
    reward(p1, R2, 2, 25, "pushed")
    reward(p2, B, 0, 100, "pushed")
    reward(p2, R1, 1, 40, "pending")
    reward(p3, C, 0, 70, "cancelled")
    reward(p3, R2, 1, 999, "pushed", cid=other.id)  # another campaign: not counted
    await db_session.execute(
        text(
            "INSERT INTO evaluation_queue (interaction_id, product_id, received_at) "
            "SELECT id, product_id, received_at FROM interactions WHERE product_id = :p"
        ),
        {"p": product.id},
    )
    await db_session.commit()
    await drain(clean_db, products=[product.id])  # the daily counts come from the evaluator
    return campaign, key


async def test_analytics__json__counts_exactly(api, scenario):
    campaign, key = scenario

    response = await api.get(
        f"/api/business/campaigns/{campaign.id}/analytics", headers=bearer(key)
    )

    assert response.status_code == 200
    body = response.json()
    assert body["interactions"] == [
        {"day": "2026-01-02", "type": "purchase.completed", "count": 1},
        {"day": "2026-01-02", "type": "webshop.open", "count": 2},
        {"day": "2026-01-03", "type": "purchase.completed", "count": 2},
    ]
    assert body["rewards"]["pending"] == {"count": 2, "amount": "140"}
    assert body["rewards"]["pushed"] == {"count": 3, "amount": "175"}
    assert body["rewards"]["cancelled"] == {"count": 1, "amount": "70"}
    assert body["rewards"]["claimed"]["amount"] == "0"
    assert body["rewards"]["claimed"]["available"] is False
    assert body["budget"] == {"unlimited": False, "cap": "1000", "used": "600", "left": "400"}
    assert body["top_referrers"] == [
        {"wallet": R1, "rewards": 2, "amount": "90"},
        {"wallet": R2, "rewards": 1, "amount": "25"},
    ]
    assert body["rewarded_wallets"] == 4
    assert body["completed_purchases"] == 3
    assert body["rewards_total"] == "315"
    assert body["cost_per_acquisition"] == "105"


async def test_analytics__csv__same_figures(api, scenario):
    campaign, key = scenario

    response = await api.get(
        f"/api/business/campaigns/{campaign.id}/analytics",
        params={"format": "csv"},
        headers=bearer(key),
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == (
        "metric,day,type,wallet,count,amount\n"
        "interactions,2026-01-02,purchase.completed,,1,\n"
        "interactions,2026-01-02,webshop.open,,2,\n"
        "interactions,2026-01-03,purchase.completed,,2,\n"
        "rewards_pending,,,,2,140\n"
        "rewards_pushed,,,,3,175\n"
        "rewards_cancelled,,,,1,70\n"
        "rewards_claimed,,,,0,0\n"
        "rewards_held,,,,0,0\n"
        "budget_cap,,,,,1000\n"
        "budget_used,,,,,600\n"
        "budget_left,,,,,400\n"
        f"top_referrer,,,{R1},2,90\n"
        f"top_referrer,,,{R2},1,25\n"
        "rewarded_wallets,,,,4,\n"
        "completed_purchases,,,,3,\n"
        "rewards_total,,,,,315\n"
        "cost_per_acquisition,,,,,105\n"
        "fraud_held_share_bps,,,,0,\n"
    )


async def test_analytics__empty_uncapped_campaign__has_no_cost_per_acquisition(api, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product)
    body = (
        await api.get(f"/api/business/campaigns/{campaign.id}/analytics", headers=bearer(key))
    ).json()
    assert body["budget"] == {"unlimited": True, "cap": "0", "used": "0", "left": None}
    assert (body["cost_per_acquisition"], body["completed_purchases"]) == (None, 0)


async def test_analytics__any_role_reads__another_products_key_is_404(api, db_session, scenario):
    campaign, _ = scenario
    _, other_key = await make_product(db_session)
    response = await api.get(
        f"/api/business/campaigns/{campaign.id}/analytics", headers=bearer(other_key)
    )
    assert response.status_code == 404


async def test_analytics__unknown_format__is_422(api, db_session):
    product, key = await make_product(db_session, roles=Role.INTERACTION_MANAGER)
    campaign = await make_campaign(db_session, product)
    response = await api.get(
        f"/api/business/campaigns/{campaign.id}/analytics",
        params={"format": "xml"},
        headers=bearer(key),
    )
    assert response.status_code == 422
