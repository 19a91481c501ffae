"""Dashboard pages of products: list and create, settings and access, bank, audit log.

Each handler reads the form, calls the same service function as the business
API, and either redirects (post/redirect/get) or re-renders the form with the
service's errors next to their fields (422). Secrets the services return once
(API keys, webhook secrets) are shown on the answer page and never again.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.campaigns import budgets
from backend.campaigns import service as campaigns
from backend.core.context import AppContext
from backend.core.errors import DomainError
from backend.dashboard.forms import (
    FormInvalid,
    FormReader,
    convert,
    domain_errors,
    product_create_values,
    product_update_values,
)
from backend.dashboard.web import render, see_other
from backend.products import access, bank, service, tokens
from backend.products import schemas as s
from backend.products.audit_log import product_audit_log
from backend.products.authorization import roles_on
from backend.products.models import Product
from backend.products.service import WEBHOOK_SCHEMES
from backend.products.validation import role_names

ROLE_CHOICES = ("admin", "campaign_manager", "interaction_manager")
PRODUCT = "/products/{product_id:str}"
Page = Response[str] | Redirect


async def _form(request: Request[Any, Any, Any]) -> FormReader:
    return FormReader(await request.form())


@get("/", name="dashboard:home")
async def home(
    request: Request[Any, Any, Any], viewer: Principal, db_session: AsyncSession
) -> Page:
    products = await service.list_products(db_session, viewer)
    return render(request, "products.html", viewer=viewer, products=products, form={}, errors={})


@post("/products")
async def create_product(
    request: Request[Any, Any, Any], viewer: Principal, db_session: AsyncSession
) -> Page:
    reader = await _form(request)
    values = product_create_values(reader)
    try:
        data = convert(values, s.ProductCreate)
        product, api_key = await service.create_product(db_session, viewer, data)
    except (FormInvalid, DomainError) as exc:
        await db_session.rollback()
        errors = exc.errors if isinstance(exc, FormInvalid) else domain_errors(exc)
        products = await service.list_products(db_session, viewer)
        form = {"name": reader.text("name"), "domains": reader.text("domains")}
        return render(
            request,
            "products.html",
            status=422,
            viewer=viewer,
            products=products,
            form=form,
            errors=errors,
        )
    return render(
        request,
        "secret.html",
        status=201,
        viewer=viewer,
        product=product,
        title="Product created",
        label="Admin API key",
        secret=api_key,
        note="The first API key of this product, with every role. Store it now: "
        "only its hash is kept, it will not be shown again.",
        next_url=f"/dashboard/products/{product.id}",
    )


@get(PRODUCT)
async def product_home(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    product = await service.get_product(db_session, viewer, product_id)
    campaign_list = await campaigns.list_campaigns(db_session, viewer, product.id)
    token_list = await tokens.list_tokens(db_session, viewer, product.id)
    return render(
        request,
        "product.html",
        viewer=viewer,
        product=product,
        campaigns=campaign_list,
        tokens={t.address: t for t in token_list},
        roles=await _roles(db_session, viewer, product),
        tab="campaigns",
    )


async def _roles(session: AsyncSession, viewer: Principal, product: Product) -> list[str]:
    return role_names(await roles_on(session, viewer, product))


async def _settings_page(
    request: Request[Any, Any, Any],
    viewer: Principal,
    session: AsyncSession,
    product_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    failed: str = "",
    form: dict[str, str] | None = None,
) -> Response[str]:
    product = await service.get_product(session, viewer, product_id)
    members = await access.list_members(session, viewer, product.id)
    keys = await access.list_api_keys(session, viewer, product.id)
    return render(
        request,
        "settings.html",
        status=status,
        viewer=viewer,
        product=product,
        members=[s.MemberRead.of(m) for m in members],
        keys=[s.ApiKeyRead.of(k) for k in keys],
        schemes=WEBHOOK_SCHEMES,
        secrets={k: len(v) for k, v in (product.webhook_secrets or {}).items()},
        role_choices=ROLE_CHOICES,
        errors=errors or {},
        failed=failed,
        form=form or {},
        roles=await _roles(session, viewer, product),
        tab="settings",
    )


@get(PRODUCT + "/settings")
async def settings_page(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    return await _settings_page(request, viewer, db_session, product_id)


async def _invalid(
    request: Request[Any, Any, Any],
    viewer: Principal,
    session: AsyncSession,
    product_id: str,
    exc: FormInvalid | DomainError,
    failed: str,
    reader: FormReader,
) -> Response[str]:
    await session.rollback()
    errors = exc.errors if isinstance(exc, FormInvalid) else domain_errors(exc)
    form = {key: reader.text(key) for key in reader.form}
    return await _settings_page(
        request, viewer, session, product_id, status=422, errors=errors, failed=failed, form=form
    )


@post(PRODUCT + "/settings")
async def update_settings(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    reader = await _form(request)
    try:
        values = product_update_values(reader)
        reader.check()
        data = convert(values, s.ProductUpdate)
        await service.update_product(db_session, viewer, product_id, data)
    except (FormInvalid, DomainError) as exc:
        return await _invalid(request, viewer, db_session, product_id, exc, "product", reader)
    return see_other(f"/dashboard/products/{product_id}/settings")


@post(PRODUCT + "/webhook-secrets/{scheme:str}")
async def rotate_secret(
    request: Request[Any, Any, Any],
    product_id: str,
    scheme: str,
    viewer: Principal,
    db_session: AsyncSession,
) -> Page:
    reader = await _form(request)
    try:
        given = reader.text("secret")
        data = convert({"secret": given} if given else {}, s.WebhookSecretRotate)
        secret, active = await service.rotate_webhook_secret(
            db_session, viewer, product_id, scheme, data
        )
    except (FormInvalid, DomainError) as exc:
        return await _invalid(
            request, viewer, db_session, product_id, exc, f"secret-{scheme}", reader
        )
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


@post(PRODUCT + "/api-keys")
async def create_api_key(
    request: Request[Any, Any, Any], product_id: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    reader = await _form(request)
    try:
        data = convert({"name": reader.text("name"), "roles": reader.all("roles")}, s.ApiKeyCreate)
        row, key = await access.create_api_key(db_session, viewer, product_id, data)
    except (FormInvalid, DomainError) as exc:
        return await _invalid(request, viewer, db_session, product_id, exc, "api-key", reader)
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
    reader = await _form(request)
    try:
        values = {"wallet": reader.text("wallet"), "roles": reader.all("roles")}
        await access.add_member(db_session, viewer, product_id, convert(values, s.MemberCreate))
    except (FormInvalid, DomainError) as exc:
        return await _invalid(request, viewer, db_session, product_id, exc, "member", reader)
    return see_other(f"/dashboard/products/{product_id}/settings")


@post(PRODUCT + "/members/{wallet:str}")
async def update_member(
    request: Request[Any, Any, Any],
    product_id: str,
    wallet: str,
    viewer: Principal,
    db_session: AsyncSession,
) -> Page:
    reader = await _form(request)
    try:
        data = convert({"roles": reader.all("roles")}, s.MemberUpdate)
        await access.update_member(db_session, viewer, product_id, wallet, data)
    except (FormInvalid, DomainError) as exc:
        return await _invalid(request, viewer, db_session, product_id, exc, f"m-{wallet}", reader)
    return see_other(f"/dashboard/products/{product_id}/settings")


@post(PRODUCT + "/members/{wallet:str}/remove")
async def remove_member(
    product_id: str, wallet: str, viewer: Principal, db_session: AsyncSession
) -> Page:
    await access.remove_member(db_session, viewer, product_id, wallet)
    return see_other(f"/dashboard/products/{product_id}/settings")


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
        roles=await _roles(session, viewer, product),
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
    except DomainError as exc:
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
    reader = await _form(request)
    try:
        data = convert({"address": reader.text("address")}, s.TokenCreate)
        await tokens.register_token(db_session, viewer, product_id, data, app_context)
    except (FormInvalid, DomainError) as exc:
        await db_session.rollback()
        errors = exc.errors if isinstance(exc, FormInvalid) else domain_errors(exc)
        return await _bank_page(
            request,
            viewer,
            db_session,
            app_context,
            product_id,
            status=422,
            errors=errors,
            form={"address": reader.text("address")},
        )
    return see_other(f"/dashboard/products/{product_id}/bank")


@get(PRODUCT + "/audit")
async def audit_page(
    request: Request[Any, Any, Any],
    product_id: str,
    viewer: Principal,
    db_session: AsyncSession,
    before_id: int | None = None,
) -> Page:
    product = await service.get_product(db_session, viewer, product_id)
    entries = await product_audit_log(
        db_session, viewer, product.id, limit=PAGE_SIZE, before_id=before_id
    )
    older = entries[-1].id if len(entries) == PAGE_SIZE else None
    return render(
        request,
        "audit.html",
        viewer=viewer,
        product=product,
        entries=entries,
        older=older,
        roles=await _roles(db_session, viewer, product),
        tab="audit",
    )


PAGE_SIZE = 50

route_handlers = [
    home,
    create_product,
    product_home,
    settings_page,
    update_settings,
    rotate_secret,
    create_api_key,
    revoke_api_key,
    add_member,
    update_member,
    remove_member,
    bank_page,
    deploy_bank,
    register_token,
    audit_page,
]
