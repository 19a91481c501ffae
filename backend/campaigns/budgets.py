"""Campaign budgets on the product's bank: allocate, re-size, deactivate, and read them.

ProductBank.allocateCampaignBudget is a compare-and-set on what a campaign may
still pay: it names the remaining amount it expects (read just before) and the
new one (UNLIMITED = no cap; 0 means nothing left). A push that lands in between
makes it revert "budget changed" instead of being overwritten: the write is then
recomputed from a fresh read, once. Every write first reads the chain and skips
the transaction when the bank already holds the target. Settlement needs an
allocation for every campaign it pushes, capped or not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.campaigns.models import Campaign, CampaignStatus
from backend.chain.client import ChainRevert
from backend.core.context import AppContext
from backend.core.errors import Conflict, Unavailable
from backend.products.authorization import authorize
from backend.products.bank import read_bank
from backend.products.chain import bound, bytes32, read, signer_key, signer_thread, transact
from backend.products.models import ProductBank
from backend.products.schemas import BankRead, CampaignBudget
from backend.rewards.models import Reward, RewardStatus

UNLIMITED = 2**256 - 1  # getCampaignBudget's answer for an uncapped campaign, and how one is set
# (active on the bank, remaining on the bank) -> the remaining amount to set
Target = Callable[[bool, int], Awaitable[int]]


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
    """Make the bank hold `budget` (UNLIMITED = no cap, 0 = nothing left) for the campaign.

    The transaction's hash, or None when the bank held it already.
    """

    async def target(active: bool, remaining: int) -> int:
        return budget

    return await _compare_and_set(ctx, bank, campaign, target)


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


async def sync(
    session: AsyncSession,
    ctx: AppContext,
    bank: str,
    campaign: Campaign,
    previous_cap: int | None = None,
) -> str | None:
    """Make the bank's remaining budget match the campaign's cap (budget_cap 0 = unlimited).

    On activation (`previous_cap` None) and after an edit of budget_cap (the cap
    before the edit). A capped bank moves by the cap's delta from what it holds
    now, so batches in flight are neither forgotten nor counted twice. The
    result is kept between two bounds from the database, cap - pushed - in flight
    and cap - pushed, which hold whatever the in-flight batches do: so a retry
    after a crash between the mined transaction and the commit cannot apply the
    delta twice beyond them, and with nothing in flight it sends nothing.
    """
    cap = campaign.budget_cap
    if cap == 0:
        return await allocate(ctx, bank, campaign, UNLIMITED)

    async def target(active: bool, remaining: int) -> int:
        pushed, in_flight = await _settled_and_in_flight(session, campaign)
        highest = max(cap - pushed, 0)  # nothing in flight lands
        lowest = max(highest - in_flight, 0)  # everything in flight lands
        if not active or remaining == UNLIMITED:
            # A first allocation, or a cap on a campaign that had none: count every batch
            # in flight as paid, so the bank never allows more than the cap.
            return lowest
        delta = cap - previous_cap if previous_cap else 0
        return min(max(remaining + delta, lowest), highest)

    return await _compare_and_set(ctx, bank, campaign, target)


async def _settled_and_in_flight(session: AsyncSession, campaign: Campaign) -> tuple[int, int]:
    """(pushed, batched) reward sums of the campaign: paid for sure, and maybe paid."""
    rows = await session.execute(
        select(Reward.status, func.coalesce(func.sum(Reward.amount), 0))
        .where(
            Reward.product_id == campaign.product_id,
            Reward.campaign_id == campaign.id,
            Reward.status.in_((RewardStatus.PUSHED, RewardStatus.BATCHED)),
        )
        .group_by(Reward.status)
    )
    sums = {status: int(total) for status, total in rows.all()}
    return sums.get("pushed", 0), sums.get("batched", 0)


async def _compare_and_set(
    ctx: AppContext, bank: str, campaign: Campaign, target: Target
) -> str | None:
    """allocateCampaignBudget(expected = the remaining just read, new = target(active, it)).

    A "budget changed" revert (a push or another allocation landed in between)
    is retried once from a fresh read; a second one is a 409 `budget_changed`.
    """
    try:
        return await _set_once(ctx, bank, campaign, target)
    except Conflict as exc:
        if exc.code != "budget_changed":
            raise
    return await _set_once(ctx, bank, campaign, target)


async def _set_once(ctx: AppContext, bank: str, campaign: Campaign, target: Target) -> str | None:
    active, remaining = await on_chain_budget(ctx, bank, campaign)
    budget = await target(active, remaining)
    if active and remaining == budget:
        return None
    key = signer_key(ctx)
    args = (bytes32(campaign.chain_campaign_id), campaign.token, remaining, budget)
    tx_hash, _ = await _send(
        ctx,
        lambda w3, floor: transact(
            w3, key, "ProductBank", bank, "allocateCampaignBudget", *args, nonce_floor=floor
        ),
    )
    return tx_hash


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
        if exc.code == "budget_changed":
            raise Conflict(
                "the campaign's budget on the bank changed while it was being set "
                "(a batch was paid meanwhile); retry",
                code="budget_changed",
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
