"""Ingestion: store an interaction once, evaluate it, answer with the rewards it created.

One interaction is one transaction: its row, its order bookkeeping, its referral
edge and its reward rows commit together or not at all. The common path costs
a few round trips: one statement checks the rate limit and the dedup window and
inserts, then the engine locks the matching campaigns, and one statement writes
budgets and reward rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from eth_utils import is_checksum_address
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.campaigns import engine
from backend.core.errors import DomainError, Forbidden, InvalidInput, NotFound, RateLimited
from backend.core.transient import RETRIES, is_transient
from backend.interactions import inline, orders, values
from backend.interactions.ratelimit import ip_limiter
from backend.interactions.schemas import (
    SERVER_ONLY_TYPES,
    InteractionIn,
    is_known_type,
)
from backend.interactions.signatures import is_order_reference, product_secrets
from backend.observability import metrics
from backend.products.models import Role
from backend.referrals import service as referrals
from backend.referrals.tokens import TokenError, read_token
from backend.rewards import service as rewards

REFERRED = "referral.referred"
LINK_CREATION = "referral.link_creation"
STARTED = "purchase.started"
COMPLETED = "purchase.completed"
PRODUCT_CACHE_TTL_S = 10.0
NO_LIMIT = 2**31 - 1

_ORDER_ID_MAX = 255

INSERT_SQL = text(
    """
    WITH recent AS (
        SELECT received_at FROM interactions
        WHERE product_id = :product_id AND wallet = :wallet
          AND received_at > now() - interval '1 hour'
        ORDER BY received_at LIMIT :limit
    ), usage AS (
        SELECT count(*) AS used, min(received_at) AS oldest FROM recent
    ), dup AS (
        SELECT id FROM interactions
        WHERE CAST(:dedup_key AS varchar) IS NOT NULL
          AND product_id = :product_id AND wallet = :wallet AND type = :type
          AND dedup_key = :dedup_key AND received_at > now() - make_interval(secs => :window)
        ORDER BY received_at LIMIT 1
    ), ins AS (
        INSERT INTO interactions (product_id, wallet, type, data, dedup_key, referrer_wallet,
                                  order_id, flag, source, source_ref, client_ip,
                                  analytics_session_id, analytics_client_id, occurred_at,
                                  processed_at)
        SELECT :product_id, :wallet, :type, CAST(:data AS jsonb), :dedup_key, :referrer,
               :order_id, :flag, :source, :source_ref, CAST(:client_ip AS inet),
               :analytics_session_id, :analytics_client_id,
               COALESCE(CAST(:occurred_at AS timestamptz), now()), now()
        WHERE NOT EXISTS (SELECT 1 FROM dup) AND (SELECT used FROM usage) < :limit
        RETURNING id
    )
    SELECT (SELECT id FROM ins) AS id, (SELECT id FROM dup) AS duplicate_of,
           (SELECT oldest FROM usage) AS oldest, now() AS now
    """
)

PLAIN_INSERT_SQL = text(
    """
    INSERT INTO interactions (product_id, wallet, type, data, order_id, source, source_ref,
                              occurred_at, processed_at)
    VALUES (:product_id, :wallet, :type, CAST(:data AS jsonb), :order_id, :source, :source_ref,
            now(), now())
    RETURNING id
    """
)

DEDUP_LOCK_SQL = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")

_json = msgspec.json.Encoder()


# --- products as ingestion sees them ------------------------------------------------------


@dataclass(frozen=True)
class ProductInfo:
    id: str
    dedup_window_s: int
    rate_limit_per_hour: int
    domains: tuple[str, ...]


_products: dict[str, tuple[float, ProductInfo | None]] = {}


def invalidate_product(product_id: str | None = None) -> None:
    """Forget cached product settings (dedup window, rate limit, domains, deletion)."""
    if product_id is None:
        _products.clear()
    else:
        _products.pop(product_id.lower(), None)


async def product_info(session: AsyncSession, product_id: str) -> ProductInfo:
    """A live product's ingestion settings (cached briefly); 404 when unknown or deleted."""
    product_id = values.product_id(product_id)
    cached = _products.get(product_id)
    now = time.monotonic()
    if cached is None or now - cached[0] > PRODUCT_CACHE_TTL_S:
        row = (
            await session.execute(
                text(
                    "SELECT id, dedup_window_s, rate_limit_per_hour, domains FROM products "
                    "WHERE id = :id AND deleted_at IS NULL"
                ),
                {"id": product_id},
            )
        ).first()
        info = (
            ProductInfo(row.id, row.dedup_window_s, row.rate_limit_per_hour, tuple(row.domains))
            if row is not None
            else None
        )
        cached = (now, info)
        _products[product_id] = cached
    if cached[1] is None:
        raise NotFound("product not found", code="product_not_found")
    return cached[1]


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

    @classmethod
    def from_principal(cls, principal: Principal, client_ip: str | None) -> Caller:
        if principal.kind == "api_key":
            return cls(
                "api_key", principal.actor, principal.product_id, principal.roles, None, client_ip
            )
        if principal.kind == "session":
            return cls("session", principal.session_id, None, 0, principal.wallet, client_ip)
        return cls("cli", principal.actor, None, int(Role.ALL), None, client_ip)

    @property
    def rate_limited(self) -> bool:
        return self.source in ("api_key", "session")


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
    referrer: str | None = None
    flag: str | None = None
    order_id: str | None = None
    order_token: str | None = None  # purchase.started: what binds the claim to the order
    amount_e18: int | None = None
    currency: str | None = None


@dataclass
class IngestResult:
    interaction_id: int
    duplicate: bool = False
    rewards: list[dict[str, Any]] = field(default_factory=list)
    flag: str | None = None
    type: str | None = None

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "interaction_id": self.interaction_id,
            "duplicate": self.duplicate,
            "rewards": self.rewards,
            "flag": self.flag,
        }
        if self.type == REFERRED:
            # whether this interaction made the referrer this wallet's referrer, and why not
            answer["referral"] = {"recorded": self.flag is None, "reason": self.flag}
        return answer


@dataclass
class _AfterCommit:
    """Cache invalidations that must wait until the transaction is durable."""

    edges: list[tuple[str, str]] = field(default_factory=list)

    def run(self) -> None:
        for product_id, wallet in self.edges:
            referrals.edges_committed(product_id, [wallet])


_invalid = values.invalid


def checksummed(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not is_checksum_address(value):
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
    elif item.type in (STARTED, COMPLETED):
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
        return
    token = data["referrer_token"]
    if not isinstance(token, str):
        raise _invalid("data.referrer_token", "must be a string", "invalid_referral")
    try:
        parsed = read_token(secret, token)
    except TokenError as exc:
        raise InvalidInput(
            str(exc),
            details=[{"key": "data.referrer_token", "reason": exc.code}],
            code="invalid_referral",
        ) from None
    item.referrer = parsed.referrer
    if parsed.product_id != item.product_id:
        item.flag = referrals.CROSS_PRODUCT


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


# --- single interaction -------------------------------------------------------------------


async def ingest(
    session: AsyncSession, caller: Caller, payload: InteractionIn, *, secret: str
) -> IngestResult:
    """Store, evaluate and commit one interaction."""
    limit_browser(caller)
    item = prepare(payload, secret=secret)
    authorize(caller, item)
    return await ingest_prepared(session, caller, item, secret=secret)


def limit_browser(caller: Caller) -> None:
    """Sessions come from browsers: they also count against their address's limit."""
    if caller.source == "session":
        ip_limiter.check(caller.client_ip)


async def ingest_prepared(
    session: AsyncSession, caller: Caller, item: Prepared, *, secret: str
) -> IngestResult:
    """`ingest` for an item already validated and authorised.

    A plain interaction on a session with no open transaction is stored by one
    autocommit statement (backend.interactions.inline): no BEGIN, no COMMIT, one
    round trip. Anything else, or a campaign that needs the locked path, runs
    in one transaction as below.
    """
    if not session.in_transaction() and _inline_kind(item) and item.dedup_key is None:
        result = await _ingest_autocommit(session, caller, item, secret)
        if result is not None:
            return result
    product = await product_info(session, item.product_id)
    after = _AfterCommit()
    result = await _ingest_one(session, caller, product, item, secret, after)
    await session.commit()
    after.run()
    return result


def _inline_kind(item: Prepared) -> bool:
    """Plain interactions: no referral graph, no orders, not flagged."""
    return item.type not in _BULK_TYPES_EXCLUDED and item.flag is None


async def _ingest_autocommit(
    session: AsyncSession, caller: Caller, item: Prepared, secret: str
) -> IngestResult | None:
    """The one-statement path on an autocommit connection; None: take the transactional one.

    Every statement here is its own transaction: the reads (caches' misses) see
    committed data, the write is atomic on its own, and nothing is left open.
    """
    for attempt in range(RETRIES):
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        try:
            product = await product_info(session, item.product_id)
            result = await _inline(session, caller, product, item, secret)
            if result is not None and not result.duplicate:
                metrics.interaction_stored(item.type)  # autocommit: already durable
            return result
        except DBAPIError as exc:
            # a deadlock victim wrote nothing: the same statement again is safe
            if not is_transient(exc) or attempt == RETRIES - 1:
                raise
        finally:
            # ends the session's (wire-less) transaction: the connection goes back to the
            # pool with its isolation level reset, and a fallback starts a real transaction
            await session.rollback()
    return None


async def _inline(
    session: AsyncSession, caller: Caller, product: ProductInfo, item: Prepared, secret: str
) -> IngestResult | None:
    stored = await inline.store_and_charge(
        session,
        product_id=product.id,
        item=item,
        source=caller.source,
        source_ref=caller.source_ref,
        client_ip=caller.client_ip,
        window_s=product.dedup_window_s,
        limit=product.rate_limit_per_hour if caller.rate_limited else NO_LIMIT,
        secret=secret,
    )
    if stored is None:
        return None
    if stored.duplicate_of is not None:
        return IngestResult(stored.duplicate_of, duplicate=True, rewards=stored.rewards)
    assert stored.interaction_id is not None
    return IngestResult(stored.interaction_id, rewards=stored.rewards)


async def _ingest_one(
    session: AsyncSession,
    caller: Caller,
    product: ProductInfo,
    item: Prepared,
    secret: str,
    after: _AfterCommit,
) -> IngestResult:
    """Everything of one interaction inside the caller's transaction (no commit).

    Domain errors are raised before anything of this item is written.
    """
    flag, edge = item.flag, False
    if item.type == REFERRED and flag is None and item.referrer is not None:
        await referrals.lock_referral_graph(session, product.id)
        flag = await referrals.referral_flag(session, product.id, item.wallet, item.referrer)
        edge = flag is None
    if item.dedup_key is not None:
        key = f"{product.id}:{item.wallet}:{item.type}:{item.dedup_key}"
        await session.execute(DEDUP_LOCK_SQL, {"key": key})
    if _inline_kind(item):
        # one statement instead of insert + evaluate; None (a campaign needs the
        # locked path) wrote nothing, and the two steps below decide
        done = await _inline(session, caller, product, item, secret)
        if done is not None:
            if not done.duplicate:
                metrics.interaction_stored_on_commit(session, item.type)
            return done
    limit = product.rate_limit_per_hour if caller.rate_limited else NO_LIMIT
    row = (
        await session.execute(
            INSERT_SQL,
            {
                "product_id": product.id,
                "wallet": item.wallet,
                "type": item.type,
                "data": _json.encode(item.data).decode(),
                "dedup_key": item.dedup_key,
                "referrer": item.referrer,
                "order_id": item.order_id,
                "flag": flag,
                "source": caller.source,
                "source_ref": caller.source_ref,
                "client_ip": caller.client_ip,
                "analytics_session_id": item.analytics_session_id,
                "analytics_client_id": item.analytics_client_id,
                "occurred_at": item.occurred_at,
                "window": product.dedup_window_s,
                "limit": limit,
            },
        )
    ).one()
    if row.duplicate_of is not None:
        found = await rewards.rewards_of_interaction(session, row.duplicate_of)
        original_flag = None
        if item.type == REFERRED:  # the answer says whether the original made the edge
            original_flag = await session.scalar(
                text("SELECT flag FROM interactions WHERE id = :id"), {"id": row.duplicate_of}
            )
        return IngestResult(
            row.duplicate_of, duplicate=True, rewards=found, flag=original_flag, type=item.type
        )
    if row.id is None:
        retry = row.oldest + timedelta(hours=1) - row.now
        raise RateLimited(
            f"at most {limit} interactions per hour for this wallet",
            retry_after=max(1, int(retry.total_seconds()) + 1),
        )
    interaction_id: int = row.id
    metrics.interaction_stored_on_commit(session, item.type)
    if edge:
        after.edges.append((product.id, item.wallet))
    amount = item.amount_e18
    extra: list[engine.EvaluationInput] = []
    if item.type == STARTED and item.order_id is not None:
        claim = await orders.record_claim(
            session,
            product.id,
            item.order_id,
            item.wallet,
            interaction_id,
            token=item.order_token,
            trusted_by=await _claim_trusted_by(session, caller, product.id, item),
        )
        if claim.flag is not None:
            flag = claim.flag
            await session.execute(
                text("UPDATE interactions SET flag = :flag WHERE id = :id"),
                {"flag": flag, "id": interaction_id},
            )
        if claim.link is not None:
            extra.append(
                await completion_interaction(
                    session,
                    product.id,
                    item.order_id,
                    item.wallet,
                    claim.link.amount_e18,
                    claim.link.currency,
                )
            )
    elif item.type == COMPLETED and item.order_id is not None:
        completion = await orders.complete_for_wallet(
            session,
            product.id,
            item.order_id,
            item.wallet,
            amount,
            item.currency,
            interaction_id,
        )
        if completion.flag is not None:
            flag = completion.flag
            await session.execute(
                text("UPDATE interactions SET flag = :flag WHERE id = :id"),
                {"flag": flag, "id": interaction_id},
            )
        amount = completion.amount_e18
    to_evaluate = list(extra)
    if flag is None:
        to_evaluate.insert(
            0,
            engine.EvaluationInput(
                interaction_id, product.id, item.wallet, item.type, order_amount_e18=amount
            ),
        )
    created = await evaluate(session, product.id, to_evaluate, secret=secret, fresh_edge=edge)
    payout = [r.as_json() for i in to_evaluate for r in created.get(i.interaction_id, [])]
    return IngestResult(interaction_id, rewards=payout, flag=flag, type=item.type)


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
) -> engine.EvaluationInput:
    """Store the purchase.completed of a shop order whose wallet just became known."""
    data: dict[str, Any] = {"order_id": order_id}
    if amount_e18 is not None:
        data["amount_e18"] = str(amount_e18)
    if currency is not None:
        data["currency"] = currency
    interaction_id = await session.scalar(
        PLAIN_INSERT_SQL,
        {
            "product_id": product_id,
            "wallet": wallet,
            "type": COMPLETED,
            "data": _json.encode(data).decode(),
            "order_id": order_id,
            "source": "webhook",
            "source_ref": None,
        },
    )
    assert interaction_id is not None
    metrics.interaction_stored_on_commit(session, COMPLETED)
    await orders.set_completed_interaction(session, product_id, order_id, interaction_id)
    return engine.EvaluationInput(
        interaction_id, product_id, wallet, COMPLETED, order_amount_e18=amount_e18
    )


async def evaluate(
    session: AsyncSession,
    product_id: str,
    items: Sequence[engine.EvaluationInput],
    *,
    secret: str,
    fresh_edge: bool = False,
) -> dict[int, list[engine.RewardOut]]:
    """Attach referral chains (only when a campaign matches) and run the engine."""
    depth = 0
    matched = False
    for item in items:
        found = await engine.candidates(session, product_id, item.type)
        if found:
            matched = True
            depth = max(depth, engine.max_depth_needed(found))
    if not matched:
        return {}
    chains = (
        await referrals.chains(
            session, product_id, [i.wallet for i in items], depth, use_cache=not fresh_edge
        )
        if depth
        else {}
    )
    ready = [engine.with_referrers(i, chains.get(i.wallet, ())) for i in items]
    return await engine.evaluate(session, ready, secret=secret)


# --- batches ------------------------------------------------------------------------------

_BULK_TYPES_EXCLUDED = frozenset({REFERRED, STARTED, COMPLETED})


@dataclass
class BatchItemResult:
    index: int
    result: IngestResult | None = None
    error: DomainError | None = None

    def as_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {
                "index": self.index,
                "status": self.error.status_code,
                "error": {
                    "code": self.error.code,
                    "message": self.error.message,
                    "details": self.error.details,
                },
            }
        assert self.result is not None
        return {"index": self.index, "status": 202, **self.result.as_json()}


async def ingest_batch(
    session: AsyncSession, caller: Caller, raw_items: Sequence[Any], *, secret: str
) -> list[BatchItemResult]:
    """Up to 1,000 interactions in one transaction, each answered on its own.

    Plain interactions are stored with multi-row statements; referrals and
    purchases (which touch the graph or orders) go one by one, in order.
    """
    limit_browser(caller)
    results: list[BatchItemResult] = []
    after = _AfterCommit()
    chunk: list[tuple[int, Prepared, ProductInfo]] = []

    async def flush() -> None:
        if chunk:
            results.extend(await _ingest_bulk(session, caller, chunk, secret))
            chunk.clear()

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
        if item.type in _BULK_TYPES_EXCLUDED:
            await flush()
            try:
                result = await _ingest_one(session, caller, product, item, secret, after)
            except DomainError as exc:
                results.append(BatchItemResult(index, error=exc))
            else:
                results.append(BatchItemResult(index, result=result))
        else:
            chunk.append((index, item, product))
    await flush()
    await session.commit()
    after.run()
    results.sort(key=lambda r: r.index)
    return results


BULK_USAGE_SQL = text(
    """
    SELECT i.product_id, i.wallet, count(*) AS used, min(i.received_at) AS oldest
    FROM interactions AS i
    JOIN unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[])) AS k(p, w)
      ON i.product_id = k.p AND i.wallet = k.w
    WHERE i.received_at > now() - interval '1 hour'
    GROUP BY i.product_id, i.wallet
    """
)
BULK_DEDUP_SQL = text(
    """
    SELECT DISTINCT ON (i.product_id, i.wallet, i.type, i.dedup_key)
           i.product_id, i.wallet, i.type, i.dedup_key, i.id
    FROM interactions AS i
    JOIN unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[]),
                CAST(:types AS varchar[]), CAST(:keys AS varchar[]), CAST(:windows AS int[]))
         AS k(p, w, t, d, s)
      ON i.product_id = k.p AND i.wallet = k.w AND i.type = k.t AND i.dedup_key = k.d
    WHERE i.dedup_key IS NOT NULL AND i.received_at > now() - make_interval(secs => k.s)
    ORDER BY i.product_id, i.wallet, i.type, i.dedup_key, i.received_at
    """
)
BULK_LOCK_SQL = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
    "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
)
BULK_IDS_SQL = text(
    "SELECT nextval(pg_get_serial_sequence('interactions', 'id')) FROM generate_series(1, :n)"
)
BULK_INSERT_SQL = text(
    """
    INSERT INTO interactions (id, product_id, wallet, type, data, dedup_key, source, source_ref,
                              client_ip, analytics_session_id, analytics_client_id, occurred_at,
                              processed_at)
    SELECT v.id, v.product_id, v.wallet, v.type, CAST(v.data AS jsonb), v.dedup_key, :source,
           :source_ref, CAST(:client_ip AS inet), v.session_id, v.client_id,
           COALESCE(v.occurred_at, now()), now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:products AS varchar[]),
                CAST(:wallets AS varchar[]), CAST(:types AS varchar[]), CAST(:datas AS text[]),
                CAST(:keys AS varchar[]), CAST(:session_ids AS varchar[]),
                CAST(:client_ids AS varchar[]), CAST(:occurred AS timestamptz[]))
         AS v(id, product_id, wallet, type, data, dedup_key, session_id, client_id, occurred_at)
    RETURNING now() AS now
    """
)


async def _ingest_bulk(
    session: AsyncSession,
    caller: Caller,
    chunk: Sequence[tuple[int, Prepared, ProductInfo]],
    secret: str,
) -> list[BatchItemResult]:
    """Dedup, rate limit, insert and evaluate plain interactions with a handful of statements."""
    keyed = [(i, p, prod) for i, p, prod in chunk if p.dedup_key is not None]
    if keyed:
        lock_keys = sorted({f"{prod.id}:{p.wallet}:{p.type}:{p.dedup_key}" for _, p, prod in keyed})
        await session.execute(BULK_LOCK_SQL, {"keys": lock_keys})
        rows = await session.execute(
            BULK_DEDUP_SQL,
            {
                "products": [prod.id for _, _, prod in keyed],
                "wallets": [p.wallet for _, p, _ in keyed],
                "types": [p.type for _, p, _ in keyed],
                "keys": [p.dedup_key for _, p, _ in keyed],
                "windows": [prod.dedup_window_s for _, _, prod in keyed],
            },
        )
        seen: dict[tuple[str, str, str, str], int] = {
            (r.product_id, r.wallet, r.type, r.dedup_key): r.id for r in rows
        }
    else:
        seen = {}
    usage: dict[tuple[str, str], list[Any]] = {}
    if caller.rate_limited:
        pairs = list({(prod.id, p.wallet) for _, p, prod in chunk})
        rows = await session.execute(
            BULK_USAGE_SQL,
            {"products": [p for p, _ in pairs], "wallets": [w for _, w in pairs]},
        )
        usage = {(r.product_id, r.wallet): [r.used, r.oldest] for r in rows}
    now = datetime.now(UTC)

    results: list[BatchItemResult] = []
    accepted: list[tuple[int, Prepared, ProductInfo]] = []
    duplicates: list[tuple[int, int]] = []
    pending_keys: dict[tuple[str, str, str, str], int] = {}
    for index, item, product in chunk:
        dedup = (
            (product.id, item.wallet, item.type, item.dedup_key)
            if item.dedup_key is not None
            else None
        )
        if dedup is not None and dedup in seen:
            duplicates.append((index, seen[dedup]))
            continue
        if dedup is not None and dedup in pending_keys:
            duplicates.append((index, -pending_keys[dedup] - 1))  # resolved after insert
            continue
        if caller.rate_limited:
            used = usage.setdefault((product.id, item.wallet), [0, now])
            if used[0] >= product.rate_limit_per_hour:
                retry = used[1] + timedelta(hours=1) - now
                results.append(
                    BatchItemResult(
                        index,
                        error=RateLimited(
                            f"at most {product.rate_limit_per_hour} interactions per hour "
                            "for this wallet",
                            retry_after=max(1, int(retry.total_seconds()) + 1),
                        ),
                    )
                )
                continue
            used[0] += 1
        if dedup is not None:
            pending_keys[dedup] = len(accepted)
        accepted.append((index, item, product))

    ids: list[int] = []
    if accepted:
        ids = list((await session.scalars(BULK_IDS_SQL, {"n": len(accepted)})).all())
        await session.execute(
            BULK_INSERT_SQL,
            {
                "source": caller.source,
                "source_ref": caller.source_ref,
                "client_ip": caller.client_ip,
                "ids": ids,
                "products": [prod.id for _, _, prod in accepted],
                "wallets": [p.wallet for _, p, _ in accepted],
                "types": [p.type for _, p, _ in accepted],
                "datas": [_json.encode(p.data).decode() for _, p, _ in accepted],
                "keys": [p.dedup_key for _, p, _ in accepted],
                "session_ids": [p.analytics_session_id for _, p, _ in accepted],
                "client_ids": [p.analytics_client_id for _, p, _ in accepted],
                "occurred": [p.occurred_at for _, p, _ in accepted],
            },
        )
        for _, item, _ in accepted:
            metrics.interaction_stored_on_commit(session, item.type)
    by_product: dict[str, list[engine.EvaluationInput]] = {}
    for (_, item, product), interaction_id in zip(accepted, ids, strict=True):
        by_product.setdefault(product.id, []).append(
            engine.EvaluationInput(interaction_id, product.id, item.wallet, item.type)
        )
    found: dict[int, list[engine.RewardOut]] = {}
    for product_id, items in by_product.items():
        found.update(await evaluate(session, product_id, items, secret=secret))
    for (index, _, _), interaction_id in zip(accepted, ids, strict=True):
        payout = [r.as_json() for r in found.get(interaction_id, [])]
        results.append(BatchItemResult(index, result=IngestResult(interaction_id, rewards=payout)))
    for index, original in duplicates:
        if original < 0:
            original = ids[-original - 1]
            payout = [r.as_json() for r in found.get(original, [])]
        else:
            payout = await rewards.rewards_of_interaction(session, original)
        results.append(
            BatchItemResult(index, result=IngestResult(original, duplicate=True, rewards=payout))
        )
    return results
