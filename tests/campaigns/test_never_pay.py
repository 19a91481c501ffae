"""Campaigns that can never pay: no reward waits in pending forever without a reason."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, update

from backend.campaigns import refunds
from backend.campaigns.models import Campaign
from backend.interactions.models import Interaction
from backend.rewards.models import Reward
from tests.factories import make_campaign, wallet
from tests.products.fixtures import bearer, live_product

API = "/api/business/campaigns"
TOKENS = 10**18


@pytest.fixture
async def live(api, db_session, rpc_url, reward_token):
    """(product, key, bank, token): a product with a registered token and a bank."""
    product, key, _, bank = await live_product(api, db_session, rpc_url, reward_token)
    return product, key, bank, reward_token


async def _earn(session, campaign: Campaign, amounts: list[int]) -> list[int]:
    """Pending rows as the engine writes them, with the campaign's used_budget charged."""
    ids = []
    for amount in amounts:
        interaction_id = await session.scalar(
            insert(Interaction)
            .values(
                product_id=campaign.product_id,
                wallet=wallet(),
                type="purchase.completed",
                source="cli",
            )
            .returning(Interaction.id)
        )
        ids.append(
            await session.scalar(
                insert(Reward)
                .values(
                    product_id=campaign.product_id,
                    campaign_id=campaign.id,
                    interaction_id=interaction_id,
                    wallet=wallet(),
                    level=0,
                    token=campaign.token,
                    amount=amount,
                )
                .returning(Reward.id)
            )
        )
    await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(used_budget=Campaign.used_budget + sum(amounts))
    )
    await session.commit()
    return ids


async def _state(session, campaign: Campaign) -> tuple[str, int, str | None]:
    row = (
        await session.execute(
            select(Campaign.status, Campaign.used_budget, Campaign.status_reason).where(
                Campaign.id == campaign.id
            )
        )
    ).one()
    return row.status, int(row.used_budget), row.status_reason


async def test_deactivate__pending_rewards_cancelled_with_reason_and_budget_released(
    api, db_session, live
):
    product, key, _, token = live
    campaign = await make_campaign(
        db_session, product, token=token, status="draft", budget_cap=100 * TOKENS
    )
    assert (await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))).status_code == 200
    ids = await _earn(db_session, campaign, [2 * TOKENS, 3 * TOKENS])

    response = await api.post(f"{API}/{campaign.id}/deactivate", headers=bearer(key))

    assert response.status_code == 200 and response.json()["status"] == "deactivated"
    rows = (
        await db_session.execute(
            select(Reward.status, Reward.cancelled_reason).where(Reward.id.in_(ids))
        )
    ).all()
    assert {(r.status, r.cancelled_reason) for r in rows} == {("cancelled", "campaign_deactivated")}
    assert await _state(db_session, campaign) == ("deactivated", 0, None)


async def test_refund__campaign_the_chain_refused__stays_closed_with_its_reason(db_session, live):
    product, _, _, token = live
    reason = "bank: insufficient balance"  # the flag decides, never the wording
    campaign = await make_campaign(
        db_session,
        product,
        token=token,
        status="budget_exhausted",
        status_reason=reason,
        chain_refused=True,
    )
    ids = await _earn(db_session, campaign, [2 * TOKENS, 3 * TOKENS])
    interaction = await db_session.scalar(select(Reward.interaction_id).where(Reward.id == ids[0]))

    await refunds.cancel_interaction_rewards(db_session, [interaction], "order refunded")
    await db_session.commit()

    # budget given back, but the bank still cannot pay: reopening would loop on refusals
    assert await _state(db_session, campaign) == ("budget_exhausted", 3 * TOKENS, reason)


async def test_refund__campaign_closed_by_its_cap__reopens(db_session, live):
    product, _, _, token = live
    campaign = await make_campaign(
        db_session,
        product,
        token=token,
        status="budget_exhausted",
        status_reason="budget fully used",
        budget_cap=5 * TOKENS,
    )
    ids = await _earn(db_session, campaign, [2 * TOKENS, 3 * TOKENS])
    interaction = await db_session.scalar(select(Reward.interaction_id).where(Reward.id == ids[0]))

    await refunds.cancel_interaction_rewards(db_session, [interaction], "order refunded")
    await db_session.commit()

    status, used, _ = await _state(db_session, campaign)
    assert (status, used) == ("active", 3 * TOKENS)


async def test_activate__chain_refused_with_cap_fully_reserved__allowed_so_rewards_settle(
    api, db_session, live
):
    product, key, _, token = live
    campaign = await make_campaign(
        db_session, product, token=token, status="draft", budget_cap=5 * TOKENS
    )
    assert (await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))).status_code == 200
    await _earn(db_session, campaign, [5 * TOKENS])
    await db_session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(status="budget_exhausted", status_reason="bank: paused", chain_refused=True)
    )
    await db_session.commit()

    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    pending = await db_session.scalar(
        select(func.count())
        .select_from(Reward)
        .where(Reward.campaign_id == campaign.id, Reward.status == "pending")
    )
    assert pending == 1  # still owed, and now eligible for settlement again


async def test_activate__engine_closed_with_cap_fully_used__still_refused(api, db_session, live):
    product, key, _, token = live
    campaign = await make_campaign(
        db_session, product, token=token, status="draft", budget_cap=5 * TOKENS
    )
    assert (await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))).status_code == 200
    await _earn(db_session, campaign, [5 * TOKENS])
    await db_session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(status="budget_exhausted", status_reason="budget fully used")
    )
    await db_session.commit()

    response = await api.post(f"{API}/{campaign.id}/activate", headers=bearer(key))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
