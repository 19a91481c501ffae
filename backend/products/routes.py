"""HTTP for products, access (members, API keys) and tokens.

The bank's endpoints are served by backend.campaigns.routes: its view includes
campaign budgets, and campaigns may depend on products but not the reverse.

Handlers parse, call one service function, and shape the response; creating
POSTs honour the Idempotency-Key header.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, delete, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.core.context import AppContext
from backend.core.idempotency import created, idempotent
from backend.products import access, service, tokens
from backend.products import schemas as s

PRODUCT = "/products/{product_id:str}"


@post(
    "/products",
    summary="Create a product (dashboard session or CLI)",
    responses=created(s.ProductCreated),
)
async def create_product(
    request: Request[Any, Any, Any],
    data: s.ProductCreate,
    principal: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Response[bytes]:
    async def work() -> tuple[int, s.ProductCreated]:
        product, key = await service.create_product(db_session, principal, data)
        return 201, s.ProductCreated(product.id, key, s.ProductRead.of(product))

    return await idempotent(
        request, app_context.sessions, principal.actor, work, redact=("api_key",)
    )


@get("/products", summary="Products the caller holds a role on")
async def list_products(principal: Principal, db_session: AsyncSession) -> list[s.ProductRead]:
    return [s.ProductRead.of(p) for p in await service.list_products(db_session, principal)]


@get(PRODUCT, summary="One product")
async def get_product(
    product_id: str, principal: Principal, db_session: AsyncSession
) -> s.ProductRead:
    return s.ProductRead.of(await service.get_product(db_session, principal, product_id))


@patch(PRODUCT, summary="Edit name, domains, metadata, ingestion limits (admin)")
async def update_product(
    product_id: str, data: s.ProductUpdate, principal: Principal, db_session: AsyncSession
) -> s.ProductRead:
    product = await service.update_product(db_session, principal, product_id, data)
    return s.ProductRead.of(product)


@delete(PRODUCT, summary="Soft delete a product (admin)")
async def delete_product(
    product_id: str,
    principal: Principal,
    db_session: AsyncSession,
    product_deleter: service.ProductDeleter,
) -> None:
    """Deleting pauses the product's campaigns, which products may not import: the app
    provides `backend.campaigns.service.delete_product` as `product_deleter`."""
    await product_deleter(db_session, principal, product_id)


@post(
    PRODUCT + "/webhook-secrets/{scheme:str}/rotate",
    summary="New inbound webhook secret, shown once; the previous stays valid (admin)",
    responses=created(s.WebhookSecretRotated),
)
async def rotate_webhook_secret(
    request: Request[Any, Any, Any],
    product_id: str,
    scheme: str,
    principal: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
    data: s.WebhookSecretRotate | None = None,
) -> Response[bytes]:
    async def work() -> tuple[int, s.WebhookSecretRotated]:
        secret, active = await service.rotate_webhook_secret(
            db_session, principal, product_id, scheme, data or s.WebhookSecretRotate()
        )
        return 201, s.WebhookSecretRotated(scheme, secret, active)

    return await idempotent(
        request, app_context.sessions, principal.actor, work, redact=("secret",)
    )


@get(PRODUCT + "/members", summary="Members and their roles (admin)")
async def list_members(
    product_id: str, principal: Principal, db_session: AsyncSession
) -> list[s.MemberRead]:
    members = await access.list_members(db_session, principal, product_id)
    return [s.MemberRead.of(m) for m in members]


@post(
    PRODUCT + "/members",
    summary="Add a member wallet with roles (admin)",
    responses=created(s.MemberRead),
)
async def add_member(
    request: Request[Any, Any, Any],
    product_id: str,
    data: s.MemberCreate,
    principal: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Response[bytes]:
    async def work() -> tuple[int, s.MemberRead]:
        member = await access.add_member(db_session, principal, product_id, data)
        return 201, s.MemberRead.of(member)

    return await idempotent(request, app_context.sessions, principal.actor, work)


@patch(PRODUCT + "/members/{wallet:str}", summary="Change a member's roles (admin)")
async def update_member(
    product_id: str,
    wallet: str,
    data: s.MemberUpdate,
    principal: Principal,
    db_session: AsyncSession,
) -> s.MemberRead:
    member = await access.update_member(db_session, principal, product_id, wallet, data)
    return s.MemberRead.of(member)


@delete(PRODUCT + "/members/{wallet:str}", summary="Remove a member (admin)")
async def remove_member(
    product_id: str, wallet: str, principal: Principal, db_session: AsyncSession
) -> None:
    await access.remove_member(db_session, principal, product_id, wallet)


@get(PRODUCT + "/api-keys", summary="API keys, prefix only (admin)")
async def list_api_keys(
    product_id: str, principal: Principal, db_session: AsyncSession
) -> list[s.ApiKeyRead]:
    keys = await access.list_api_keys(db_session, principal, product_id)
    return [s.ApiKeyRead.of(k) for k in keys]


@post(
    PRODUCT + "/api-keys",
    summary="Create an API key, shown once (admin)",
    responses=created(s.ApiKeyCreated),
)
async def create_api_key(
    request: Request[Any, Any, Any],
    product_id: str,
    data: s.ApiKeyCreate,
    principal: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Response[bytes]:
    async def work() -> tuple[int, s.ApiKeyCreated]:
        row, key = await access.create_api_key(db_session, principal, product_id, data)
        return 201, s.ApiKeyCreated(key, s.ApiKeyRead.of(row))

    return await idempotent(
        request, app_context.sessions, principal.actor, work, redact=("api_key",)
    )


@delete(PRODUCT + "/api-keys/{key_id:str}", summary="Revoke an API key (admin)")
async def revoke_api_key(
    product_id: str, key_id: str, principal: Principal, db_session: AsyncSession
) -> None:
    await access.revoke_api_key(db_session, principal, product_id, key_id)


@get(PRODUCT + "/tokens", summary="Registered reward tokens")
async def list_tokens(
    product_id: str, principal: Principal, db_session: AsyncSession
) -> list[s.TokenRead]:
    return [s.TokenRead.of(t) for t in await tokens.list_tokens(db_session, principal, product_id)]


@post(
    PRODUCT + "/tokens",
    summary="Register an ERC-20; symbol and decimals read on-chain (admin)",
    responses=created(s.TokenRead),
)
async def register_token(
    request: Request[Any, Any, Any],
    product_id: str,
    data: s.TokenCreate,
    principal: Principal,
    db_session: AsyncSession,
    app_context: AppContext,
) -> Response[bytes]:
    async def work() -> tuple[int, s.TokenRead]:
        token = await tokens.register_token(db_session, principal, product_id, data, app_context)
        return 201, s.TokenRead.of(token)

    return await idempotent(request, app_context.sessions, principal.actor, work)


router = Router(
    path="/api/business",
    tags=["business: products"],
    route_handlers=[
        create_product,
        list_products,
        get_product,
        update_product,
        delete_product,
        rotate_webhook_secret,
        list_members,
        add_member,
        update_member,
        remove_member,
        list_api_keys,
        create_api_key,
        revoke_api_key,
        list_tokens,
        register_token,
    ],
)
route_handlers = [router]
