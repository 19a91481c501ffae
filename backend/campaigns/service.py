"""Campaigns: create, list, read and edit. Status changes live in transitions.py.

Edits take effect for the next interaction: they change the row (under its
lock, bumping `version`) and drop the engine's short cache of active campaigns.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.service import record
from backend.auth.principal import Principal
from backend.campaigns import budgets, rules, schemas
from backend.campaigns.ids import chain_campaign_id
from backend.campaigns.models import Campaign, CampaignStatus
from backend.core.context import AppContext
from backend.core.errors import Conflict, NotFound
from backend.products import service as products
from backend.products import settings_cache
from backend.products.authorization import authorize
from backend.products.models import ProductBank, Role
from backend.products.tokens import registered_address
from backend.products.validation import invalid

# Statuses in which the bank holds an allocation for the campaign.
ALLOCATED = frozenset(
    {
        CampaignStatus.ACTIVE,
        CampaignStatus.PAUSED,
        CampaignStatus.BUDGET_EXHAUSTED,
        CampaignStatus.EXPIRED,
    }
)


def campaigns_changed(product_id: str) -> None:
    """The engine caches active campaigns per product for a few seconds: drop them now."""
    from backend.campaigns import snapshots

    snapshots.invalidate_product_campaigns(product_id)


async def delete_product(session: AsyncSession, principal: Principal, product_id: str) -> None:
    """Soft delete a product and pause its active campaigns, in one transaction.

    Here rather than in products: campaigns depend on products, never the reverse.
    """
    product = await products.mark_deleted(session, principal, product_id)
    await session.execute(
        update(Campaign)
        .where(Campaign.product_id == product.id, Campaign.status == CampaignStatus.ACTIVE)
        .values(
            status=CampaignStatus.PAUSED,
            status_reason="product deleted",
            chain_refused=False,
            version=Campaign.version + 1,
        )
    )
    await session.commit()
    settings_cache.invalidate_product(product.id)
    campaigns_changed(product.id)


async def create_campaign(
    session: AsyncSession, principal: Principal, product_id: str, data: schemas.CampaignCreate
) -> Campaign:
    """A new draft campaign; nothing happens on-chain until it is activated."""
    product = await authorize(session, principal, product_id, Role.CAMPAIGN_MANAGER)
    values = rules.column_values(data)
    values["token"] = await _registered_token(session, product.id, values["token"])
    campaign_id = uuid.uuid4()
    campaign = Campaign(
        id=campaign_id,
        product_id=product.id,
        chain_campaign_id=chain_campaign_id(campaign_id),
        status=CampaignStatus.DRAFT.value,
        used_budget=0,
        version=1,
        **values,
    )
    session.add(campaign)
    await session.flush()
    await session.refresh(campaign)
    record(
        session,
        actor=principal.actor,
        product_id=product.id,
        action="campaign.create",
        entity="campaign",
        entity_id=str(campaign.id),
        after=rules.snapshot(campaign),
    )
    await session.commit()
    return campaign


async def list_campaigns(
    session: AsyncSession, principal: Principal, product_id: str, status: str | None = None
) -> list[Campaign]:
    product = await authorize(session, principal, product_id, None)
    query = select(Campaign).where(Campaign.product_id == product.id)
    if status is not None:
        if status not in {s.value for s in CampaignStatus}:
            raise invalid("status", f"unknown status {status!r}")
        query = query.where(Campaign.status == status)
    return list(await session.scalars(query.order_by(Campaign.created_at, Campaign.id)))


async def load_campaign(
    session: AsyncSession,
    principal: Principal,
    campaign_id: str,
    role: Role | None,
    *,
    lock: bool = False,
) -> Campaign:
    """A campaign the caller may see (404 otherwise, never revealing other products')."""
    try:
        parsed = uuid.UUID(campaign_id)
    except ValueError:
        raise NotFound("campaign not found", code="campaign_not_found") from None
    campaign = await session.get(Campaign, parsed)
    if campaign is None:
        raise NotFound("campaign not found", code="campaign_not_found")
    try:
        await authorize(session, principal, campaign.product_id, role)
    except NotFound:
        raise NotFound("campaign not found", code="campaign_not_found") from None
    if lock:
        await session.refresh(campaign, with_for_update=True)
    return campaign


async def get_campaign(session: AsyncSession, principal: Principal, campaign_id: str) -> Campaign:
    return await load_campaign(session, principal, campaign_id, None)


async def update_campaign(
    session: AsyncSession,
    principal: Principal,
    campaign_id: str,
    patch: schemas.CampaignUpdate,
    ctx: AppContext,
) -> Campaign:
    """Edit a campaign; the whole edited campaign is re-validated, then applied at once."""
    campaign = await load_campaign(
        session, principal, campaign_id, Role.CAMPAIGN_MANAGER, lock=True
    )
    if patch.version is not msgspec.UNSET and patch.version != campaign.version:
        raise Conflict(
            f"the campaign changed meanwhile (version {campaign.version}); reload and retry",
            code="version_conflict",
            details={"field": "version", "current": campaign.version},
        )
    if campaign.status == CampaignStatus.DEACTIVATED:
        raise Conflict("a deactivated campaign cannot change", code="campaign_deactivated")
    values = rules.column_values(rules.merged(campaign, patch))
    if values["token"].lower() == campaign.token.lower():
        values["token"] = campaign.token
    draft = campaign.status == CampaignStatus.DRAFT
    for field in ("token", "budget_period"):
        if values[field] != getattr(campaign, field) and not draft:
            raise invalid(field, "can only change while the campaign is a draft")
    if values["token"] != campaign.token:
        values["token"] = await _registered_token(session, campaign.product_id, values["token"])
    if values["budget_cap"] and values["budget_cap"] < campaign.used_budget:
        raise invalid("budget_cap", f"must be at least the {campaign.used_budget} already used")
    before = rules.snapshot(campaign)
    cap_changed = values["budget_cap"] != campaign.budget_cap
    previous_cap = campaign.budget_cap
    for field, value in values.items():
        setattr(campaign, field, value)
    if cap_changed and campaign.status in ALLOCATED:
        bank = await session.get(ProductBank, campaign.product_id)
        if bank is not None:
            tx_hash = await budgets.sync(session, ctx, bank.address, campaign, previous_cap)
            campaign.budget_allocated_tx = tx_hash or campaign.budget_allocated_tx
    return await save(session, principal, campaign, "campaign.update", before)


async def save(
    session: AsyncSession,
    principal: Principal,
    campaign: Campaign,
    action: str,
    before: dict[str, object],
) -> Campaign:
    """Bump the version, audit before/after and commit, then refresh the engine's view."""
    campaign.version += 1
    campaign.updated_at = datetime.now(UTC)
    await session.flush()
    record(
        session,
        actor=principal.actor,
        product_id=campaign.product_id,
        action=action,
        entity="campaign",
        entity_id=str(campaign.id),
        before=before,  # type: ignore[arg-type]
        after=rules.snapshot(campaign),
    )
    await session.commit()
    campaigns_changed(campaign.product_id)
    return campaign


async def _registered_token(session: AsyncSession, product_id: str, token: str) -> str:
    """The token as the product registered it (so joins on product_tokens match)."""
    registered = await registered_address(session, product_id, token)
    if registered is None:
        raise invalid("token", "is not registered for this product (POST .../tokens first)")
    return registered
