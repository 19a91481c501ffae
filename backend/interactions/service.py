"""Ingestion: validate, authorise, apply dedup and limits, store, answer. Nothing else.

The request path writes once: a plain interaction is one autocommit statement
(backend.interactions.store) that checks the dedup window and the caller's hourly
limit under the wallet's lock, stores the interaction and queues it for the
evaluator. A purchase also writes its order row in the same transaction (the
order is what makes a purchase rewarded once ever, see backend.interactions.orders).
Which campaigns pay, budgets, referral edges and reward rows are the evaluator's
work (backend.evaluation), in batches, off the request path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
from eth_hash.auto import keccak
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.auth.principal import Principal
from backend.core.errors import DomainError, Forbidden, InvalidInput, NotFound, RateLimited
from backend.core.transient import RETRIES, is_transient
from backend.fraud import signals as fraud_signals
from backend.interactions import metrics as ingest_metrics
from backend.interactions import orders, store, values
from backend.interactions.answers import BatchItemResult, IngestResult, describe
from backend.interactions.ratelimit import ip_limiter
from backend.interactions.schemas import SERVER_ONLY_TYPES, InteractionIn, is_known_type
from backend.interactions.signatures import is_order_reference, product_secrets
from backend.products.models import Role
from backend.products.settings_cache import ProductInfo, product_info
from backend.referrals.graph import CROSS_PRODUCT, SELF_REFERRAL
from backend.referrals.tokens import TokenError, read_token

REFERRED = "referral.referred"
LINK_CREATION = "referral.link_creation"
STARTED = "purchase.started"
COMPLETED = "purchase.completed"
ORDER_TYPES = frozenset({STARTED, COMPLETED})

_ORDER_ID_MAX = 255
_json = msgspec.json.Encoder()


# --- callers and prepared items ----------------------------------------------------------


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


def _rate_limited(limit: int | None, oldest: datetime | None, now: datetime) -> RateLimited:
    retry = (oldest + timedelta(hours=1) - now) if oldest is not None else timedelta(hours=1)
    return RateLimited(
        f"at most {limit} interactions per hour for this wallet",
        retry_after=max(1, int(retry.total_seconds()) + 1),
    )


# --- single interaction -------------------------------------------------------------------


async def ingest(
    session: AsyncSession, caller: Caller, payload: InteractionIn, *, secret: str
) -> IngestResult:
    """Validate, authorise and store one interaction (committed); evaluation comes later."""
    limit_browser(caller)
    item = prepare(payload, secret=secret)
    authorize(caller, item)
    return await ingest_prepared(session, caller, item, secret=secret)


async def ingest_prepared(
    session: AsyncSession, caller: Caller, item: Prepared, *, secret: str
) -> IngestResult:
    """`ingest` for an item already validated and authorised.

    Anything but a purchase is one autocommit statement: no BEGIN, no COMMIT, one
    round trip. A purchase also writes its order in the same transaction.
    """
    if item.type in ORDER_TYPES:
        product = await product_info(session, item.product_id)
        result = await _ingest_purchase(session, caller, product, item)
        if caller.signals is not None and not result.duplicate:  # after its own commit
            await _record_signals(session, caller, item, result, secret)
            await session.commit()
    elif session.in_transaction() or caller.signals is not None:
        # the caller read something first, or the request's signals are kept with the
        # interaction (in its transaction, so the evaluator never sees one without the other)
        product = await product_info(session, item.product_id)
        result = await _store(session, caller, product, item, autocommit=False)
        if caller.signals is not None and not result.duplicate:
            await _record_signals(session, caller, item, result, secret)
        await session.commit()
    else:
        result = await _ingest_autocommit(session, caller, item)
    if result.duplicate:
        await describe(session, [result])  # the original's state, as precisely as we know it
    else:
        store.queued([item.product_id])
    return result


async def _record_signals(
    session: AsyncSession, caller: Caller, item: Prepared, result: IngestResult, secret: str
) -> None:
    assert caller.signals is not None
    await fraud_signals.record(
        session,
        secret,
        interaction_id=result.interaction_id,
        product_id=item.product_id,
        wallet=item.wallet,
        signals=caller.signals,
        session_id=caller.source_ref if caller.source == "session" else None,
    )


async def _ingest_autocommit(session: AsyncSession, caller: Caller, item: Prepared) -> IngestResult:
    """One statement as its own transaction: no BEGIN, no COMMIT, one round trip (the
    product's settings are cached; a miss is read first and its transaction closed)."""
    product = await product_info(session, item.product_id)
    if session.in_transaction():
        await session.rollback()  # the read only
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    for attempt in range(RETRIES):
        try:
            stored = await store.store_one_autocommit(
                engine,
                product_id=product.id,
                item=item,
                source=caller.source,
                source_ref=caller.source_ref,
                client_ip=caller.client_ip,
                window_s=product.dedup_window_s,
                limit=caller.limit(product),
            )
        except Exception as exc:
            # a deadlock victim wrote nothing: the same statement again is safe
            if not is_transient(exc) or attempt == RETRIES - 1:
                raise
            continue
        if stored.duplicate_of is not None:
            return IngestResult(stored.duplicate_of, duplicate=True, type=item.type)
        if stored.id is None:
            raise _rate_limited(caller.limit(product), stored.oldest, stored.now)
        ingest_metrics.interaction_stored(item.type)  # already durable
        return IngestResult(stored.id, flag=item.flag, type=item.type)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


async def _store(
    session: AsyncSession, caller: Caller, product: ProductInfo, item: Prepared, *, autocommit: bool
) -> IngestResult:
    stored = await store.store_one(
        session,
        product_id=product.id,
        item=item,
        source=caller.source,
        source_ref=caller.source_ref,
        client_ip=caller.client_ip,
        window_s=product.dedup_window_s,
        limit=caller.limit(product),
    )
    if stored.duplicate_of is not None:
        return IngestResult(stored.duplicate_of, duplicate=True, type=item.type)
    if stored.id is None:
        raise _rate_limited(caller.limit(product), stored.oldest, stored.now)
    if autocommit:
        ingest_metrics.interaction_stored(item.type)  # already durable
    else:
        ingest_metrics.interaction_stored_on_commit(session, item.type)
    return IngestResult(stored.id, flag=item.flag, type=item.type)


async def _ingest_purchase(
    session: AsyncSession, caller: Caller, product: ProductInfo, item: Prepared
) -> IngestResult:
    """A purchase and its order bookkeeping, in one transaction (committed here)."""
    for attempt in range(RETRIES):
        try:
            result = await _purchase(session, caller, product, item)
            await session.commit()
            return result
        except DBAPIError as exc:
            await session.rollback()
            if not is_transient(exc) or attempt == RETRIES - 1:
                raise
        except BaseException:
            await session.rollback()
            raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


async def _purchase(
    session: AsyncSession, caller: Caller, product: ProductInfo, item: Prepared
) -> IngestResult:
    """Store a purchase.* and record its order (no commit). The wallet's lock, taken by the
    store statement, and the order's row lock are held until the caller commits."""
    result = await _store(session, caller, product, item, autocommit=False)
    if result.duplicate:
        return result
    assert item.order_id is not None
    flag: str | None = None
    follow_ups: tuple[int, ...] = ()
    if item.type == STARTED:
        claim = await orders.record_claim(
            session,
            product.id,
            item.order_id,
            item.wallet,
            result.interaction_id,
            token=item.order_token,
            trusted_by=await _claim_trusted_by(session, caller, product.id, item),
        )
        flag = claim.flag
        if claim.link is not None:
            follow_ups = (
                await completion_interaction(
                    session,
                    product.id,
                    item.order_id,
                    item.wallet,
                    claim.link.amount_e18,
                    claim.link.currency,
                ),
            )
    else:
        completion = await orders.complete_for_wallet(
            session,
            product.id,
            item.order_id,
            item.wallet,
            item.amount_e18,
            item.currency,
            result.interaction_id,
        )
        flag = completion.flag
    if flag is not None:
        await session.execute(
            text("UPDATE interactions SET flag = :flag WHERE id = :id"),
            {"flag": flag, "id": result.interaction_id},
        )
    return IngestResult(result.interaction_id, flag=flag, type=item.type, follow_ups=follow_ups)


async def _claim_trusted_by(
    session: AsyncSession, caller: Caller, product_id: str, item: Prepared
) -> str | None:
    """Why a purchase.started needs no order token from the shop's webhook, if it does not.

    The product's own server (API key, CLI) is the shop; a browser is trusted
    only with the custom shop's signed reference for this order.
    """
    if caller.source in ("api_key", "cli"):
        return orders.BY_SHOP
    if item.order_token is None or item.order_id is None:
        return None
    secrets = await product_secrets(session, product_id, "custom")
    if is_order_reference(item.order_token, item.order_id, secrets):
        return orders.BY_ORDER_TOKEN
    return None


async def completion_interaction(
    session: AsyncSession,
    product_id: str,
    order_id: str,
    wallet: str,
    amount_e18: int | None,
    currency: str | None,
) -> int:
    """Store and queue the purchase.completed of a shop order whose wallet just became known."""
    data: dict[str, Any] = {"order_id": order_id}
    if amount_e18 is not None:
        data["amount_e18"] = str(amount_e18)
    if currency is not None:
        data["currency"] = currency
    item = Prepared(product_id, wallet, COMPLETED, data, order_id=order_id)
    stored = await store.store_one(
        session,
        product_id=product_id,
        item=item,
        source="webhook",
        source_ref=None,
        client_ip=None,
        window_s=0,
        limit=None,
    )
    assert stored.id is not None
    ingest_metrics.interaction_stored_on_commit(session, COMPLETED)
    await orders.set_completed_interaction(session, product_id, order_id, stored.id)
    return stored.id


# --- batches ------------------------------------------------------------------------------


async def ingest_batch(
    session: AsyncSession, caller: Caller, raw_items: Sequence[Any], *, secret: str
) -> list[BatchItemResult]:
    """Up to 1,000 interactions in one transaction, each answered on its own.

    Every (product, wallet) bucket lock the batch needs is taken first, in order;
    then plain interactions are checked and stored with set-based statements and
    purchases one by one, in the batch's order (their ids follow it).
    """
    limit_browser(caller)
    results: list[BatchItemResult] = []
    accepted: list[tuple[int, Prepared, ProductInfo]] = []
    for index, raw in enumerate(raw_items):
        try:
            payload = msgspec.convert(raw, InteractionIn)
        except msgspec.ValidationError as exc:
            results.append(BatchItemResult(index, error=InvalidInput(str(exc))))
            continue
        try:
            item = prepare(payload, secret=secret)
            authorize(caller, item)
            product = await product_info(session, item.product_id)
        except DomainError as exc:
            results.append(BatchItemResult(index, error=exc))
            continue
        accepted.append((index, item, product))
    guarded = [
        (product.id, item.wallet)
        for _, item, product in accepted
        if caller.rate_limited or item.dedup_key is not None
    ]
    stored: list[BatchItemResult] = []
    for attempt in range(RETRIES):
        try:
            await store.lock_buckets(session, guarded)
            stored = await _store_batch(session, caller, accepted)
            await session.commit()
            break
        except DBAPIError as exc:
            await session.rollback()
            if not is_transient(exc) or attempt == RETRIES - 1:
                raise
        except BaseException:
            await session.rollback()
            raise
    results.extend(stored)
    duplicates = [r.result for r in stored if r.result is not None and r.result.duplicate]
    if duplicates:
        await describe(session, duplicates)
    store.queued({product.id for _, _, product in accepted})
    results.sort(key=lambda r: r.index)
    return results


async def _store_batch(
    session: AsyncSession, caller: Caller, items: Sequence[tuple[int, Prepared, ProductInfo]]
) -> list[BatchItemResult]:
    """Dedup, limit and store a batch's valid items inside the caller's transaction."""
    keyed = [
        (product.id, item.wallet, item.type, item.dedup_key, product.dedup_window_s)
        for _, item, product in items
        if item.dedup_key is not None
    ]
    seen = await store.originals(session, keyed)  # type: ignore[arg-type]
    pairs = sorted({(product.id, item.wallet) for _, item, product in items})
    usage = await store.usage(session, pairs) if caller.rate_limited else {}
    results: list[BatchItemResult] = []
    counted: dict[tuple[str, str], list[Any]] = {p: list(u) for p, u in usage.items()}
    chunk: list[tuple[int, Prepared, ProductInfo]] = []
    pending_keys: dict[tuple[str, str, str, str], int] = {}  # dedup key -> index of its item
    stored_ids: dict[int, int] = {}  # index -> interaction id
    now: datetime | None = None

    async def flush() -> None:
        ids = await store.store_many(
            session,
            [(product.id, item) for _, item, product in chunk],
            source=caller.source,
            source_ref=caller.source_ref,
            client_ip=caller.client_ip,
        )
        for (index, item, _), interaction_id in zip(chunk, ids, strict=True):
            stored_ids[index] = interaction_id
            ingest_metrics.interaction_stored_on_commit(session, item.type)
            results.append(
                BatchItemResult(index, IngestResult(interaction_id, flag=item.flag, type=item.type))
            )
        chunk.clear()

    later: list[tuple[int, int, str]] = []  # (index, index of its original here, type)
    for index, item, product in items:
        dedup = (
            (product.id, item.wallet, item.type, item.dedup_key)
            if item.dedup_key is not None
            else None
        )
        if dedup is not None and dedup in seen:
            results.append(
                BatchItemResult(index, IngestResult(seen[dedup], duplicate=True, type=item.type))
            )
            continue
        if dedup is not None and dedup in pending_keys:
            later.append((index, pending_keys[dedup], item.type))
            continue
        limit = caller.limit(product)
        if limit is not None:
            if now is None:
                now = await session.scalar(text("SELECT now()"))
            assert now is not None
            used = counted.setdefault((product.id, item.wallet), [0, now])
            if used[0] >= limit:
                results.append(BatchItemResult(index, error=_rate_limited(limit, used[1], now)))
                continue
            used[0] += 1
        if dedup is not None:
            pending_keys[dedup] = index
        if item.type in ORDER_TYPES:
            await flush()  # keep arrival order: everything before it gets smaller ids
            # its store statement checks the limit again and finds the same count: this
            # transaction's own rows included, the bucket lock held since the batch began
            purchase = await _purchase(session, caller, product, item)
            stored_ids[index] = purchase.interaction_id
            results.append(BatchItemResult(index, purchase))
        else:
            chunk.append((index, item, product))
    if chunk:
        await flush()
    for index, original_index, kind in later:
        original = stored_ids[original_index]
        results.append(BatchItemResult(index, IngestResult(original, duplicate=True, type=kind)))
    return results
