"""Request and response bodies of the products part of the business API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from backend.products.models import ApiKey, Product, ProductMember, ProductToken
from backend.products.validation import AddressStr, Input, Name, RoleName, role_names

DomainStr = Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
Domains = Annotated[list[DomainStr], msgspec.Meta(min_length=1, max_length=20)]
RoleNames = Annotated[list[RoleName], msgspec.Meta(min_length=1, max_length=3)]
WebhookScheme = Literal["shopify", "woocommerce", "custom"]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class ProductCreate(Input):
    name: Name
    domains: Domains  # the first one is the primary domain: the product id derives from it
    owner: AddressStr | None = None  # sessions: defaults to (and must be) the session wallet
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class ProductUpdate(Input):
    name: Name | Unset = UNSET
    domains: Domains | Unset = UNSET  # must keep the primary domain
    metadata: dict[str, Any] | Unset = UNSET
    dedup_window_s: Annotated[int, msgspec.Meta(ge=0, le=86_400)] | Unset = UNSET
    rate_limit_per_hour: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | Unset = UNSET


class WebhookSecretRotate(Input):
    # Shopify signs with the app's secret, which Shopify issues: pass it here.
    # Omitted: the backend generates one (WooCommerce, custom/Standard Webhooks).
    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=200)] | None = None


class MemberCreate(Input):
    wallet: AddressStr
    roles: RoleNames


class MemberUpdate(Input):
    roles: RoleNames


class ApiKeyCreate(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    roles: RoleNames


class TokenCreate(Input):
    address: AddressStr


class WebhookSchemeRead(msgspec.Struct):
    scheme: str
    active_secrets: int


class ProductRead(msgspec.Struct):
    id: str
    name: str
    primary_domain: str
    domains: list[str]
    owner_wallet: str
    metadata: dict[str, Any]
    webhook_secrets: list[WebhookSchemeRead]
    dedup_window_s: int
    rate_limit_per_hour: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, product: Product) -> ProductRead:
        secrets = product.webhook_secrets or {}
        return cls(
            id=product.id,
            name=product.name,
            primary_domain=product.primary_domain,
            domains=list(product.domains),
            owner_wallet=product.owner_wallet,
            metadata=dict(product.metadata_ or {}),
            webhook_secrets=[
                WebhookSchemeRead(scheme=scheme, active_secrets=len(values))
                for scheme, values in sorted(secrets.items())
            ],
            dedup_window_s=product.dedup_window_s,
            rate_limit_per_hour=product.rate_limit_per_hour,
            created_at=product.created_at,
            updated_at=product.updated_at,
        )


class ApiKeyRead(msgspec.Struct):
    id: str
    name: str
    prefix: str
    roles: list[str]
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyRead:
        return cls(
            id=str(key.id),
            name=key.name,
            prefix=key.prefix,
            roles=role_names(key.roles),
            created_by=key.created_by,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyCreated(msgspec.Struct):
    api_key: str | None  # shown once (null in an Idempotency-Key replay); only its hash is kept
    key: ApiKeyRead


class ProductCreated(msgspec.Struct):
    product_id: str
    api_key: str | None  # the first admin key, shown once (null in an Idempotency-Key replay)
    product: ProductRead


class WebhookSecretRotated(msgspec.Struct):
    scheme: str
    secret: str | None  # shown once (null in an Idempotency-Key replay)
    active_secrets: int  # the previous secret stays valid until the next rotation


class MemberRead(msgspec.Struct):
    wallet: str
    roles: list[str]
    roles_bitmask: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, member: ProductMember) -> MemberRead:
        return cls(
            wallet=member.wallet,
            roles=role_names(member.roles),
            roles_bitmask=member.roles,
            created_at=member.created_at,
            updated_at=member.updated_at,
        )


class TokenRead(msgspec.Struct):
    address: str
    symbol: str
    decimals: int
    created_at: datetime

    @classmethod
    def of(cls, token: ProductToken) -> TokenRead:
        return cls(
            address=token.address,
            symbol=token.symbol,
            decimals=token.decimals,
            created_at=token.created_at,
        )


class TokenBalance(msgspec.Struct):
    token: str
    symbol: str
    decimals: int
    balance: str


class CampaignBudget(msgspec.Struct):
    campaign_id: str
    chain_campaign_id: str
    token: str
    status: str
    active_on_chain: bool
    unlimited: bool
    remaining: str  # on-chain remaining budget; "0" when unlimited (see `unlimited`)


class BankRead(msgspec.Struct):
    product_id: str
    address: str
    chain_id: int
    deploy_tx_hash: str | None
    owner: str
    signer: str
    managed: bool  # the backend signer still holds the manager and distributor roles
    signer_is_manager: bool
    signer_is_distributor: bool
    paused: bool
    balances: list[TokenBalance]
    campaign_budgets: list[CampaignBudget]
