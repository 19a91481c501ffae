"""Campaign edits at their edges: a limit that is exactly met, and two editors at once."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.campaigns.helpers import campaign_body
from tests.factories import make_campaign, make_product, make_token
from tests.products.fixtures import bearer

API = "/api/business"


async def _waiting_on_a_lock(db_session, timeout_s: float = 10.0) -> None:
    """Until some backend of this database waits on a row lock (the request under test)."""
    async with asyncio.timeout(timeout_s):
        while True:
            waiting = await db_session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if waiting:
                return
            await asyncio.sleep(0.05)


async def test_create__period_cap_equal_to_budget_cap__accepted(api, db_session):
    product, key = await make_product(db_session)
    await make_token(db_session, product)

    response = await api.post(
        f"{API}/products/{product.id}/campaigns",
        json=campaign_body(budget_cap="1000", budget_period="daily", period_cap="1000"),
        headers=bearer(key),
    )

    assert response.status_code == 201, response.text
    assert (response.json()["budget_cap"], response.json()["period_cap"]) == ("1000", "1000")


async def test_create__range_ending_at_one_base_unit__accepted_ending_at_zero__refused(
    api, db_session
):
    product, key = await make_product(db_session)
    await make_token(db_session, product)

    async def create(end: str):
        reward = {"type": "range", "start": "0", "end": end}
        return await api.post(
            f"{API}/products/{product.id}/campaigns",
            json=campaign_body(reward=reward),
            headers=bearer(key),
        )

    accepted, refused = await create("1"), await create("0")

    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["reward"]["end"] == "1"
    assert refused.status_code == 422
    assert "reward.end" in str(refused.json()["error"])


async def test_update__budget_cap_lowered_to_exactly_what_is_used__accepted(api, db_session):
    product, key = await make_product(db_session)
    campaign = await make_campaign(
        db_session, product, status="active", budget_cap=100, used_budget=60
    )

    response = await api.patch(
        f"{API}/campaigns/{campaign.id}",
        json={"version": 1, "budget_cap": "60"},
        headers=bearer(key),
    )
    below = await api.patch(
        f"{API}/campaigns/{campaign.id}",
        json={"version": 2, "budget_cap": "59"},
        headers=bearer(key),
    )

    assert response.status_code == 200, response.text
    assert response.json()["budget_cap"] == "60"
    assert below.status_code == 422
    assert "budget_cap" in str(below.json()["error"])


async def test_update__other_edit_commits_while_waiting__409_and_their_edit_kept(api, db_session):
    """The edit locks the campaign row before it checks the version: an edit another editor
    commits meanwhile is never overwritten by one made against the version before it."""
    product, key = await make_product(db_session)
    campaign = await make_campaign(db_session, product, status="draft")
    async with db_session.bind.connect() as other:  # another editor, mid-transaction
        await other.execute(
            text("UPDATE campaigns SET name = 'theirs', version = version + 1 WHERE id = :id"),
            {"id": campaign.id},
        )
        ours = asyncio.create_task(
            api.patch(
                f"{API}/campaigns/{campaign.id}",
                json={"version": 1, "name": "ours"},
                headers=bearer(key),
            )
        )
        await _waiting_on_a_lock(db_session)
        await other.commit()
        response = await ours

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "version_conflict"
    stored = (
        await db_session.execute(
            text("SELECT name, version FROM campaigns WHERE id = :id"), {"id": campaign.id}
        )
    ).one()
    assert (stored.name, stored.version) == ("theirs", 2)
