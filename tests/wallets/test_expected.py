"""When a queued reward is expected on-chain: the wallet API shows its campaign's cadence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from backend.campaigns.models import Campaign
from backend.products.models import ProductToken
from tests.factories import make_campaign, make_product, wallet
from tests.wallets.conftest import make_reward

INTERVAL = timedelta(seconds=300)  # PUSH_INTERVAL_S of the tests' settings (the default)


async def _campaign(db_session, chain, **cadence):
    product, _ = await make_product(db_session, name="Shop")
    db_session.add(
        ProductToken(product_id=product.id, address=chain.token, symbol="EURe", decimals=18)
    )
    await db_session.commit()
    campaign = await make_campaign(db_session, product, token=chain.token, name="Hourly")
    await db_session.execute(update(Campaign).where(Campaign.id == campaign.id).values(**cadence))
    await db_session.commit()
    return product, campaign


def _items(body) -> dict[int, dict]:
    return {item["id"]: item for item in body["items"] if item["kind"] == "reward"}


async def test_history__hourly_campaign__expected_by_the_queues_oldest_plus_an_hour(
    client, db_session, chain
):
    user, other = wallet(), wallet()
    product, campaign = await _campaign(db_session, chain, settle_max_wait_s=3600)
    oldest_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    # someone else's reward makes the queue's oldest: it sets when the whole queue goes
    await make_reward(db_session, product, campaign, other, 5, available_at=oldest_at)
    mine = await make_reward(db_session, product, campaign, user, 7)
    in_flight = await make_reward(db_session, product, campaign, user, 3, status="pushed")

    history = (await client.get(f"/api/wallet/{user}/history")).json()
    snapshot = (await client.get(f"/api/wallet/{user}/rewards")).json()

    due = oldest_at + timedelta(hours=1) + INTERVAL
    items = _items(history)
    assert items[mine.id]["status"] == "queued"
    assert datetime.fromisoformat(items[mine.id]["expected_by"]) == due
    assert items[in_flight.id]["expected_by"] is None  # pushed: no promise to make
    (token,) = snapshot["tokens"]
    assert datetime.fromisoformat(token["queued_expected_by"]) == due


async def test_history__queue_size_may_send_older_rows_early__promise_is_this_rows_own_wait(
    client, db_session, chain
):
    user = wallet()
    product, campaign = await _campaign(
        db_session, chain, settle_max_wait_s=3600, settle_min_rewards=10
    )
    now = datetime.now(UTC).replace(microsecond=0)
    await make_reward(db_session, product, campaign, wallet(), 5, available_at=now)
    later = now + timedelta(minutes=30)  # locked up for half an hour: not ready yet
    mine = await make_reward(db_session, product, campaign, user, 7, available_at=later)

    items = _items((await client.get(f"/api/wallet/{user}/history")).json())

    # if ten rows send the queue before this one is ready, it waits its own hour
    assert (
        datetime.fromisoformat(items[mine.id]["expected_by"])
        == later + timedelta(hours=1) + INTERVAL
    )


async def test_rewards__campaign_deactivated__queued_without_a_promise(client, db_session, chain):
    user = wallet()
    product, campaign = await _campaign(
        db_session, chain, settle_max_wait_s=3600, status="deactivated"
    )
    mine = await make_reward(db_session, product, campaign, user, 7)

    history = (await client.get(f"/api/wallet/{user}/history")).json()
    snapshot = (await client.get(f"/api/wallet/{user}/rewards")).json()

    assert _items(history)[mine.id]["expected_by"] is None
    (token,) = snapshot["tokens"]
    assert token["queued"] == "7" and token["queued_expected_by"] is None
