"""Campaign rules read by position: every query of them returns FIELDS, in order."""

from __future__ import annotations

from sqlalchemy import text, update

from backend.campaigns import charges, refunds, snapshots
from backend.campaigns.models import Campaign
from tests.factories import make_campaign, make_product


async def test_every_rule_query_returns_the_fields_from_row_reads(db_session):
    product, _ = await make_product(db_session)
    campaign = await make_campaign(
        db_session,
        product,
        trigger="webshop.open",
        reward_type="range",
        reward_config={"start": "5", "end": "9", "beta_bps": 20_000},
        budget_cap=10**21,
        max_rewards_per_user=3,
    )
    product_id, campaign_id = product.id, campaign.id
    queries = {
        "active": (snapshots.ACTIVE_SQL, {"product_id": product_id}),
        "lock": (snapshots.LOCK_SQL, {"ids": [campaign_id]}),
        "evaluation": (
            charges.SNAPSHOTS_SQL,
            {"products": [product_id], "triggers": ["webshop.open"]},
        ),
    }
    for name, (sql, params) in queries.items():
        result = await db_session.execute(sql, params)
        assert tuple(result.keys()) == snapshots.FIELDS, name
        (rule,) = [snapshots.CampaignRule.from_row(row) for row in result]
        assert rule.id == campaign_id
        assert rule.product_id == product_id
        assert rule.trigger == "webshop.open"
        assert rule.config is not None
        assert (rule.config.start, rule.config.end, rule.config.beta_bps) == (5, 9, 20_000)
        assert rule.budget_cap == 10**21
        assert rule.max_rewards_per_user == 3
        assert rule.token_decimals == 18
        assert rule.chain_refused is False
        await db_session.rollback()


async def test_an_invalid_stored_config_reads_as_none_and_never_pays(db_session):
    product, _ = await make_product(db_session)
    good = await make_campaign(db_session, product)
    bad = await make_campaign(db_session, product)
    same = await make_campaign(db_session, product)  # the good one's text: parsed once
    good_id, bad_id, same_id = good.id, bad.id, same.id
    await db_session.execute(
        update(Campaign).where(Campaign.id == bad_id).values(reward_config=["not", "an", "object"])
    )
    await db_session.commit()
    rules = await refunds.lock_campaigns(db_session, [good_id, bad_id, same_id])
    assert rules[bad_id].config is None
    assert rules[bad_id].smallest == 0
    assert rules[good_id].config is not None
    assert rules[good_id].config.amount == 10 * 10**18
    assert rules[same_id].config is rules[good_id].config
    await db_session.rollback()


async def test_a_stored_number_too_long_to_read_is_an_invalid_config_not_an_error(db_session):
    """A config no API writes (a 5,000-digit JSON number, set in the database) must not stop
    the evaluator or a refund: Python refuses to read it, and the campaign never pays."""
    product, _ = await make_product(db_session)
    campaign = await make_campaign(db_session, product)
    campaign_id = campaign.id
    await db_session.execute(
        text(
            "UPDATE campaigns SET reward_config = "
            "CAST('{\"amount\": 1' || repeat('0', 5000) || '}' AS jsonb) WHERE id = :id"
        ),
        {"id": campaign_id},
    )
    await db_session.commit()
    rules = await refunds.lock_campaigns(db_session, [campaign_id])
    assert rules[campaign_id].config is None
    await db_session.rollback()
