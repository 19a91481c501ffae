"""A product's access forms, shown on its settings tab: API keys and members (admins)."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.dashboard.forms import Refused, attempt, convert
from backend.dashboard.product_pages import PRODUCT, Page, read_form
from backend.dashboard.product_settings_pages import settings_page_with
from backend.dashboard.web import render, see_other
from backend.products import access, service
from backend.products import schemas as s
from backend.products.models import ApiKey
from backend.products.validation import role_names


@post(PRODUCT + "/api-keys")
async def create_api_key(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    reader = await read_form(request)

    async def create() -> tuple[ApiKey, str]:
        data = convert({"name": reader.text("name"), "roles": reader.all("roles")}, s.ApiKeyCreate)
        return await access.create_api_key(db_session, viewer, product_id, data)

    created = await attempt(db_session, create)
    if isinstance(created, Refused):
        return await settings_page_with(
            request,
            viewer,
            db_session,
            product_id,
            refused=created,
            failed="api-key",
            reader=reader,
        )
    row, key = created
    product = await service.get_product(db_session, viewer, product_id)
    return render(
        request,
        "secret.html",
        status=201,
        viewer=viewer,
        product=product,
        title=f"API key “{row.name}” created",
        label="API key",
        secret=key,
        note="Shown once: only its hash is stored. Roles: " + ", ".join(role_names(row.roles)),
        next_url=f"/dashboard/products/{product.id}/settings",
    )


@post(PRODUCT + "/api-keys/{key_id:str}/revoke")
async def revoke_api_key(
    product_id: str, key_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    await access.revoke_api_key(db_session, viewer, product_id, key_id)
    return see_other(f"/dashboard/products/{product_id}/settings")


@post(PRODUCT + "/members")
async def add_member(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    reader = await read_form(request)

    async def add() -> None:
        values = {"wallet": reader.text("wallet"), "roles": reader.all("roles")}
        await access.add_member(db_session, viewer, product_id, convert(values, s.MemberCreate))

    refused = await attempt(db_session, add)
    if isinstance(refused, Refused):
        return await settings_page_with(
            request, viewer, db_session, product_id, refused=refused, failed="member", reader=reader
        )
    return see_other(f"/dashboard/products/{product_id}/settings")


@post(PRODUCT + "/members/{wallet:str}")
async def update_member(
    request: Request[Any, Any, Any],
    product_id: str,
    wallet: str,
    viewer: Principal,
    db_session: AsyncSession,
) -> Page:
    reader = await read_form(request)

    async def update() -> None:
        data = convert({"roles": reader.all("roles")}, s.MemberUpdate)
        await access.update_member(db_session, viewer, product_id, wallet, data)

    refused = await attempt(db_session, update)
    if isinstance(refused, Refused):
        return await settings_page_with(
            request,
            viewer,
            db_session,
            product_id,
            refused=refused,
            failed=f"m-{wallet}",
            reader=reader,
        )
    return see_other(f"/dashboard/products/{product_id}/settings")


@post(PRODUCT + "/members/{wallet:str}/remove")
async def remove_member(
    product_id: str, wallet: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    await access.remove_member(db_session, viewer, product_id, wallet)
    return see_other(f"/dashboard/products/{product_id}/settings")


route_handlers = [create_api_key, revoke_api_key, add_member, update_member, remove_member]
