"""A product's settings tab: name, domains, ingestion limits, inbound webhook secrets.

The access forms (product_access_pages) render on this page too, so a refused
form of either kind comes back here with its errors (`settings_page_with`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.dashboard.forms import (
    FormReader,
    Refused,
    attempt,
    convert,
    product_update_values,
)
from backend.dashboard.product_pages import PRODUCT, Page, read_form, roles_of
from backend.dashboard.web import render, see_other
from backend.products import access, service
from backend.products import schemas as s
from backend.products.service import WEBHOOK_SCHEMES

ROLE_CHOICES = ("admin", "campaign_manager", "interaction_manager")


async def settings_page_with(
    request: Request[Any, Any, Any],
    viewer: Principal,
    session: AsyncSession,
    product_id: str,
    *,
    refused: Refused | None = None,
    failed: str = "",
    reader: FormReader | None = None,
) -> Response[str]:
    """The settings page; after a refused form, with its errors next to `failed`'s fields."""
    product = await service.get_product(session, viewer, product_id)
    members = await access.list_members(session, viewer, product.id)
    keys = await access.list_api_keys(session, viewer, product.id)
    form = {key: reader.text(key) for key in reader.form} if reader is not None else {}
    return render(
        request,
        "settings.html",
        status=422 if refused is not None else 200,
        viewer=viewer,
        product=product,
        members=[s.MemberRead.of(m) for m in members],
        keys=[s.ApiKeyRead.of(k) for k in keys],
        schemes=WEBHOOK_SCHEMES,
        secrets={k: len(v) for k, v in (product.webhook_secrets or {}).items()},
        role_choices=ROLE_CHOICES,
        errors=refused.errors if refused is not None else {},
        failed=failed,
        form=form,
        roles=await roles_of(session, viewer, product),
        tab="settings",
    )


@get(PRODUCT + "/settings")
async def settings_page(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    return await settings_page_with(request, viewer, db_session, product_id)


@post(PRODUCT + "/settings")
async def update_settings(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    reader = await read_form(request)

    async def update() -> None:
        values = product_update_values(reader)
        reader.check()
        await service.update_product(
            db_session, viewer, product_id, convert(values, s.ProductUpdate)
        )

    refused = await attempt(db_session, update)
    if isinstance(refused, Refused):
        return await settings_page_with(
            request,
            viewer,
            db_session,
            product_id,
            refused=refused,
            failed="product",
            reader=reader,
        )
    return see_other(f"/dashboard/products/{product_id}/settings")


@post(PRODUCT + "/webhook-secrets/{scheme:str}")
async def rotate_secret(
    request: Request[Any, Any, Any],
    product_id: str,
    scheme: str,
    viewer: Principal,
    db_session: AsyncSession,
) -> Page:
    reader = await read_form(request)

    async def rotate() -> tuple[str, int]:
        given = reader.text("secret")
        data = convert({"secret": given} if given else {}, s.WebhookSecretRotate)
        return await service.rotate_webhook_secret(db_session, viewer, product_id, scheme, data)

    rotated = await attempt(db_session, rotate)
    if isinstance(rotated, Refused):
        return await settings_page_with(
            request,
            viewer,
            db_session,
            product_id,
            refused=rotated,
            failed=f"secret-{scheme}",
            reader=reader,
        )
    secret, active = rotated
    product = await service.get_product(db_session, viewer, product_id)
    return render(
        request,
        "secret.html",
        status=201,
        viewer=viewer,
        product=product,
        title=f"New {scheme} webhook secret",
        label=f"{scheme} webhook secret",
        secret=secret,
        note=f"Shown once. {active} secret(s) are now valid for {scheme}: the previous one "
        "keeps working until the next rotation, so you can switch your shop over calmly.",
        next_url=f"/dashboard/products/{product.id}/settings",
    )


route_handlers = [settings_page, update_settings, rotate_secret]
