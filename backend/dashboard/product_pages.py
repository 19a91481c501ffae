"""Dashboard pages of products: the list and creation, and a product's home (its campaigns).

A product's other tabs have their own modules: settings (product_settings_pages),
access (product_access_pages: API keys and members), bank (product_bank_pages) and
audit log (product_audit_pages). Each handler reads the form, calls the same
service function as the business API through `forms.attempt`, and either
redirects (post/redirect/get) or re-renders the form with the service's errors
next to their fields (422). Secrets the services return once (API keys, webhook
secrets) are shown on the answer page and never again.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.campaigns import service as campaigns
from backend.dashboard.forms import FormReader, Refused, attempt, convert, product_create_values
from backend.dashboard.web import render
from backend.products import schemas as s
from backend.products import service, tokens
from backend.products.authorization import roles_on
from backend.products.models import Product
from backend.products.validation import role_names

PRODUCT = "/products/{product_id:str}"
Page = Response[str] | Redirect


async def read_form(request: Request[Any, Any, Any]) -> FormReader:
    return FormReader(await request.form())


async def roles_of(session: AsyncSession, viewer: Principal, product: Product) -> list[str]:
    """The viewer's role names on the product, for the tabs and buttons a page shows."""
    return role_names(await roles_on(session, viewer, product))


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
    reader = await read_form(request)

    async def create() -> tuple[Product, str]:
        data = convert(product_create_values(reader), s.ProductCreate)
        return await service.create_product(db_session, viewer, data)

    created = await attempt(db_session, create)
    if isinstance(created, Refused):
        products = await service.list_products(db_session, viewer)
        form = {"name": reader.text("name"), "domains": reader.text("domains")}
        return render(
            request,
            "products.html",
            status=422,
            viewer=viewer,
            products=products,
            form=form,
            errors=created.errors,
        )
    product, api_key = created
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
        roles=await roles_of(db_session, viewer, product),
        tab="campaigns",
    )


route_handlers = [home, create_product, product_home]
