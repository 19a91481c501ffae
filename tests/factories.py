"""Row factories for tests: real rows in the real database, sensible defaults."""

from __future__ import annotations

import uuid
from itertools import count
from typing import Any

from eth_account import Account
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.ids import chain_campaign_id
from backend.campaigns.models import Campaign
from backend.products.ids import new_api_key, normalize_domain, product_id_for
from backend.products.models import ApiKey, Product, ProductToken, Role

_sequence = count(1)
TEST_TOKEN = "0x" + "7e" * 20  # a token address for rows that never touch the chain


def wallet() -> str:
    """A fresh random checksummed address."""
    return Account.create().address


async def make_product(
    session: AsyncSession,
    *,
    domain: str | None = None,
    owner: str | None = None,
    roles: Role = Role.ALL,
    **fields: Any,
) -> tuple[Product, str]:
    """A committed product and a fresh API key for it (the key is returned in clear)."""
    domain = normalize_domain(domain or f"shop{next(_sequence)}-{uuid.uuid4().hex[:6]}.example")
    product = Product(
        id=product_id_for(domain),
        name=fields.pop("name", f"Product {domain}"),
        primary_domain=domain,
        domains=fields.pop("domains", [domain]),
        owner_wallet=owner or wallet(),
        **fields,
    )
    session.add(product)
    await session.flush()  # no ORM relationships: insert the parent before its key
    key, prefix, key_hash = new_api_key()
    session.add(
        ApiKey(product_id=product.id, name="test", prefix=prefix, key_hash=key_hash, roles=roles)
    )
    await session.commit()
    return product, key


async def make_token(
    session: AsyncSession, product: Product, address: str = TEST_TOKEN, decimals: int = 18
) -> ProductToken:
    token = ProductToken(product_id=product.id, address=address, symbol="TST", decimals=decimals)
    session.add(token)
    await session.commit()
    return token


async def make_campaign(session: AsyncSession, product: Product, **overrides: Any) -> Campaign:
    """A committed campaign; active, fixed 10 tokens (18 decimals), 50% user, 80% decay."""
    campaign_id = overrides.pop("id", uuid.uuid4())
    values: dict[str, Any] = {
        "name": "Test campaign",
        "trigger": "purchase.completed",
        "token": TEST_TOKEN,
        "reward_type": "fixed",
        "reward_config": {"amount": str(10 * 10**18)},
        "user_bps": 5_000,
        "decay_bps": 8_000,
        "max_depth": 5,
        "requires_referral": False,
        "status": "active",
    }
    values.update(overrides)
    campaign = Campaign(
        id=campaign_id,
        product_id=product.id,
        chain_campaign_id=chain_campaign_id(campaign_id),
        **values,
    )
    session.add(campaign)
    await session.commit()
    return campaign
