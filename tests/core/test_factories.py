"""The factories build rows the schema accepts, with the derivations the code relies on."""

from __future__ import annotations

from eth_utils import keccak

from tests.factories import make_campaign, make_product


async def test_product_and_campaign__round_trip(db_session):
    product, key = await make_product(db_session, domain="Shop.Example")
    campaign = await make_campaign(db_session, product, budget_cap=10**21)
    assert product.id == "0x" + keccak(text="shop.example").hex()
    assert key.startswith("csk_")
    assert campaign.budget_cap == 10**21 and isinstance(campaign.budget_cap, int)
    assert campaign.chain_campaign_id == "0x" + keccak(campaign.id.bytes).hex()
