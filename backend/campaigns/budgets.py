"""Campaign budgets on the product's bank: allocate, re-size, deactivate, and read them.

ProductBank.allocateCampaignBudget *sets* what a campaign may still pay (0 =
unlimited), so repeating an allocation is harmless; still, every write first
reads the chain and skips the transaction when the bank already says so.
Settlement needs an allocation for every campaign it pushes, capped or not.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal, authorize
from backend.campaigns.models import Campaign, CampaignStatus
from backend.chain.client import ChainRevert
from backend.core.context import AppContext
from backend.core.errors import Conflict, Unavailable
from backend.products.bank import read_bank
from backend.products.chain import bound, bytes32, read, signer_key, signer_thread, transact
from backend.products.models import ProductBank
from backend.products.schemas import BankRead, CampaignBudget
from backend.rewards.models import Reward

UNLIMITED = 2**256 - 1  # what getCampaignBudget answers for an uncapped campaign


async def on_chain_budget(ctx: AppContext, bank: str, campaign: Campaign) -> tuple[bool, int]:
    """(allocated and not deactivated, remaining) as the bank reports them now."""
    contract = bound(ctx, "ProductBank", bank)
    cid, token = bytes32(campaign.chain_campaign_id), campaign.token
    active, remaining = await read(
        asyncio.gather(
            contract.functions.isCampaignActive(cid, token).call(),
            contract.functions.getCampaignBudget(cid, token).call(),
        )
    )
    return bool(active), int(remaining)


async def allocate(ctx: AppContext, bank: str, campaign: Campaign, budget: int) -> str | None:
    """Make the bank hold `budget` (0 = unlimited) for the campaign; tx hash, None if it did."""
    active, remaining = await on_chain_budget(ctx, bank, campaign)
    if active and remaining == (UNLIMITED if budget == 0 else budget):
        return None
    key = signer_key(ctx)
    args = (bytes32(campaign.chain_campaign_id), campaign.token, budget)
    tx_hash, _ = await _send(
        ctx,
        lambda w3, floor: transact(
            w3, key, "ProductBank", bank, "allocateCampaignBudget", *args, nonce_floor=floor
        ),
    )
    return tx_hash


async def deactivate(ctx: AppContext, bank: str, campaign: Campaign) -> str | None:
    """Stop the campaign on the bank for good; None when the bank had stopped it already."""
    key = signer_key(ctx)
    cid = bytes32(campaign.chain_campaign_id)
    try:
        tx_hash, _ = await _send(
            ctx,
            lambda w3, floor: transact(
                w3, key, "ProductBank", bank, "deactivateCampaign", cid, nonce_floor=floor
            ),
        )
    except Conflict as exc:
        if exc.code == "campaign_deactivated_on_chain":
            return None
        raise
    return tx_hash


async def sync(session: AsyncSession, ctx: AppContext, bank: str, campaign: Campaign) -> str | None:
    """Make the bank's remaining budget match the campaign: cap minus what was pushed.

    Used on activation and after an edit of budget_cap. It depends only on the
    database, so a retry after a crash sets the same value (and, the chain
    already agreeing, sends nothing). A batch sent but not yet confirmed is not
    subtracted: the bank may allow that much more, while the database cap
    (enforced by the engine when rewards are created) still holds.
    """
    if campaign.budget_cap == 0:
        return await allocate(ctx, bank, campaign, 0)
    pushed = await session.scalar(
        select(func.coalesce(func.sum(Reward.amount), 0)).where(
            Reward.product_id == campaign.product_id,
            Reward.campaign_id == campaign.id,
            Reward.status == "pushed",
        )
    )
    target = campaign.budget_cap - int(pushed or 0)
    if target <= 0:
        # 0 would mean "unlimited" on-chain: leave the bank's remainder as it is; the
        # database cap (budget_cap >= used_budget) stops further rewards.
        return None
    return await allocate(ctx, bank, campaign, target)


async def _send(ctx: AppContext, work: Any) -> tuple[str, int]:
    try:
        result: tuple[str, int] = await signer_thread(ctx, work)
    except ChainRevert as exc:
        details = {"revert": exc.reason, "revert_code": exc.code}
        if exc.code == "not_manager":
            raise Conflict(
                "the backend signer is no longer a manager of this bank; "
                "the owner must grant the role back",
                code="bank_not_managed",
                details=details,
            ) from None
        if exc.code == "campaign_deactivated":
            raise Conflict(
                "the bank has deactivated this campaign for good",
                code="campaign_deactivated_on_chain",
                details=details,
            ) from None
        raise Unavailable(
            f"the bank refused the transaction: {exc.reason}", code="chain_error", details=details
        ) from None
    return result


async def bank_overview(
    session: AsyncSession, principal: Principal, product_id: str, ctx: AppContext
) -> BankRead:
    """The bank read live, with the on-chain budget of every campaign that was allocated."""
    product = await authorize(session, principal, product_id, None)
    bank = await session.get(ProductBank, product.id)
    campaigns = list(
        await session.scalars(
            select(Campaign)
            .where(Campaign.product_id == product.id, Campaign.status != CampaignStatus.DRAFT)
            .order_by(Campaign.created_at)
        )
    )
    budgets: list[CampaignBudget] = []
    if bank is not None:
        states = await asyncio.gather(*(on_chain_budget(ctx, bank.address, c) for c in campaigns))
        for campaign, (active, remaining) in zip(campaigns, states, strict=True):
            budgets.append(
                CampaignBudget(
                    campaign_id=str(campaign.id),
                    chain_campaign_id=campaign.chain_campaign_id,
                    token=campaign.token,
                    status=campaign.status,
                    active_on_chain=active,
                    unlimited=active and remaining == UNLIMITED,
                    remaining="0" if remaining == UNLIMITED else str(remaining),
                )
            )
    return await read_bank(session, product, ctx, budgets)
