"""Campaign status changes through the business API, and what they do on-chain.

The allowed moves are listed once (TRANSITIONS); anything else is 409
`invalid_transition`. `budget_exhausted` is set by the engine, `expired` by the
expiry job here (`expire_campaigns`, and the engine when an interaction arrives
late); both can be left again (after raising the cap or moving the end). Each change
holds the campaign's row lock from the check to the commit, so two concurrent
requests cannot both pass the check.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.campaigns import budgets, refunds, rules
from backend.campaigns.models import Campaign, CampaignStatus
from backend.campaigns.service import load_campaign, save
from backend.campaigns.snapshots import invalidate_product_campaigns
from backend.core.context import AppContext
from backend.core.errors import Conflict, InvalidTransition
from backend.products.models import ProductBank, Role

S = CampaignStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.ACTIVE, S.DEACTIVATED}),
    S.ACTIVE: frozenset({S.PAUSED, S.DEACTIVATED}),
    S.PAUSED: frozenset({S.ACTIVE, S.DEACTIVATED}),
    S.BUDGET_EXHAUSTED: frozenset({S.ACTIVE, S.DEACTIVATED}),
    S.EXPIRED: frozenset({S.ACTIVE, S.DEACTIVATED}),
    S.DEACTIVATED: frozenset(),
}


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(
            f"a {current} campaign cannot become {target}",
            details={"from": current, "to": target, "allowed": sorted(TRANSITIONS[current])},
        )


async def activate(
    session: AsyncSession, principal: Principal, campaign_id: str, ctx: AppContext
) -> Campaign:
    """Start (or resume) paying: the bank must hold the campaign's budget first."""
    campaign = await _locked(session, principal, campaign_id)
    check_transition(campaign.status, S.ACTIVE)
    if campaign.ends_at is not None and campaign.ends_at <= datetime.now(UTC):
        raise InvalidTransition(
            "the campaign has ended; move ends_at first", details={"field": "ends_at"}
        )
    refused = campaign.chain_refused
    # A campaign the bank refused owes the rewards it granted within its cap: the owner
    # re-activates it after funding the bank; new rewards still stop at the cap.
    if not refused and campaign.budget_cap and campaign.used_budget >= campaign.budget_cap:
        raise InvalidTransition(
            "the budget is used up; raise budget_cap first", details={"field": "budget_cap"}
        )
    bank = await session.get(ProductBank, campaign.product_id)
    if bank is None:
        raise Conflict(
            "deploy the product's bank before activating a campaign (POST .../bank)",
            code="bank_required",
        )
    before = rules.snapshot(campaign)
    tx_hash = await budgets.sync(session, ctx, bank.address, campaign)
    campaign.budget_allocated_tx = tx_hash or campaign.budget_allocated_tx
    campaign.status = S.ACTIVE
    campaign.status_reason = None
    campaign.chain_refused = False
    return await save(session, principal, campaign, "campaign.activate", before)


async def pause(session: AsyncSession, principal: Principal, campaign_id: str) -> Campaign:
    """Stop creating rewards; rewards already earned still settle."""
    campaign = await _locked(session, principal, campaign_id)
    check_transition(campaign.status, S.PAUSED)
    before = rules.snapshot(campaign)
    campaign.status = S.PAUSED
    campaign.status_reason = None
    campaign.chain_refused = False
    return await save(session, principal, campaign, "campaign.pause", before)


async def deactivate(
    session: AsyncSession, principal: Principal, campaign_id: str, ctx: AppContext
) -> Campaign:
    """End the campaign for good, on the bank too (its unsent batches can no longer pay)."""
    campaign = await _locked(session, principal, campaign_id)
    check_transition(campaign.status, S.DEACTIVATED)
    before = rules.snapshot(campaign)
    bank = await session.get(ProductBank, campaign.product_id)
    if bank is not None and await _allocated(ctx, bank.address, campaign):
        await budgets.deactivate(ctx, bank.address, campaign)
    campaign.status = S.DEACTIVATED
    campaign.status_reason = None
    campaign.chain_refused = False
    # The bank refuses this campaign for good: what it has not batched yet can never pay.
    # (Rows in flight are cancelled when settlement retires their batch.)
    await session.flush()
    await refunds.cancel_campaign_rewards(session, campaign.id, "campaign_deactivated")
    return await save(session, principal, campaign, "campaign.deactivate", before)


async def _allocated(ctx: AppContext, bank: str, campaign: Campaign) -> bool:
    # A draft normally has nothing on the bank, unless an activation crashed after its
    # allocation was mined: ask the chain rather than trust the status.
    if campaign.status != S.DRAFT:
        return True
    active, _ = await budgets.on_chain_budget(ctx, bank, campaign)
    return active


async def _locked(session: AsyncSession, principal: Principal, campaign_id: str) -> Campaign:
    return await load_campaign(session, principal, campaign_id, Role.CAMPAIGN_MANAGER, lock=True)


async def expire_campaigns(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Scheduler job: campaigns past ends_at become `expired`. Returns how many; commits."""
    rows = await session.execute(
        text(
            "UPDATE campaigns SET status = 'expired', status_reason = 'ends_at passed', "
            "chain_refused = false, updated_at = now() "
            "WHERE status IN ('active', 'paused', 'budget_exhausted') AND ends_at IS NOT NULL "
            "AND ends_at <= :now RETURNING product_id"
        ),
        {"now": now or datetime.now(UTC)},
    )
    products = [row.product_id for row in rows]
    await session.commit()
    for product_id in set(products):
        invalidate_product_campaigns(product_id)
    return len(products)
