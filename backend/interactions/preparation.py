"""Request preparation: who calls (Caller), what they sent made checkable (Prepared),
and the checks a schema cannot make: checksummed wallets, types, per-type data, hostile
values, authorisation and the browser limit. No database here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
from eth_hash.auto import keccak

from backend.auth.principal import Principal
from backend.core.errors import Forbidden, InvalidInput, NotFound, RateLimited
from backend.fraud import signals as fraud_signals
from backend.interactions import orders, store, values
from backend.interactions.ratelimit import ip_limiter
from backend.interactions.schemas import SERVER_ONLY_TYPES, InteractionIn, is_known_type
from backend.products.models import Role
from backend.products.settings_cache import ProductInfo
from backend.referrals.graph import CROSS_PRODUCT, SELF_REFERRAL
from backend.referrals.tokens import TokenError, read_token

REFERRED = "referral.referred"
LINK_CREATION = "referral.link_creation"
STARTED = "purchase.started"
COMPLETED = "purchase.completed"
ORDER_TYPES = frozenset({STARTED, COMPLETED})

_ORDER_ID_MAX = 255
_json = msgspec.json.Encoder()


@dataclass(frozen=True)
class Caller:
    """Who sends interactions: an API key, a wallet session, a shop webhook or the CLI."""

    source: str  # api_key | session | webhook | cli
    source_ref: str | None = None
    product_id: str | None = None  # an API key's product
    roles: int = 0
    wallet: str | None = None  # a session's wallet
    client_ip: str | None = None
    signals: fraud_signals.RequestSignals | None = None  # kept (hashed) with what it stores

    @classmethod
    def from_principal(
        cls,
        principal: Principal,
        client_ip: str | None,
        signals: fraud_signals.RequestSignals | None = None,
    ) -> Caller:
        if principal.kind == "api_key":
            return cls(
                "api_key",
                principal.actor,
                principal.product_id,
                principal.roles,
                None,
                client_ip,
                signals,
            )
        if principal.kind == "session":
            return cls(
                "session", principal.session_id, None, 0, principal.wallet, client_ip, signals
            )
        return cls("cli", principal.actor, None, int(Role.ALL), None, client_ip, signals)

    @property
    def rate_limited(self) -> bool:
        return self.source in ("api_key", "session")

    def limit(self, product: ProductInfo) -> int | None:
        """The hourly per-wallet limit that applies to this caller (None: none)."""
        return product.rate_limit_per_hour if self.rate_limited else None

    def entry(self, product: ProductInfo, item: Prepared) -> store.Entry:
        """`item` as this caller stores it: its product's rules, and where it came from."""
        return store.Entry(
            product.id,
            item,
            product.dedup_window_s,
            self.limit(product),
            self.source,
            self.source_ref,
            self.client_ip,
        )


@dataclass
class Prepared:
    """A validated interaction, normalised for storage."""

    product_id: str
    wallet: str
    type: str
    data: dict[str, Any]
    dedup_key: str | None = None
    occurred_at: datetime | None = None
    analytics_session_id: str | None = None
    analytics_client_id: str | None = None
    referrer: str | None = None  # referral.referred: the claimed referrer
    flag: str | None = None  # known before storage: it earns nothing (self-referral, ...)
    order_id: str | None = None
    order_token: str | None = None  # purchase.started: what binds the claim to the order
    amount_e18: int | None = None
    currency: str | None = None
    device_id: str | None = None  # the item's own device id (a fraud signal, hashed)


_invalid = values.invalid


_HEX = frozenset("0123456789abcdef")


@lru_cache(maxsize=100_000)
def _is_checksummed(value: str) -> bool:
    """EIP-55 (the case of each letter from keccak256 of the lowercase hex), remembered:
    the same wallets come back. The check itself is eth_utils' without its layers."""
    if not value.startswith("0x"):
        return False
    body = value[2:]
    lower = body.lower()
    if len(lower) != 40 or not _HEX.issuperset(lower):
        return False
    digest = keccak(lower.encode()).hex()
    return body == "".join(
        c.upper() if c.isalpha() and int(d, 16) >= 8 else c
        for c, d in zip(lower, digest, strict=False)
    )


def checksummed(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or len(value) != 42 or not _is_checksummed(value):
        raise _invalid(field_name, "must be an EIP-55 checksummed address")
    return value


def prepare(payload: InteractionIn, *, secret: str) -> Prepared:
    """Validate what msgspec cannot (addresses, types, data per type); raises InvalidInput."""
    wallet = checksummed(payload.wallet, "wallet")
    if not is_known_type(payload.type):
        raise _invalid("type", f"unknown interaction type {payload.type!r}", "unknown_type")
    values.check_json(payload.data, "data")
    item = Prepared(
        product_id=payload.product_id.lower(),
        wallet=wallet,
        type=payload.type,
        data=payload.data,
        dedup_key=values.optional_text(payload.dedup_key, "dedup_key"),
        occurred_at=payload.occurred_at,
        analytics_session_id=values.optional_text(
            payload.analytics_session_id, "analytics_session_id"
        ),
        analytics_client_id=values.optional_text(
            payload.analytics_client_id, "analytics_client_id"
        ),
        device_id=values.optional_text(payload.device_id, "device_id"),
    )
    if item.occurred_at is not None and item.occurred_at.tzinfo is None:
        raise _invalid("occurred_at", "must carry a timezone")
    data = payload.data
    if item.type == REFERRED:
        _prepare_referral(item, data, secret)
    elif item.type in ORDER_TYPES:
        order_id = data.get("order_id")
        if isinstance(order_id, int) and not isinstance(order_id, bool):
            order_id = str(order_id)
        if not isinstance(order_id, str) or not 1 <= len(order_id) <= _ORDER_ID_MAX:
            raise _invalid("data.order_id", "a string of 1..255 characters is required")
        item.order_id = order_id
        if item.type == COMPLETED and data.get("amount") is not None:
            item.amount_e18 = values.parse_amount(data["amount"], "data.amount")
        item.currency = values.currency(data.get("currency"), "data.currency")
        token = data.get("order_token")
        if token is not None and (
            not isinstance(token, str) or not 1 <= len(token) <= orders.ORDER_TOKEN_MAX
        ):
            raise _invalid("data.order_token", "a string of 1..255 characters is required")
        item.order_token = token
    return item


def _prepare_referral(item: Prepared, data: dict[str, Any], secret: str) -> None:
    has_plain, has_token = "referrer" in data, "referrer_token" in data
    if has_plain == has_token:
        raise _invalid("data", "exactly one of referrer or referrer_token is required")
    if has_plain:
        item.referrer = checksummed(data["referrer"], "data.referrer")
    else:
        token = data["referrer_token"]
        if not isinstance(token, str):
            raise _invalid("data.referrer_token", "must be a string", "invalid_referral")
        try:
            parsed = read_token(secret, token)
        except TokenError as exc:
            raise values.invalid("data.referrer_token", str(exc), code="invalid_referral") from None
        item.referrer = parsed.referrer
        if parsed.product_id != item.product_id:
            item.flag = CROSS_PRODUCT
    if item.flag is None and item.referrer == item.wallet:
        item.flag = SELF_REFERRAL  # the rest of the graph rules need the graph: the evaluator


def authorize(caller: Caller, item: Prepared) -> None:
    """API keys act for their product; sessions only for their own wallet."""
    if caller.source == "api_key":
        if caller.product_id != item.product_id:
            raise NotFound("product not found", code="product_not_found")
        if not caller.roles & (int(Role.INTERACTION_MANAGER) | int(Role.ADMIN)):
            raise Forbidden("requires the interaction_manager role", code="missing_role")
    elif caller.source == "session":
        if caller.wallet != item.wallet:
            raise Forbidden("wallet is not the session's wallet", code="wallet_mismatch")
        if item.type in SERVER_ONLY_TYPES:
            raise Forbidden(
                f"{item.type} may only be sent by the shop or a server key",
                code="type_not_allowed",
            )
        if item.type == REFERRED and "referrer_token" not in item.data:
            raise InvalidInput(
                "a session must send a signed referrer_token", code="invalid_referral"
            )


def limit_browser(caller: Caller) -> None:
    """Sessions come from browsers: they also count against their address's limit."""
    if caller.source == "session":
        ip_limiter.check(caller.client_ip)


def rate_limited(limit: int | None, oldest: datetime | None, now: datetime) -> RateLimited:
    retry = (oldest + timedelta(hours=1) - now) if oldest is not None else timedelta(hours=1)
    return RateLimited(
        f"at most {limit} interactions per hour for this wallet",
        retry_after=max(1, int(retry.total_seconds()) + 1),
    )
