"""Owner webhooks for committed state: each event is enqueued exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from backend.campaigns.models import Campaign
from backend.interactions.models import Interaction
from backend.notifications.models import WebhookDelivery
from backend.notifications.producers import produce_events
from backend.rewards.models import Reward
from indexer.models import ChainEvent, IndexerCheckpoint
from tests.factories import TEST_TOKEN, make_campaign, make_product, wallet
from tests.notifications.conftest import make_endpoint


def later() -> datetime:
    """A moment past the producers' commit lag (computed now: suites run for minutes)."""
    return datetime.now(UTC) + timedelta(minutes=1)


async def _events(session) -> list[WebhookDelivery]:
    rows = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at))
    return list(rows)


async def _set_status(session, campaign: Campaign, status: str) -> None:
    await session.execute(update(Campaign).where(Campaign.id == campaign.id).values(status=status))
    await session.commit()


async def test_campaign_transitions__one_event_each_even_when_repeated(clean_db, db_session):
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, "https://hooks.example/x")
    campaign = await make_campaign(db_session, product)
    await produce_events(clean_db, now=later())  # a new active campaign is nothing to tell
    assert await _events(db_session) == []

    await _set_status(db_session, campaign, "budget_exhausted")
    await produce_events(clean_db, now=later())
    await produce_events(clean_db, now=later())
    assert [d.event_type for d in await _events(db_session)] == ["campaign.budget_exhausted"]

    await _set_status(db_session, campaign, "active")  # refunded budget reopened it
    await produce_events(clean_db, now=later())
    await _set_status(db_session, campaign, "budget_exhausted")
    await _set_status(db_session, campaign, "expired")
    await produce_events(clean_db, now=later())
    kinds = [d.event_type for d in await _events(db_session)]
    assert kinds == ["campaign.budget_exhausted", "campaign.expired"]
    assert (await _events(db_session))[-1].payload["data"]["campaign_id"] == str(campaign.id)


async def test_budget_low__fires_once_per_crossing(clean_db, db_session):
    product, _ = await make_product(db_session)
    await make_endpoint(db_session, product, "https://hooks.example/x")
    await make_campaign(db_session, product, budget_cap=100, used_budget=85)
    await produce_events(clean_db, now=later())
    await produce_events(clean_db, now=later())
    deliveries = await _events(db_session)
    assert [d.event_type for d in deliveries] == ["campaign.budget_low"]
    assert deliveries[0].payload["data"]["remaining"] == "15"


async def _reward_rows(session, product, campaign, count: int) -> int:
    interaction_id = await session.scalar(
        insert(Interaction)
        .values(product_id=product.id, wallet=wallet(), type="purchase.completed", source="api_key")
        .returning(Interaction.id)
    )
    for level in range(count):
        await session.execute(
            insert(Reward).values(
                product_id=product.id,
                campaign_id=campaign.id,
                interaction_id=interaction_id,
                wallet=wallet(),
                level=level,
                token=TEST_TOKEN,
                amount=10 - level,
            )
        )
    await session.commit()
    return int(interaction_id)


async def test_interaction_rewarded__one_event_per_interaction_once(clean_db, db_session):
    product, _ = await make_product(db_session)
    quiet, _ = await make_product(db_session)  # no endpoint: no outbox rows for it
    await make_endpoint(db_session, product, "https://hooks.example/x")
    campaign = await make_campaign(db_session, product)
    other = await make_campaign(db_session, quiet)
    interaction_id = await _reward_rows(db_session, product, campaign, 2)
    await _reward_rows(db_session, quiet, other, 1)

    await produce_events(clean_db, now=datetime.now(UTC) - timedelta(minutes=1))
    assert await _events(db_session) == []  # too fresh: a slower transaction may still commit

    await produce_events(clean_db, now=later())
    await produce_events(clean_db, now=later())
    deliveries = await _events(db_session)
    assert [d.event_type for d in deliveries] == ["interaction.rewarded"]
    data = deliveries[0].payload["data"]
    assert data["interaction_id"] == interaction_id
    assert sorted(r["amount"] for r in data["rewards"]) == ["10", "9"]
    assert {r["status"] for r in data["rewards"]} == {"pending"}


async def test_rewards_claimed__sent_once_final_to_products_that_paid_the_wallet(
    clean_db, db_session, monkeypatch
):
    monkeypatch.setattr(clean_db.settings, "confirmations", 2)
    product, _ = await make_product(db_session)
    stranger, _ = await make_product(db_session)
    await make_endpoint(db_session, product, "https://hooks.example/a")
    await make_endpoint(db_session, stranger, "https://hooks.example/b")
    campaign = await make_campaign(db_session, product)
    await _reward_rows(db_session, product, campaign, 1)
    claimer = (await db_session.scalars(select(Reward.wallet))).one()
    await db_session.execute(update(Reward).values(status="pushed"))
    db_session.add(
        ChainEvent(
            chain_id=31337,
            block_number=10,
            block_hash="0x" + "aa" * 32,
            block_timestamp=1,
            tx_hash="0x" + "bb" * 32,
            log_index=0,
            address="0x" + "cc" * 20,
            event="RewardClaimed",
            token=TEST_TOKEN,
            wallet=claimer,
            amount=10,
            args={},
        )
    )
    db_session.add(
        IndexerCheckpoint(chain_id=31337, name="main", block_number=10, block_hash="0x" + "aa" * 32)
    )
    await db_session.commit()

    await produce_events(clean_db, now=later())  # 0 blocks deep, 2 confirmations needed
    assert [
        d.event_type for d in await _events(db_session) if d.event_type.startswith("rewards")
    ] == []

    await db_session.execute(update(IndexerCheckpoint).values(block_number=12))
    await db_session.commit()
    await produce_events(clean_db, now=later())
    await produce_events(clean_db, now=later())
    claimed = [d for d in await _events(db_session) if d.event_type == "rewards.claimed"]
    assert len(claimed) == 1 and claimed[0].product_id == product.id
    assert claimed[0].payload["data"]["amount"] == "10"
