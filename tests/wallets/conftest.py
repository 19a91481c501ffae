"""Wallet API fixtures: the indexer's chain fixtures plus reward rows in the database."""

from __future__ import annotations

from typing import Any

from backend.interactions.models import Interaction
from backend.rewards.models import Reward
from tests.indexer.conftest import chain, deployed, deployed_at, make_indexer  # noqa: F401


async def make_reward(
    session, product, campaign, wallet: str, amount: int, **fields: Any
) -> Reward:
    """A committed reward row (with the interaction that earned it)."""
    interaction = Interaction(
        product_id=product.id, wallet=wallet, type="purchase.completed", source="api_key"
    )
    session.add(interaction)
    await session.flush()
    reward = Reward(
        product_id=product.id,
        campaign_id=campaign.id,
        interaction_id=interaction.id,
        wallet=wallet,
        level=fields.pop("level", 0),
        token=fields.pop("token", campaign.token),
        amount=amount,
        **fields,
    )
    session.add(reward)
    await session.commit()
    return reward
