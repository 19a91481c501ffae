"""Dashboard pages of campaigns: create and edit forms, status changes, analytics with charts.

The form mirrors every CampaignCreate field; it is converted to the API's own
schema and handed to the campaigns service, so the page and the API obey one
set of rules. The analytics block is also served alone (`.../analytics`), which
the page's script re-fetches every few seconds to keep the numbers live.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.campaigns import analytics, service, transitions
from backend.campaigns import schemas as cs
from backend.campaigns.models import Campaign, CampaignStatus
from backend.core.context import AppContext
from backend.core.errors import DomainError, NotFound
from backend.dashboard import analytics_view, insights
from backend.dashboard.forms import FormReader, Refused, attempt, campaign_values, convert
from backend.dashboard.web import render, see_other
from backend.products import service as products
from backend.products import tokens
from backend.products.models import ProductToken
from backend.wallets.service import chain_id_of

Page = Response[str] | Redirect
TRIGGER_SUGGESTIONS = (
    "purchase.completed",
    "referral.referred",
    "referral.link_creation",
    "content.shared",
    "webshop.open",
    "press.read_article",
    "custom.signup",
)
ACTIONS = ("activate", "pause", "deactivate")


def form_of(campaign: Campaign) -> dict[str, Any]:
    """A campaign as the form's field values (the inverse of forms.campaign_values)."""
    reward = campaign.reward_config
    tiers = "\n".join(
        f"{t['min_order']} {t['amount']}"
        for t in cs.reward_view(campaign.reward_type, reward).get("tiers", [])
    )
    return {
        "name": campaign.name,
        "trigger": campaign.trigger,
        "token": campaign.token,
        "reward_type": campaign.reward_type,
        "reward_amount": reward.get("amount", ""),
        "reward_start": reward.get("start", ""),
        "reward_end": reward.get("end", ""),
        "reward_beta_bps": reward.get("beta_bps", ""),
        "reward_bps": reward.get("bps", ""),
        "reward_cap": reward.get("cap", ""),
        "reward_tiers": tiers,
        "user_bps": campaign.user_bps,
        "decay_bps": campaign.decay_bps,
        "max_depth": campaign.max_depth,
        "requires_referral": campaign.requires_referral,
        "max_rewards_per_user": campaign.max_rewards_per_user or "",
        "budget_cap": campaign.budget_cap,
        "budget_period": campaign.budget_period,
        "period_cap": campaign.period_cap,
        "lockup_seconds": campaign.lockup_seconds,
        "settle_max_wait_s": campaign.settle_max_wait_s,
        "settle_min_rewards": campaign.settle_min_rewards or "",
        "settle_min_amount": campaign.settle_min_amount or "",
        "starts_at": _local(campaign.starts_at),
        "ends_at": _local(campaign.ends_at),
        "version": campaign.version,
    }


def _local(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _submitted(reader: FormReader) -> dict[str, Any]:
    values: dict[str, Any] = {key: reader.text(key) for key in reader.form}
    values["requires_referral"] = reader.checked("requires_referral")
    return values


async def _form_page(
    request: Request[Any, Any, Any],
    viewer: Principal,
    session: AsyncSession,
    product_id: str,
    *,
    campaign: Campaign | None,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    product = await products.get_product(session, viewer, product_id)
    token_list = await tokens.list_tokens(session, viewer, product.id)
    return render(
        request,
        "campaign_form.html",
        status=status,
        viewer=viewer,
        product=product,
        campaign=campaign,
        tokens=token_list,
        form=form,
        errors=errors or {},
        triggers=TRIGGER_SUGGESTIONS,
        draft=campaign is None or campaign.status == CampaignStatus.DRAFT,
        tab="campaigns",
    )


@get("/products/{product_id:str}/campaigns/new")
async def new_campaign(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    defaults = {
        "trigger": "purchase.completed",
        "reward_type": "fixed",
        "user_bps": 5000,
        "decay_bps": 8000,
        "max_depth": 5,
        "budget_cap": 0,
        "budget_period": "total",
        "period_cap": 0,
        "lockup_seconds": 0,
        "settle_max_wait_s": 0,
    }
    return await _form_page(request, viewer, db_session, product_id, campaign=None, form=defaults)


@post("/products/{product_id:str}/campaigns")
async def create_campaign(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    reader = FormReader(await request.form())

    async def create() -> Campaign:
        values = campaign_values(reader)
        reader.check()
        data = convert(values, cs.CampaignCreate)
        return await service.create_campaign(db_session, viewer, product_id, data)

    created = await attempt(db_session, create)
    if isinstance(created, Refused):
        return await _form_page(
            request,
            viewer,
            db_session,
            product_id,
            campaign=None,
            form=_submitted(reader),
            errors=created.errors,
            status=422,
        )
    return see_other(f"/dashboard/campaigns/{created.id}")


@get("/campaigns/{campaign_id:str}/edit")
async def edit_campaign(
    request: Request[Any, Any, Any], campaign_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    campaign = await service.get_campaign(db_session, viewer, campaign_id)
    return await _form_page(
        request, viewer, db_session, campaign.product_id, campaign=campaign, form=form_of(campaign)
    )


@post("/campaigns/{campaign_id:str}")
async def update_campaign(
    request: Request[Any, Any, Any],
    campaign_id: str,
    viewer: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Page:
    campaign = await service.get_campaign(db_session, viewer, campaign_id)
    reader = FormReader(await request.form())

    async def update() -> None:
        values = campaign_values(reader, editable_token=campaign.status == CampaignStatus.DRAFT)
        values["version"] = reader.integer("version")
        reader.check()
        data = convert(
            {k: v for k, v in values.items() if v is not None or k in _NULLABLE}, cs.CampaignUpdate
        )
        await service.update_campaign(db_session, viewer, campaign_id, data, app_context)

    refused = await attempt(db_session, update)
    if isinstance(refused, Refused):
        current = await service.get_campaign(db_session, viewer, campaign_id)
        return await _form_page(
            request,
            viewer,
            db_session,
            current.product_id,
            campaign=current,
            form=_submitted(reader),
            errors=refused.errors,
            status=422 if refused.status == 422 else 409,  # 409: someone edited it meanwhile
        )
    return see_other(f"/dashboard/campaigns/{campaign_id}")


_NULLABLE = frozenset(
    {"max_rewards_per_user", "starts_at", "ends_at", "settle_min_rewards", "settle_min_amount"}
)


@post("/campaigns/{campaign_id:str}/{action:str}")
async def change_status(
    request: Request[Any, Any, Any],
    campaign_id: str,
    action: str,
    viewer: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Page:
    if action not in ACTIONS:
        raise NotFound(f"unknown action {action!r}")
    try:
        if action == "activate":
            await transitions.activate(db_session, viewer, campaign_id, app_context)
        elif action == "pause":
            await transitions.pause(db_session, viewer, campaign_id)
        else:
            await transitions.deactivate(db_session, viewer, campaign_id, app_context)
    except DomainError as exc:
        await db_session.rollback()
        return await _campaign_page(
            request,
            viewer,
            db_session,
            app_context,
            campaign_id,
            status=exc.status_code,
            problem=exc.message,
        )
    return see_other(f"/dashboard/campaigns/{campaign_id}")


async def _analytics_context(
    session: AsyncSession, viewer: Principal, ctx: AppContext, campaign: Campaign
) -> dict[str, Any]:
    """Read what the analytics block shows; `analytics_view.context` shapes it."""
    report = await analytics.campaign_analytics(session, viewer, str(campaign.id))
    return analytics_view.context(
        campaign,
        report,
        await _token(session, campaign),
        await insights.reward_series(session, campaign, await chain_id_of(ctx)),
        await insights.rewards_by_level(session, campaign),
    )


async def _token(session: AsyncSession, campaign: Campaign) -> ProductToken | None:
    for token in await tokens.tokens_of(session, campaign.product_id):
        if token.address == campaign.token:
            return token
    return None


async def _campaign_page(
    request: Request[Any, Any, Any],
    viewer: Principal,
    session: AsyncSession,
    ctx: AppContext,
    campaign_id: str,
    *,
    status: int = 200,
    problem: str = "",
) -> Response[str]:
    campaign = await service.get_campaign(session, viewer, campaign_id)
    product = await products.get_product(session, viewer, campaign.product_id)
    allowed = sorted(transitions.TRANSITIONS.get(campaign.status, frozenset()))
    return render(
        request,
        "campaign.html",
        status=status,
        viewer=viewer,
        product=product,
        campaign=campaign,
        reward=cs.reward_view(campaign.reward_type, campaign.reward_config),
        actions=[_ACTION_OF[s] for s in allowed if s in _ACTION_OF],
        problem=problem,
        tab="campaigns",
        **await _analytics_context(session, viewer, ctx, campaign),
    )


_ACTION_OF = {"active": "activate", "paused": "pause", "deactivated": "deactivate"}


@get("/campaigns/{campaign_id:str}")
async def campaign_page(
    request: Request[Any, Any, Any],
    campaign_id: str,
    viewer: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Page:
    return await _campaign_page(request, viewer, db_session, app_context, campaign_id)


@get("/campaigns/{campaign_id:str}/analytics")
async def analytics_fragment(
    request: Request[Any, Any, Any],
    campaign_id: str,
    viewer: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Page:
    """The analytics block alone: what the campaign page's script swaps in to stay live."""
    campaign = await service.get_campaign(db_session, viewer, campaign_id)
    context = await _analytics_context(db_session, viewer, app_context, campaign)
    return render(request, "analytics.html", campaign=campaign, **context)


route_handlers = [
    new_campaign,
    create_campaign,
    edit_campaign,
    update_campaign,
    change_status,
    campaign_page,
    analytics_fragment,
]
