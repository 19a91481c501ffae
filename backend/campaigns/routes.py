"""HTTP for campaigns, their status changes and analytics, and the product's bank.

The bank endpoints live here because the bank view includes campaign budgets
(campaigns -> products); the deployment service itself is backend.products.bank.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, Response, Router, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.campaigns import analytics, budgets, service, transitions
from backend.campaigns import schemas as s
from backend.core.context import AppContext
from backend.core.idempotency import created, idempotent
from backend.products import bank
from backend.products.schemas import BankRead

CAMPAIGN = "/campaigns/{campaign_id:str}"


@post(
    "/products/{product_id:str}/campaigns",
    summary="Create a draft campaign",
    responses=created(s.CampaignRead),
)
async def create_campaign(
    request: Request[Any, Any, Any],
    product_id: str,
    data: s.CampaignCreate,
    principal: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Response[bytes]:
    async def work() -> tuple[int, s.CampaignRead]:
        campaign = await service.create_campaign(db_session, principal, product_id, data)
        return 201, s.CampaignRead.of(campaign)

    return await idempotent(request, app_context.sessions, principal.actor, work)


@get("/products/{product_id:str}/campaigns", summary="A product's campaigns")
async def list_campaigns(
    product_id: str,
    principal: Principal,
    db_session: AsyncSession,
    status: str | None = None,
) -> list[s.CampaignRead]:
    campaigns = await service.list_campaigns(db_session, principal, product_id, status)
    return [s.CampaignRead.of(c) for c in campaigns]


@get(CAMPAIGN, summary="One campaign")
async def get_campaign(
    campaign_id: str, principal: Principal, db_session: AsyncSession
) -> s.CampaignRead:
    return s.CampaignRead.of(await service.get_campaign(db_session, principal, campaign_id))


@patch(CAMPAIGN, summary="Edit a campaign; applies to the next interaction")
async def update_campaign(
    campaign_id: str,
    data: s.CampaignUpdate,
    principal: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> s.CampaignRead:
    campaign = await service.update_campaign(db_session, principal, campaign_id, data, app_context)
    return s.CampaignRead.of(campaign)


@post(CAMPAIGN + "/activate", status_code=200, summary="Activate; allocates the budget on the bank")
async def activate_campaign(
    campaign_id: str, principal: Principal, db_session: AsyncSession, app_context: AppContext
) -> s.CampaignRead:
    campaign = await transitions.activate(db_session, principal, campaign_id, app_context)
    return s.CampaignRead.of(campaign)


@post(CAMPAIGN + "/pause", status_code=200, summary="Pause: no new rewards")
async def pause_campaign(
    campaign_id: str, principal: Principal, db_session: AsyncSession
) -> s.CampaignRead:
    return s.CampaignRead.of(await transitions.pause(db_session, principal, campaign_id))


@post(CAMPAIGN + "/deactivate", status_code=200, summary="End for good, on the bank too")
async def deactivate_campaign(
    campaign_id: str, principal: Principal, db_session: AsyncSession, app_context: AppContext
) -> s.CampaignRead:
    campaign = await transitions.deactivate(db_session, principal, campaign_id, app_context)
    return s.CampaignRead.of(campaign)


@get(CAMPAIGN + "/analytics", summary="Campaign analytics (JSON, or CSV with ?format=csv)")
async def campaign_analytics(
    campaign_id: str,
    principal: Principal,
    db_session: AsyncSession,
    output: Annotated[Literal["json", "csv"], Parameter(query="format")] = "json",
) -> Response[Any]:
    report = await analytics.campaign_analytics(db_session, principal, campaign_id)
    if output == "csv":
        return Response(
            analytics.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'},
        )
    return Response(report)


@post(
    "/products/{product_id:str}/bank",
    summary="Deploy the product's bank (idempotent, admin)",
    responses=created(BankRead, 201, 200),
)
async def deploy_bank(
    request: Request[Any, Any, Any],
    product_id: str,
    principal: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Response[bytes]:
    async def work() -> tuple[int, BankRead]:
        view, created = await bank.deploy_bank(db_session, principal, product_id, app_context)
        return (201 if created else 200), view

    return await idempotent(request, app_context.sessions, principal.actor, work)


@get("/products/{product_id:str}/bank", summary="The bank read live: balances, budgets, roles")
async def get_bank(
    product_id: str, principal: Principal, db_session: AsyncSession, app_context: AppContext
) -> BankRead:
    return await budgets.bank_overview(db_session, principal, product_id, app_context)


router = Router(
    path="/api/business",
    tags=["business: campaigns"],
    route_handlers=[
        create_campaign,
        list_campaigns,
        get_campaign,
        update_campaign,
        activate_campaign,
        pause_campaign,
        deactivate_campaign,
        campaign_analytics,
        deploy_bank,
        get_bank,
    ],
)
route_handlers = [router]
