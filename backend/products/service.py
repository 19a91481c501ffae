"""Products: create, read, edit, soft delete, and rotate inbound webhook secrets.

Every change is audited in the same transaction as the change itself.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.service import record
from backend.auth.principal import Principal
from backend.core.errors import Conflict, Forbidden
from backend.products import schemas, settings_cache
from backend.products.authorization import authorize
from backend.products.ids import new_api_key, normalize_domain, product_id_for
from backend.products.models import ApiKey, Product, ProductMember, Role
from backend.products.validation import address, invalid, metadata

MAX_SECRETS_PER_SCHEME = 2  # the new one and the previous one
WEBHOOK_SCHEMES = ("shopify", "woocommerce", "custom")


def snapshot(product: Product) -> dict[str, Any]:
    """What the audit log keeps of a product (never secret values)."""
    return {
        "name": product.name,
        "domains": list(product.domains),
        "owner_wallet": product.owner_wallet,
        "metadata": dict(product.metadata_ or {}),
        "dedup_window_s": product.dedup_window_s,
        "rate_limit_per_hour": product.rate_limit_per_hour,
        "webhook_secrets": {k: len(v) for k, v in (product.webhook_secrets or {}).items()},
        "deleted_at": product.deleted_at.isoformat() if product.deleted_at else None,
    }


def _domains(values: list[str]) -> list[str]:
    out: list[str] = []
    for index, raw in enumerate(values):
        try:
            domain = normalize_domain(raw)
        except ValueError:
            raise invalid(f"domains[{index}]", "must be a host name like shop.example") from None
        if domain not in out:
            out.append(domain)
    return out


async def _check_domains_free(
    session: AsyncSession, domains: list[str], product_id: str | None = None
) -> None:
    """A domain belongs to one live product: origin checks must be unambiguous."""
    query = select(Product.id, Product.domains).where(
        Product.deleted_at.is_(None), Product.domains.overlap(domains)
    )
    if product_id is not None:
        query = query.where(Product.id != product_id)
    clash = (await session.execute(query.limit(1))).first()
    if clash is not None:
        taken = sorted(set(clash.domains) & set(domains))
        raise Conflict(
            f"domain already used by another product: {', '.join(taken)}",
            code="domain_taken",
            details={"field": "domains", "domains": taken},
        )


def _owner_for(principal: Principal, requested: str | None) -> str:
    if principal.kind == "api_key":
        raise Forbidden(
            "an API key belongs to one product and cannot create products; "
            "use a dashboard session or the CLI",
            code="api_key_cannot_create_products",
        )
    owner = address("owner", requested) if requested else None
    if principal.kind == "session":
        if owner is not None and owner != principal.wallet:
            raise Forbidden("a session creates products it owns", code="owner_mismatch")
        return str(principal.wallet)
    if owner is None:
        raise invalid("owner", "is required")
    return owner


async def create_product(
    session: AsyncSession, principal: Principal, data: schemas.ProductCreate
) -> tuple[Product, str]:
    """Create a product and its first admin API key; the key is returned once, in clear."""
    owner = _owner_for(principal, data.owner)
    domains = _domains(data.domains)
    product_id = product_id_for(domains[0])
    if await session.get(Product, product_id) is not None:
        raise Conflict(
            "a product with this primary domain exists",
            code="product_exists",
            details={"field": "domains", "product_id": product_id},
        )
    await _check_domains_free(session, domains)
    product = Product(
        id=product_id,
        name=data.name,
        primary_domain=domains[0],
        domains=domains,
        owner_wallet=owner,
        metadata_=metadata("metadata", data.metadata),
        webhook_secrets={},
    )
    session.add(product)
    await session.flush()
    key, prefix, key_hash = new_api_key()
    session.add(
        ApiKey(
            product_id=product_id,
            name="default",
            prefix=prefix,
            key_hash=key_hash,
            roles=int(Role.ALL),
            created_by=principal.actor,
        )
    )
    await session.flush()
    await session.refresh(product)
    record(
        session,
        actor=principal.actor,
        product_id=product_id,
        action="product.create",
        entity="product",
        entity_id=product_id,
        after=snapshot(product),
    )
    await session.commit()
    return product, key


async def list_products(session: AsyncSession, principal: Principal) -> list[Product]:
    """The live products the caller holds a role on."""
    query = select(Product).where(Product.deleted_at.is_(None)).order_by(Product.created_at)
    if principal.kind == "api_key":
        query = query.where(Product.id == principal.product_id)
    elif principal.kind == "session":
        memberships = select(ProductMember.product_id).where(
            ProductMember.wallet == principal.wallet
        )
        query = query.where(
            or_(Product.owner_wallet == principal.wallet, Product.id.in_(memberships))
        )
    return list(await session.scalars(query))


async def get_product(session: AsyncSession, principal: Principal, product_id: str) -> Product:
    return await authorize(session, principal, product_id, None)


async def update_product(
    session: AsyncSession, principal: Principal, product_id: str, data: schemas.ProductUpdate
) -> Product:
    """Edit name, domains, metadata and ingestion limits; the primary domain is fixed."""
    product = await _locked(session, principal, product_id)
    before = snapshot(product)
    if data.name is not msgspec.UNSET:
        product.name = data.name
    if data.domains is not msgspec.UNSET:
        domains = _domains(data.domains)
        if product.primary_domain not in domains:
            raise invalid("domains", f"must keep the primary domain {product.primary_domain}")
        await _check_domains_free(session, domains, product.id)
        product.domains = domains
    if data.metadata is not msgspec.UNSET:
        product.metadata_ = metadata("metadata", data.metadata)
    if data.dedup_window_s is not msgspec.UNSET:
        product.dedup_window_s = data.dedup_window_s
    if data.rate_limit_per_hour is not msgspec.UNSET:
        product.rate_limit_per_hour = data.rate_limit_per_hour
    return await _save(session, principal, product, "product.update", before)


# Soft-deletes a product with what depends on it (its campaigns); wired in by the app.
ProductDeleter = Callable[[AsyncSession, Principal, str], Awaitable[None]]


async def mark_deleted(session: AsyncSession, principal: Principal, product_id: str) -> Product:
    """Soft delete, audited but not committed: the caller pauses the product's campaigns
    in the same transaction (`backend.campaigns.service.delete_product`)."""
    product = await _locked(session, principal, product_id)
    before = snapshot(product)
    product.deleted_at = datetime.now(UTC)
    return await _save(session, principal, product, "product.delete", before, commit=False)


async def rotate_webhook_secret(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    scheme: str,
    data: schemas.WebhookSecretRotate,
) -> tuple[str, int]:
    """Add a new inbound webhook secret (newest first); the previous one stays valid."""
    if scheme not in WEBHOOK_SCHEMES:
        raise invalid("scheme", f"must be one of {', '.join(WEBHOOK_SCHEMES)}")
    product = await _locked(session, principal, product_id)
    before = snapshot(product)
    secret = data.secret or _new_secret(scheme)
    current = dict(product.webhook_secrets or {})
    kept = [secret, *[s for s in current.get(scheme, []) if s != secret]]
    current[scheme] = kept[:MAX_SECRETS_PER_SCHEME]
    product.webhook_secrets = current
    await _save(session, principal, product, "product.webhook_secret.rotate", before)
    return secret, len(current[scheme])


def _new_secret(scheme: str) -> str:
    raw = secrets.token_bytes(32)
    if scheme == "custom":  # Standard Webhooks: whsec_ + base64 of the key bytes
        return "whsec_" + base64.b64encode(raw).decode()
    return raw.hex()


async def _locked(session: AsyncSession, principal: Principal, product_id: str) -> Product:
    """The product, admin-checked and row-locked, so concurrent edits do not interleave."""
    product = await authorize(session, principal, product_id, Role.ADMIN)
    await session.refresh(product, with_for_update=True)
    return product


async def _save(
    session: AsyncSession,
    principal: Principal,
    product: Product,
    action: str,
    before: dict[str, Any],
    *,
    commit: bool = True,
) -> Product:
    product.updated_at = datetime.now(UTC)
    await session.flush()
    record(
        session,
        actor=principal.actor,
        product_id=product.id,
        action=action,
        entity="product",
        entity_id=product.id,
        before=before,
        after=snapshot(product),
    )
    if commit:
        await session.commit()
        settings_cache.invalidate_product(product.id)  # this process at once; others by NOTIFY
    return product
