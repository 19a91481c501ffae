"""The estimate endpoint: what a wallet would earn, with no rows written."""

from __future__ import annotations

import pytest

from backend.campaigns import snapshots
from tests.factories import make_campaign, make_product, wallet
from tests.interactions.helpers import E18, count, reset_caches


@pytest.fixture(autouse=True)
def _fresh_caches():
    reset_caches()
    yield
    reset_caches()


async def test_estimate__range_reward__expected_value_inside_its_bounds(client, db_session):
    """Beta(2, 2) has mean 1/2: a 2..10 token range is estimated at 6, with its bounds."""
    product, _ = await make_product(db_session)
    await make_campaign(
        db_session,
        product,
        trigger="webshop.open",
        reward_type="range",
        reward_config={"start": str(2 * E18), "end": str(10 * E18), "beta_bps": 20_000},
    )
    snapshots.invalidate_product_campaigns(product.id)

    response = await client.get(
        f"/api/external/products/{product.id}/estimate",
        params={"wallet": wallet(), "type": "webshop.open"},
    )

    assert response.status_code == 200, response.text
    [found] = response.json()["campaigns"]
    assert (found["base_min"], found["base"], found["base_max"]) == (
        str(2 * E18),
        str(6 * E18),
        str(10 * E18),
    )
    assert (found["eligible"], found["user"], found["referrers"]) == (True, str(6 * E18), [])
    assert await count(db_session, "SELECT count(*) FROM rewards") == 0
