"""Campaigns through the business API: create, validate, list, read, edit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.campaigns.ids import chain_campaign_id
from backend.products.models import Role
from backend.rewards.calculator import parse_reward_config
from tests.campaigns.helpers import campaign_body
from tests.factories import TEST_TOKEN, make_campaign, make_product, make_token
from tests.products.fixtures import bearer

API = "/api/business"


@pytest.fixture
async def shop(db_session):
    product, key = await make_product(db_session)
    await make_token(db_session, product)
    return product, key


REWARDS = [
    {"type": "fixed", "amount": "1000"},
    {"type": "range", "start": "10", "end": "100", "beta_bps": 50_000},
    {"type": "percent_of_purchase", "bps": 250, "cap": "5000"},
    {"type": "percent_of_purchase", "bps": 250},
    {
        "type": "tiered",
        "tiers": [{"min_order": "0", "amount": "5"}, {"min_order": "1000", "amount": "50"}],
    },
]


@pytest.mark.parametrize("reward", REWARDS, ids=lambda r: r["type"])
async def test_create__each_reward_type__is_a_draft_the_engine_can_read(
    api, db_session, shop, reward
):
    product, key = shop
    body = campaign_body(
        reward=reward,
        max_depth=3,
        requires_referral=True,
        max_rewards_per_user=2,
        budget_cap="1000000000000000000000",
        budget_period="daily",
        period_cap="1000",
        lockup_seconds=3600,
        starts_at="2030-01-01T00:00:00Z",
        ends_at="2030-02-01T00:00:00+00:00",
    )

    response = await api.post(
        f"{API}/products/{product.id}/campaigns", json=body, headers=bearer(key)
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "draft" and created["version"] == 1
    assert (
        created["reward"] == {"beta_bps": 20_000, **reward}
        if reward["type"] == "range" and "beta_bps" not in reward
        else created["reward"] == reward
    )
    assert created["chain_campaign_id"] == chain_campaign_id(__import__("uuid").UUID(created["id"]))
    assert created["budget_cap"] == "1000000000000000000000" and created["used_budget"] == "0"
    assert (created["max_depth"], created["lockup_seconds"], created["budget_period"]) == (
        3,
        3600,
        "daily",
    )
    from backend.campaigns.models import Campaign

    row = await db_session.get(Campaign, __import__("uuid").UUID(created["id"]))
    parse_reward_config(row.reward_type, row.reward_config)  # the engine accepts what we store
    entry = await db_session.scalar(
        select(AuditEntry).where(AuditEntry.action == "campaign.create")
    )
    assert entry.after["name"] == "Launch" and entry.before is None


INVALID = [
    ({"user_bps": 10_001}, "user_bps"),
    ({"user_bps": -1}, "user_bps"),
    ({"decay_bps": 20_000}, "decay_bps"),
    ({"max_depth": 6}, "max_depth"),
    ({"max_depth": -1}, "max_depth"),
    ({"max_rewards_per_user": 0}, "max_rewards_per_user"),
    ({"lockup_seconds": -5}, "lockup_seconds"),
    ({"name": ""}, "name"),
    ({"trigger": "Not A Trigger"}, "trigger"),
    ({"token": "0x1234"}, "token"),
    ({"token": "0x" + "ab" * 20}, "token"),  # well-formed but not registered
    ({"budget_cap": "-1"}, "budget_cap"),
    ({"budget_cap": "1.5"}, "budget_cap"),
    ({"budget_cap": str(2**256)}, "budget_cap"),
    ({"budget_cap": str(2**253)}, "budget_cap"),  # fits uint256 but not the bank's budget word
    ({"budget_cap": 100}, "budget_cap"),  # a number, not a decimal string
    ({"budget_period": "hourly"}, "budget_period"),
    ({"budget_period": "daily"}, "period_cap"),  # a period needs its cap
    ({"period_cap": "10"}, "period_cap"),  # a cap needs a period
    ({"budget_cap": "10", "budget_period": "daily", "period_cap": "11"}, "period_cap"),
    ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}, "ends_at"),  # empty
    ({"starts_at": "2030-01-02T00:00:00"}, "starts_at"),  # no timezone
    ({"reward": {"type": "fixed", "amount": "0"}}, "reward.amount"),
    ({"reward": {"type": "fixed", "amount": str(2**256)}}, "reward.amount"),
    ({"reward": {"type": "range", "start": "10", "end": "5"}}, "reward.end"),
    ({"reward": {"type": "range", "start": "1", "end": "5", "beta_bps": 0}}, "reward.beta_bps"),
    ({"reward": {"type": "percent_of_purchase", "bps": 10_001}}, "reward.bps"),
    ({"reward": {"type": "percent_of_purchase", "bps": 100, "cap": "0"}}, "reward.cap"),
    (
        {
            "reward": {
                "type": "tiered",
                "tiers": [{"min_order": "9", "amount": "1"}, {"min_order": "5", "amount": "2"}],
            }
        },
        "reward.tiers[1].min_order",
    ),
    ({"reward": {"type": "tiered", "tiers": []}}, "reward.tiers"),
    ({"reward": {"type": "bogus"}}, "reward.type"),
    ({"reward": {"type": "fixed", "amount": "1", "extra": 1}}, "extra"),
    (
        {"trigger": "referral.referred", "reward": {"type": "percent_of_purchase", "bps": 5}},
        "trigger",
    ),
    ({"surprise": True}, "surprise"),
    ({"settle_max_wait_s": 7 * 86_400 + 1}, "settle_max_wait_s"),  # a week at most
    ({"settle_max_wait_s": -1}, "settle_max_wait_s"),
    ({"settle_min_rewards": 5}, "settle_max_wait_s"),  # a threshold needs a max wait
    ({"settle_min_amount": "5"}, "settle_max_wait_s"),
    ({"settle_max_wait_s": 3600, "settle_min_rewards": 0}, "settle_min_rewards"),
    ({"settle_max_wait_s": 3600, "settle_min_amount": "0"}, "settle_min_amount"),
    ({"settle_max_wait_s": 3600, "settle_min_amount": str(2**256)}, "settle_min_amount"),
    ({"settle_max_wait_s": 3600, "settle_min_amount": 5}, "settle_min_amount"),  # a number
]


@pytest.mark.parametrize(("overrides", "field"), INVALID, ids=[f for _, f in INVALID])
async def test_create__invalid_field__is_422_naming_it(api, shop, overrides, field):
    product, key = shop
    response = await api.post(
        f"{API}/products/{product.id}/campaigns",
        json=campaign_body(**overrides),
        headers=bearer(key),
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["message"] + str(error["details"])


async def test_create__missing_required_field__is_422(api, shop):
    product, key = shop
    body = campaign_body()
    del body["reward"]
    response = await api.post(
        f"{API}/products/{product.id}/campaigns", json=body, headers=bearer(key)
    )
    assert response.status_code == 422
    assert "reward" in str(response.json()["error"])


async def test_create__without_campaign_manager_role__is_403(api, db_session):
    product, key = await make_product(db_session, roles=Role.INTERACTION_MANAGER)
    await make_token(db_session, product)
    response = await api.post(
        f"{API}/products/{product.id}/campaigns", json=campaign_body(), headers=bearer(key)
    )
    assert response.status_code == 403


async def test_create__another_products_key__is_404(api, db_session, shop):
    product, _ = shop
    _, other_key = await make_product(db_session)
    response = await api.post(
        f"{API}/products/{product.id}/campaigns", json=campaign_body(), headers=bearer(other_key)
    )
    assert response.status_code == 404


async def test_list__filters_by_status(api, db_session, shop):
    product, key = shop
    draft = await make_campaign(db_session, product, status="draft")
    active = await make_campaign(db_session, product, status="active")
    await make_campaign(db_session, (await make_product(db_session))[0])  # another product's

    everything = await api.get(f"{API}/products/{product.id}/campaigns", headers=bearer(key))
    only_active = await api.get(
        f"{API}/products/{product.id}/campaigns", params={"status": "active"}, headers=bearer(key)
    )
    unknown = await api.get(
        f"{API}/products/{product.id}/campaigns", params={"status": "nope"}, headers=bearer(key)
    )

    assert {c["id"] for c in everything.json()} == {str(draft.id), str(active.id)}
    assert [c["id"] for c in only_active.json()] == [str(active.id)]
    assert unknown.status_code == 422


async def test_get__reads_with_any_role__another_products_key_is_404(api, db_session, shop):
    product, _ = shop
    campaign = await make_campaign(db_session, product)
    _, viewer = await make_product(db_session)  # a key of another product
    from backend.products.ids import new_api_key
    from backend.products.models import ApiKey

    key, prefix, key_hash = new_api_key()
    db_session.add(
        ApiKey(
            product_id=product.id,
            name="ro",
            prefix=prefix,
            key_hash=key_hash,
            roles=int(Role.INTERACTION_MANAGER),
        )
    )
    await db_session.commit()

    mine = await api.get(f"{API}/campaigns/{campaign.id}", headers=bearer(key))
    theirs = await api.get(f"{API}/campaigns/{campaign.id}", headers=bearer(viewer))
    garbage = await api.get(f"{API}/campaigns/not-a-uuid", headers=bearer(key))

    assert mine.status_code == 200 and mine.json()["reward"] == {
        "type": "fixed",
        "amount": str(10 * 10**18),
    }
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "campaign_not_found"
    assert garbage.status_code == 404


async def test_update__changes_rules_bumps_version_and_audits(api, db_session, shop):
    product, key = shop
    campaign = await make_campaign(db_session, product, status="active")

    response = await api.patch(
        f"{API}/campaigns/{campaign.id}",
        json={
            "version": 1,
            "user_bps": 7_000,
            "reward": {"type": "range", "start": "1", "end": "9"},
        },
        headers=bearer(key),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["user_bps"], body["version"], body["status"]) == (7_000, 2, "active")
    assert body["reward"] == {"type": "range", "start": "1", "end": "9", "beta_bps": 20_000}
    entry = await db_session.scalar(
        select(AuditEntry).where(AuditEntry.action == "campaign.update")
    )
    assert entry.before["user_bps"] == 5_000 and entry.after["user_bps"] == 7_000


async def test_update__settlement_cadence__stored_read_back_and_cleared(api, db_session, shop):
    product, key = shop
    campaign = await make_campaign(db_session, product, status="active")
    url = f"{API}/campaigns/{campaign.id}"
    cadence = {"settle_max_wait_s": 86_400, "settle_min_rewards": 25, "settle_min_amount": "10"}

    response = await api.patch(url, json=cadence, headers=bearer(key))

    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in cadence} == cadence
    await db_session.refresh(campaign)
    assert (campaign.settle_max_wait_s, campaign.settle_min_rewards) == (86_400, 25)
    assert campaign.settle_min_amount == 10
    # back to every cycle: the thresholds go with the wait
    patch = {"settle_max_wait_s": 0, "settle_min_rewards": None, "settle_min_amount": None}
    response = await api.patch(url, json=patch, headers=bearer(key))
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in cadence} == patch


async def test_update__stale_version__is_409(api, db_session, shop):
    product, key = shop
    campaign = await make_campaign(db_session, product, status="draft")
    response = await api.patch(
        f"{API}/campaigns/{campaign.id}", json={"version": 7, "name": "x"}, headers=bearer(key)
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_conflict"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"token": "0x" + "7f" * 20}, "token"),
        ({"budget_period": "weekly", "period_cap": "5"}, "budget_period"),
        ({"budget_cap": "5"}, "budget_cap"),  # below what is used already
        ({"ends_at": "2000-01-01T00:00:00Z", "starts_at": "2001-01-01T00:00:00Z"}, "ends_at"),
        ({"max_depth": 9}, "max_depth"),
        ({"status": "active"}, "status"),  # status changes go through the transitions
    ],
)
async def test_update__invalid_edit_of_active_campaign__is_422(api, db_session, shop, patch, field):
    product, key = shop
    await make_token(db_session, product, address="0x" + "7f" * 20)
    campaign = await make_campaign(
        db_session, product, status="active", budget_cap=100, used_budget=10
    )
    response = await api.patch(f"{API}/campaigns/{campaign.id}", json=patch, headers=bearer(key))
    assert response.status_code == 422, response.text
    assert field in str(response.json()["error"])


async def test_update__token_of_a_draft__can_change_to_a_registered_one(api, db_session, shop):
    product, key = shop
    other = "0x" + "7f" * 20
    await make_token(db_session, product, address=other)
    campaign = await make_campaign(db_session, product, status="draft", token=TEST_TOKEN)
    response = await api.patch(
        f"{API}/campaigns/{campaign.id}",
        json={"token": other.upper().replace("0X", "0x")},
        headers=bearer(key),
    )
    assert response.status_code == 200
    assert response.json()["token"].lower() == other


async def test_update__deactivated_campaign__is_409(api, db_session, shop):
    product, key = shop
    campaign = await make_campaign(db_session, product, status="deactivated")
    response = await api.patch(
        f"{API}/campaigns/{campaign.id}", json={"name": "x"}, headers=bearer(key)
    )
    assert response.status_code == 409


async def test_update__without_campaign_manager_role__is_403(api, db_session):
    product, key = await make_product(db_session, roles=Role.INTERACTION_MANAGER)
    campaign = await make_campaign(db_session, product)
    response = await api.patch(
        f"{API}/campaigns/{campaign.id}", json={"name": "x"}, headers=bearer(key)
    )
    assert response.status_code == 403


async def test_update__another_products_key__is_404(api, db_session, shop):
    product, _ = shop
    campaign = await make_campaign(db_session, product)
    _, other_key = await make_product(db_session)
    response = await api.patch(
        f"{API}/campaigns/{campaign.id}", json={"name": "x"}, headers=bearer(other_key)
    )
    assert response.status_code == 404


async def test_deactivate__product_without_a_bank__deactivated_with_nothing_to_revoke(
    api, db_session, shop
):
    product, key = shop
    campaign = await make_campaign(db_session, product, status="active")

    response = await api.post(f"{API}/campaigns/{campaign.id}/deactivate", headers=bearer(key))

    assert response.status_code == 200 and response.json()["status"] == "deactivated"
    await db_session.refresh(campaign)
    assert campaign.status == "deactivated"
