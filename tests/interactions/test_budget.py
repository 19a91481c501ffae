"""A variable reward larger than what is left of the cap pays nothing, on every payment path.

Fixed rewards hide a missing budget re-check (the engine closes a campaign once
the remainder is below its fixed amount); a percentage of an order or a drawn
range amount does not, so these pin the re-check itself.
"""

from __future__ import annotations

import pytest

from backend.campaigns.snapshots import invalidate_product_campaigns
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, rows, send

CAP = 100 * E18
USED = 95 * E18  # 5 tokens left

PERCENT = {"reward_type": "percent_of_purchase", "reward_config": {"bps": 1_000}}  # 10%
# every draw is between 6 and 50 tokens: always more than the 5 left
RANGE = {
    "reward_type": "range",
    "reward_config": {"start": str(6 * E18), "end": str(50 * E18), "beta_bps": 20_000},
}


@pytest.mark.parametrize(
    ("reward", "trigger", "per_user"),
    [
        (PERCENT, "purchase.completed", None),  # the engine's guarded fast write
        (PERCENT, "purchase.completed", 100),  # the engine's locked path
        (RANGE, "webshop.open", None),  # the inline statement
        (RANGE, "webshop.open", 100),  # the locked path
        (RANGE, "purchase.completed", None),  # the fast write
    ],
    ids=["percent-fast", "percent-locked", "range-inline", "range-locked", "range-fast"],
)
async def test_variable_reward_above_the_remaining_cap__pays_nothing_and_cap_holds(
    client, db_session, reward, trigger, per_user
):
    product, key = await make_product(db_session)
    campaign = await make_campaign(
        db_session,
        product,
        trigger=trigger,
        budget_cap=CAP,
        used_budget=USED,
        max_rewards_per_user=per_user,
        **reward,
    )
    invalidate_product_campaigns(product.id)
    data = {"order_id": "big", "amount": "1000"} if trigger.startswith("purchase.") else None

    response = await send(client, key, product.id, wallet(), trigger, data)

    assert response.status_code == 202, response.text
    assert response.json()["rewards"] == []
    assert await rows(db_session, "SELECT id FROM rewards") == []
    [state] = await rows(
        db_session, "SELECT used_budget, budget_cap FROM campaigns WHERE id = :id", id=campaign.id
    )
    assert int(state.used_budget) == USED
    assert int(state.used_budget) <= int(state.budget_cap)


@pytest.mark.parametrize("per_user", [None, 100], ids=["fast", "locked"])
async def test_percent_reward_that_fits_the_remaining_cap__is_paid(client, db_session, per_user):
    """The other side of the re-check: a reward of exactly what is left is paid."""
    product, key = await make_product(db_session)
    await make_campaign(
        db_session,
        product,
        budget_cap=CAP,
        used_budget=USED,
        max_rewards_per_user=per_user,
        **PERCENT,
    )
    invalidate_product_campaigns(product.id)

    response = await send(
        client, key, product.id, wallet(), "purchase.completed", {"order_id": "o", "amount": "50"}
    )

    assert [int(r["amount"]) for r in response.json()["rewards"]] == [5 * E18]
    [state] = await rows(db_session, "SELECT used_budget FROM campaigns")
    assert int(state.used_budget) == CAP
