"""ancestry(): the stored parents above a batch's wallets, exactly `depth` levels up."""

from __future__ import annotations

from backend.referrals import service as referrals
from tests.factories import make_product, wallet
from tests.interactions.helpers import refer, send


async def test_ancestry__depth_0_1_2__none_then_parent_then_grandparent(client, db_session):
    product, key = await make_product(db_session)
    top, middle, user = wallet(), wallet(), wallet()
    await send(client, key, product.id, top, "referral.link_creation")
    await refer(client, key, product.id, middle, top)
    await refer(client, key, product.id, user, middle)
    start = [(product.id, user)]

    assert await referrals.ancestry(db_session, start, 0) == {}
    assert await referrals.ancestry(db_session, start, 1) == {product.id: {user: middle}}
    assert await referrals.ancestry(db_session, start, 2) == {
        product.id: {user: middle, middle: top}
    }
