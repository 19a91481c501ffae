"""Ingestion of one interaction: validate, authorise, dedup, limit, store, answer.

The request path writes once: a plain interaction is one autocommit call
(backend.interactions.store), shared with the requests that arrive meanwhile
(backend.interactions.coalesce), that checks the dedup window and the caller's hourly
limit under the wallet's lock, stores the interaction and queues it for the
evaluator. A purchase also writes its order row in the same transaction (the
order is what makes a purchase rewarded once ever, see backend.interactions.orders).
Which campaigns pay, budgets, referral edges and reward rows are the evaluator's
work (backend.evaluation), in batches, off the request path. Request preparation lives
in backend.interactions.preparation, batches of up to 1,000 in backend.interactions.batch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.core.transient import commit_retrying
from backend.fraud import signals as fraud_signals
from backend.interactions import metrics as ingest_metrics
from backend.interactions import orders, store
from backend.interactions.answers import IngestResult, describe
from backend.interactions.coalesce import coalescer
from backend.interactions.preparation import (
    COMPLETED,
    ORDER_TYPES,
    STARTED,
    Caller,
    Prepared,
    authorize,
    limit_browser,
    prepare,
    rate_limited,
)
from backend.interactions.schemas import InteractionIn
from backend.interactions.signatures import is_order_reference, product_secrets
from backend.products.settings_cache import ProductInfo, product_info


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
        result = await _store(session, caller, product, item)
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
    """One call as its own transaction, in a group with the caller's other requests that
    arrive meanwhile (backend.interactions.coalesce): no BEGIN, no COMMIT, one round trip
    (the product's settings are cached; a miss is read first and its transaction closed)."""
    product = await product_info(session, item.product_id)
    if session.in_transaction():
        await session.rollback()  # the read only
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    stored = await coalescer(engine).submit(caller.entry(product, item))
    return result_of(stored, item, caller.limit(product))  # counted by the coalescer


async def _store(
    session: AsyncSession, caller: Caller, product: ProductInfo, item: Prepared
) -> IngestResult:
    """Store inside the session's transaction; counted when (and if) it commits."""
    stored = await store.store_one(session, caller.entry(product, item))
    result = result_of(stored, item, caller.limit(product))
    if not result.duplicate:
        ingest_metrics.interaction_stored_on_commit(session, item.type)
    return result


def result_of(stored: store.Stored, item: Prepared, limit: int | None) -> IngestResult:
    """What the store call's verdict on `item` answers: stored, a duplicate of its
    original, or 429 (RateLimited) when the hourly `limit` was reached."""
    if stored.duplicate_of is not None:
        return IngestResult(stored.duplicate_of, duplicate=True, type=item.type)
    if stored.id is None:
        raise rate_limited(limit, stored.oldest, stored.now)
    return IngestResult(stored.id, flag=item.flag, type=item.type)


async def _ingest_purchase(
    session: AsyncSession, caller: Caller, product: ProductInfo, item: Prepared
) -> IngestResult:
    """A purchase and its order bookkeeping, in one transaction (committed here)."""
    return await commit_retrying(session, lambda: store_purchase(session, caller, product, item))


async def store_purchase(
    session: AsyncSession, caller: Caller, product: ProductInfo, item: Prepared
) -> IngestResult:
    """Store a purchase.* and record its order (no commit). The wallet's lock, taken by the
    store statement, and the order's row lock are held until the caller commits."""
    result = await _store(session, caller, product, item)
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
    stored = await store.store_one(session, store.Entry(product_id, item, 0, None, "webhook"))
    assert stored.id is not None
    ingest_metrics.interaction_stored_on_commit(session, COMPLETED)
    await orders.set_completed_interaction(session, product_id, order_id, stored.id)
    return stored.id
