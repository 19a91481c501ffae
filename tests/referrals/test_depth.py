"""A campaign pays as deep as its own max_depth, even next to a deeper one on the same trigger."""

from __future__ import annotations

import pytest

from backend.campaigns.snapshots import invalidate_product_campaigns
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, refer, rows, send

# (trigger, per-user limit): the three ways an interaction is paid
PATHS = [
    ("webshop.open", None),  # one inline statement stores and pays
    ("purchase.completed", None),  # stored, then the engine's guarded fast write
    ("purchase.completed", 100),  # a per-user limit: the engine's locked path
]


@pytest.mark.parametrize(("trigger", "per_user"), PATHS, ids=["inline", "fast", "locked"])
async def test_two_campaigns_depth_2_and_5__five_deep_chain__write_3_and_6_rows(
    client, db_session, trigger, per_user
):
    product, key = await make_product(db_session)
    people = [wallet() for _ in range(6)]  # people[0] referred people[1] ... people[5] acts
    for referrer, referred in zip(people, people[1:], strict=False):
        assert (await refer(client, key, product.id, referred, referrer)).json()["flag"] is None
    shallow = await make_campaign(
        db_session, product, trigger=trigger, max_depth=2, max_rewards_per_user=per_user
    )
    deep = await make_campaign(
        db_session, product, trigger=trigger, max_depth=5, max_rewards_per_user=per_user
    )
    invalidate_product_campaigns(product.id)
    data = {"order_id": "o-1"} if trigger.startswith("purchase.") else None

    response = await send(client, key, product.id, people[5], trigger, data)

    assert response.status_code == 202, response.text
    written = await rows(
        db_session,
        "SELECT campaign_id, level, wallet, amount FROM rewards ORDER BY campaign_id, level",
    )
    by_campaign = {
        campaign.id: [
            (r.level, r.wallet, int(r.amount)) for r in written if r.campaign_id == campaign.id
        ]
        for campaign in (shallow, deep)
    }
    # B = 10 tokens, user 50%, decay 80%: depth 2 -> 5, 4, 1 (the last referrer takes the rest)
    assert by_campaign[shallow.id] == [
        (0, people[5], 5 * E18),
        (1, people[4], 4 * E18),
        (2, people[3], 1 * E18),
    ]
    assert [(level, who) for level, who, _ in by_campaign[deep.id]] == [
        (0, people[5]),
        (1, people[4]),
        (2, people[3]),
        (3, people[2]),
        (4, people[1]),
        (5, people[0]),
    ]
    assert sum(amount for *_, amount in by_campaign[deep.id]) == 10 * E18
    assert len(response.json()["rewards"]) == 9
