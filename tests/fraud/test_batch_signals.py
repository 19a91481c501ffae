"""The batch endpoint records signals like the single one: each stored item's device id
(its own, or the request's Cascade-Device-Id header) as a keyed hash, in the batch's
transaction, so the shared-device rule sees a farm that sends its interactions in bulk."""

from __future__ import annotations

from typing import Any

from backend.fraud import signals
from tests.conftest import TEST_SECRET
from tests.evaluator.helpers import drain
from tests.factories import make_campaign, make_product, wallet
from tests.fraud.helpers import statements
from tests.interactions.helpers import bearer, count, rows


async def _batch(client, key: str, items: list[dict[str, Any]], headers=None):
    response = await client.post(
        "/api/external/interactions/batch",
        json={"interactions": items},
        headers={**bearer(key, wait=False), **(headers or {})},
    )
    assert response.status_code == 202, response.text
    return response.json()["results"]


def _ring(product_id: str, ring: list[str], **extra: Any) -> list[dict[str, Any]]:
    """Every wallet visits the shop, then each refers the next (the last closes a cycle)."""
    visits = [
        {"product_id": product_id, "wallet": w, "type": "webshop.open", **extra} for w in ring
    ]
    referrals = [
        {
            "product_id": product_id,
            "wallet": ring[(i + 1) % len(ring)],
            "type": "referral.referred",
            "data": {"referrer": w},
            **extra,
        }
        for i, w in enumerate(ring)
    ]
    return visits + referrals


async def test_batch__sybil_ring_with_one_item_device_id__held_by_shared_device(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="referral.referred")
    ring = [wallet() for _ in range(20)]

    with statements(clean_db, "INSERT INTO interaction_signals") as inserts:
        results = await _batch(client, key, _ring(product.id, ring, device_id="phone-1"))
    await drain(clean_db)

    assert [r["status"] for r in results] == [202] * 40
    statuses = await rows(
        db_session, "SELECT status, hold_reasons, count(*) AS n FROM rewards GROUP BY 1, 2"
    )
    assert [(s.status, s.hold_reasons) for s in statuses] == [("held", ["shared_device"])]
    assert await count(db_session, "SELECT count(DISTINCT interaction_id) FROM rewards") == 19
    stored = await rows(db_session, "SELECT DISTINCT device_hash FROM interaction_signals")
    assert [s.device_hash for s in stored] == [
        signals.keyed_hash(TEST_SECRET, "device", product.id, "phone-1")
    ]
    assert await count(db_session, "SELECT count(*) FROM interaction_signals") == 40
    assert len(inserts) == 1  # one statement for the 40 items


async def test_batch__ring_sent_with_the_device_header__held_by_shared_device(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="referral.referred")
    ring = [wallet() for _ in range(5)]

    await _batch(client, key, _ring(product.id, ring), headers={"Cascade-Device-Id": "phone-2"})
    await drain(clean_db)

    held = "SELECT count(DISTINCT interaction_id) FROM rewards WHERE status = 'held'"
    assert await count(db_session, held) == 4  # the cycle-closing referral earns nothing
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status <> 'held'") == 0


async def test_batch__honest_visitors_on_their_own_devices__never_held_duplicates_add_no_row(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    await make_campaign(db_session, product, trigger="referral.referred")
    a, b, c = wallet(), wallet(), wallet()
    items = [
        {"product_id": product.id, "wallet": w, "type": "webshop.open", "device_id": f"{w}-phone"}
        for w in (a, b, c)
    ] + [
        {
            "product_id": product.id,
            "wallet": b,
            "type": "referral.referred",
            "data": {"referrer": a},
            "device_id": f"{b}-phone",
            "dedup_key": "ref-b",
        },
        {
            "product_id": product.id,
            "wallet": b,
            "type": "referral.referred",
            "data": {"referrer": a},
            "device_id": "someone-elses-phone",
            "dedup_key": "ref-b",  # a duplicate: its device is not recorded
        },
        {
            "product_id": product.id,
            "wallet": c,
            "type": "referral.referred",
            "data": {"referrer": b},
            "device_id": f"{c}-phone",
        },
    ]

    results = await _batch(client, key, items)
    await drain(clean_db)

    assert results[4]["duplicate"] is True
    assert await count(db_session, "SELECT count(*) FROM rewards") > 0
    assert await count(db_session, "SELECT count(*) FROM rewards WHERE status <> 'pending'") == 0
    assert await count(db_session, "SELECT count(*) FROM interaction_signals") == 5
    unexpected = signals.keyed_hash(TEST_SECRET, "device", product.id, "someone-elses-phone")
    assert (
        await count(
            db_session,
            "SELECT count(*) FROM interaction_signals WHERE device_hash = :h",
            h=unexpected,
        )
        == 0
    )


async def test_batch__hostile_device_id__that_item_422_with_a_code_nothing_of_it_written(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    good = {"product_id": product.id, "wallet": wallet(), "type": "webshop.open"}
    items = [
        {**good, "device_id": "bad\x00device"},
        {**good, "device_id": "x" * 513},
        {**good, "device_id": ""},
        {**good, "device_id": 12},
        {**good, "device_id": "fine-phone"},
    ]

    results = await _batch(client, key, items)

    assert [r["status"] for r in results] == [422, 422, 422, 422, 202]
    assert all(r["error"]["code"] for r in results[:4])
    assert await count(db_session, "SELECT count(*) FROM interactions") == 1
    assert await count(db_session, "SELECT count(*) FROM interaction_signals") == 1
    assert "fine-phone" not in str(await rows(db_session, "SELECT * FROM interaction_signals"))


async def test_single__item_device_id_without_header__recorded_as_its_device(
    client, db_session, clean_db
):
    product, key = await make_product(db_session)
    buyer = wallet()

    response = await client.post(
        "/api/external/interactions",
        json={
            "product_id": product.id,
            "wallet": buyer,
            "type": "webshop.open",
            "device_id": "forwarded-phone",
        },
        headers=bearer(key, wait=False),
    )

    assert response.status_code == 202, response.text
    stored = await rows(db_session, "SELECT wallet, device_hash FROM interaction_signals")
    assert [(s.wallet, s.device_hash) for s in stored] == [
        (buyer, signals.keyed_hash(TEST_SECRET, "device", product.id, "forwarded-phone"))
    ]
