"""A product's bank tab: deploy the bank, register tokens, read balances and budgets live."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.campaigns import budgets
from backend.campaigns import service as campaigns
from backend.core.context import AppContext
from backend.core.errors import DomainError
from backend.dashboard.forms import Refused, attempt, convert
from backend.dashboard.product_pages import PRODUCT, Page, read_form, roles_of
from backend.dashboard.web import render, see_other
from backend.products import bank, service, tokens
from backend.products import schemas as s


async def _bank_page(
    request: Request[Any, Any, Any],
    viewer: Principal,
    session: AsyncSession,
    ctx: AppContext,
    product_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response[str]:
    product = await service.get_product(session, viewer, product_id)
    token_list = await tokens.list_tokens(session, viewer, product.id)
    view: s.BankRead | None = None
    unavailable = ""
    try:
        view = await budgets.bank_overview(session, viewer, product.id, ctx)
    except DomainError as exc:  # no bank yet (404), or the node is unreachable (503)
        if exc.code != "bank_not_found":
            unavailable = exc.message
    names = {str(c.id): c.name for c in await campaigns.list_campaigns(session, viewer, product.id)}
    return render(
        request,
        "bank.html",
        status=status,
        viewer=viewer,
        product=product,
        bank=view,
        unavailable=unavailable,
        tokens=token_list,
        token_meta={t.address: t for t in token_list},
        campaign_names=names,
        errors=errors or {},
        form=form or {},
        roles=await roles_of(session, viewer, product),
        tab="bank",
    )


@get(PRODUCT + "/bank")
async def bank_page(
    request: Request[Any, Any, Any],
    product_id: str,
    viewer: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Page:
    return await _bank_page(request, viewer, db_session, app_context, product_id)


@post(PRODUCT + "/bank")
async def deploy_bank(
    request: Request[Any, Any, Any],
    product_id: str,
    viewer: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Page:
    try:
        await bank.deploy_bank(db_session, viewer, product_id, app_context)
    except DomainError as exc:  # no form fields: the refusal shows on the bank itself
        await db_session.rollback()
        return await _bank_page(
            request,
            viewer,
            db_session,
            app_context,
            product_id,
            status=exc.status_code,
            errors={"bank": exc.message},
        )
    return see_other(f"/dashboard/products/{product_id}/bank")


@post(PRODUCT + "/tokens")
async def register_token(
    request: Request[Any, Any, Any],
    product_id: str,
    viewer: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Page:
    reader = await read_form(request)

    async def register() -> None:
        data = convert({"address": reader.text("address")}, s.TokenCreate)
        await tokens.register_token(db_session, viewer, product_id, data, app_context)

    refused = await attempt(db_session, register)
    if isinstance(refused, Refused):
        return await _bank_page(
            request,
            viewer,
            db_session,
            app_context,
            product_id,
            status=422,
            errors=refused.errors,
            form={"address": reader.text("address")},
        )
    return see_other(f"/dashboard/products/{product_id}/bank")


route_handlers = [bank_page, deploy_bank, register_token]
