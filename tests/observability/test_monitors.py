"""The operations monitor raises alerts while a condition holds and clears them after."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.core.models import Alert
from backend.observability import metrics
from backend.runtime import monitors
from backend.settlement.health import check_unconfirmed_batches
from backend.settlement.models import SettlementBatch
from indexer.jobs import record_indexer_lag
from tests.factories import make_campaign, make_product


async def _open(session, code: str) -> list[Alert]:
    return list(
        await session.scalars(select(Alert).where(Alert.code == code, Alert.resolved_at.is_(None)))
    )


async def test_signer_balance__below_threshold_is_critical_until_funded(
    clean_db, db_session, monkeypatch
):
    monkeypatch.setenv("SIGNER_BALANCE_MIN_WEI", str(10**40))  # more than anvil's dev account

    report = await monitors.run_monitors(clean_db)

    assert report["low"] is True
    [alert] = await _open(db_session, "signer_balance_low")
    assert alert.severity == "critical" and alert.subject == f"signer:{report['signer']}"
    balance = metrics.REGISTRY.get_sample_value("cascade_signer_balance_wei")
    assert balance == float(int(report["balance_wei"]))  # a gauge holds a float

    monkeypatch.setenv("SIGNER_BALANCE_MIN_WEI", "1")
    await monitors.run_monitors(clean_db)
    db_session.expire_all()
    assert await _open(db_session, "signer_balance_low") == []


async def test_unconfirmed_batch__alerted_after_threshold_then_cleared(clean_db, db_session):
    product, _ = await make_product(db_session)
    campaign = await make_campaign(db_session, product)
    batch = SettlementBatch(
        product_id=product.id,
        bank_address="0x" + "11" * 20,
        campaign_id=campaign.id,
        chain_campaign_id=campaign.chain_campaign_id,
        chain_id=31337,
        token=campaign.token,
        nonce="0x" + uuid.uuid4().hex * 2,
        deadline=2**40,
        signature="0x" + "00" * 65,
        payload=[{"user": "0x" + "22" * 20, "amount": "1"}],
        total=1,
        reward_count=1,
        status="submitted",
    )
    db_session.add(batch)
    await db_session.commit()
    max_age = timedelta(minutes=15)
    now = datetime.now(UTC)

    async with clean_db.sessions() as session:
        fresh = await check_unconfirmed_batches(session, now, max_age)
        late = await check_unconfirmed_batches(session, now + timedelta(minutes=16), max_age)
        await session.commit()

    assert fresh == {"unconfirmed_batches": 0} and late == {"unconfirmed_batches": 1}
    [alert] = await _open(db_session, "batch_unconfirmed")
    assert alert.product_id == product.id and alert.subject == f"batch:{batch.id}"
    batch.status = "pushed"
    await db_session.commit()
    async with clean_db.sessions() as session:
        await check_unconfirmed_batches(session, now + timedelta(minutes=20), max_age)
        await session.commit()
    db_session.expire_all()
    assert await _open(db_session, "batch_unconfirmed") == []


async def test_indexer_lag__gauge_and_alert_above_max(db_session):
    await record_indexer_lag(db_session, 120, 50)
    await db_session.commit()
    assert metrics.REGISTRY.get_sample_value("cascade_indexer_lag_blocks") == 120
    [alert] = await _open(db_session, "indexer_lag_high")
    assert alert.severity == "error"

    await record_indexer_lag(db_session, 3, 50)
    await db_session.commit()
    assert await _open(db_session, "indexer_lag_high") == []
