"""Products' own writes clear the ingestion settings they change, in the writing process at
once: no wait for the database's notification (here no listener runs at all)."""

from __future__ import annotations

from tests.factories import make_product, wallet
from tests.interactions.helpers import bearer, send


async def test_product_limit_lowered_through_the_api__next_interaction_sees_it(client, db_session):
    product, key = await make_product(db_session, rate_limit_per_hour=100)
    user = wallet()
    assert (
        await send(client, key, product.id, user, "webshop.open", wait=False)
    ).status_code == 202

    patched = await client.patch(
        f"/api/business/products/{product.id}",
        json={"rate_limit_per_hour": 1},
        headers=bearer(key, wait=False),
    )
    assert patched.status_code == 200, patched.text

    answer = await send(client, key, product.id, user, "webshop.open", wait=False)
    assert answer.status_code == 429


async def test_product_deleted_through_the_api__next_interaction_is_404(client, db_session):
    product, key = await make_product(db_session)
    user = wallet()
    assert (
        await send(client, key, product.id, user, "webshop.open", wait=False)
    ).status_code == 202

    deleted = await client.delete(
        f"/api/business/products/{product.id}", headers=bearer(key, wait=False)
    )
    assert deleted.status_code == 204, deleted.text

    answer = await send(client, key, product.id, wallet(), "webshop.open", wait=False)
    assert answer.status_code == 404
