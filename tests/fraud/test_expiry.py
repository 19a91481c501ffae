"""Held rewards nobody reviewed in time follow the product's default decision."""

from __future__ import annotations

from sqlalchemy import text, update

from backend.fraud import service
from backend.fraud.jobs import expire_holds_job
from backend.fraud.models import FraudSettings
from tests.evaluator.helpers import drain
from tests.factories import make_campaign, make_product, wallet
from tests.fraud.helpers import act
from tests.interactions.helpers import count, rows


async def _held_pair(clean_db, client, db_session, key, product):
    farmer, sock = wallet(), wallet()
    await act(clean_db, client, key, product.id, farmer, "webshop.open", device="phone")
    await act(
        clean_db,
        client,
        key,
        product.id,
        sock,
        "referral.referred",
        device="phone",
        referrer=farmer,
    )


async def test_expire_holds__past_the_limit__default_reject_and_approve_per_product(
    client, db_session, clean_db
):
    strict, strict_key = await make_product(db_session)  # no settings: the default (reject)
    lenient, lenient_key = await make_product(db_session)
    await service.materialise(db_session, lenient.id)  # what its first edit does
    await db_session.execute(
        update(FraudSettings)
        .where(FraudSettings.product_id == lenient.id)
        .values(review_after_seconds=3600, default_decision="approve")
    )
    await db_session.commit()
    strict_campaign = await make_campaign(db_session, strict, trigger="referral.referred")
    await make_campaign(db_session, lenient, trigger="referral.referred")
    await _held_pair(clean_db, client, db_session, strict_key, strict)
    await _held_pair(clean_db, client, db_session, lenient_key, lenient)
    await drain(clean_db)
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'held'") == 4

    await expire_holds_job(clean_db)  # nothing is old enough yet
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status = 'held'") == 4

    # the lenient product's limit (1 h) has passed; the strict one's default (14 days) too
    await db_session.execute(text("UPDATE rewards SET created_at = now() - interval '15 days'"))
    await db_session.commit()
    await expire_holds_job(clean_db)

    found = await rows(
        db_session, "SELECT product_id, status, cancelled_reason FROM rewards ORDER BY id"
    )
    assert {(r.product_id, r.status) for r in found} == {
        (strict.id, "cancelled"),
        (lenient.id, "pending"),
    }
    used = await count(
        db_session, "SELECT used_budget FROM campaigns WHERE id = :id", id=strict_campaign.id
    )
    assert used == 0  # the refused rewards' budget is back
    audit = await rows(db_session, "SELECT actor, action FROM audit_log ORDER BY id")
    assert sorted((a.actor, a.action) for a in audit) == [
        ("system:review_expiry", "reward.approve"),
        ("system:review_expiry", "reward.reject"),
    ]
