"""Ingestion of a batch (up to 1,000 interactions) in one transaction, each answered alone."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import DomainError, InvalidInput, RateLimited
from backend.core.transient import commit_retrying
from backend.fraud import signals as fraud_signals
from backend.interactions import metrics as ingest_metrics
from backend.interactions import store
from backend.interactions.answers import BatchItemResult, describe
from backend.interactions.preparation import (
    ORDER_TYPES,
    Caller,
    authorize,
    limit_browser,
    prepare,
)
from backend.interactions.schemas import InteractionIn
from backend.interactions.service import result_of, store_purchase
from backend.products.settings_cache import ProductInfo, product_info

# At most this many batches of one process hold their wallet locks at once (up to 1,000
# each, in PostgreSQL's lock table, which is shared by all connections and holds about
# max_locks_per_transaction x max_connections: 6,400 with the defaults); the others wait
# here holding no lock. Two keep both cores busy (bench/ingest.py measured no gain beyond).
CONCURRENT_BATCHES = 4
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _gate() -> asyncio.Semaphore:
    """This event loop's bound on batches holding locks (a semaphore belongs to one loop)."""
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(CONCURRENT_BATCHES)
    return gate


async def ingest_batch(
    session: AsyncSession, caller: Caller, raw_items: Sequence[Any], *, secret: str
) -> list[BatchItemResult]:
    """Up to 1,000 interactions in one transaction, each answered on its own.

    Every (product, wallet) lock the batch needs is taken first, in order (at most
    CONCURRENT_BATCHES batches of a process hold theirs at once);
    then plain interactions are checked and stored with set-based statements and
    purchases one by one, in the batch's order (their ids follow it). The stored items'
    signals (the request's, each item's own device id) are written in the same
    transaction, one statement for the batch, like the single endpoint's.
    """
    limit_browser(caller)
    results: list[BatchItemResult] = []
    accepted: list[tuple[int, store.Entry, ProductInfo]] = []
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
        accepted.append((index, caller.entry(product, item), product))

    async def store_all() -> list[BatchItemResult]:
        await store.lock_wallets(session, [entry for _, entry, _ in accepted])
        stored = await _store_batch(session, caller, accepted)
        await _record_signals(session, caller, accepted, stored, secret)
        return stored

    async with _gate():
        stored = await commit_retrying(session, store_all)
    results.extend(stored)
    duplicates = [r.result for r in stored if r.result is not None and r.result.duplicate]
    if duplicates:
        await describe(session, duplicates)
    store.queued({entry.product_id for _, entry, _ in accepted})
    results.sort(key=lambda r: r.index)
    return results


async def _record_signals(
    session: AsyncSession,
    caller: Caller,
    accepted: Sequence[tuple[int, store.Entry, ProductInfo]],
    stored: Sequence[BatchItemResult],
    secret: str,
) -> None:
    """The signals of the items this batch stored (duplicates add none): the evaluator
    never sees one of them without its signals."""
    items = {index: entry.item for index, entry, _ in accepted}
    rows = [
        (
            r.result.interaction_id,
            item.product_id,
            item.wallet,
            fraud_signals.for_item(caller.signals, item.device_id),
        )
        for r in stored
        if r.result is not None and not r.result.duplicate
        for item in (items[r.index],)
    ]
    await fraud_signals.record_many(
        session,
        secret,
        rows,
        session_id=caller.source_ref if caller.source == "session" else None,
    )


async def _store_batch(
    session: AsyncSession, caller: Caller, items: Sequence[tuple[int, store.Entry, ProductInfo]]
) -> list[BatchItemResult]:
    """Dedup, limit and store a batch's valid items inside the caller's transaction, in
    order: each run of plain interactions by one store call (the rules of
    store.store_group, which sees what earlier calls of this transaction stored), each
    purchase with its order bookkeeping."""
    results: list[BatchItemResult] = []
    run: list[tuple[int, store.Entry]] = []

    async def store_run() -> None:
        outcomes = await store.store_in(session, [entry for _, entry in run])
        for (index, entry), stored in zip(run, outcomes, strict=True):
            try:
                result = result_of(stored, entry.item, entry.limit)
            except RateLimited as limited:
                results.append(BatchItemResult(index, error=limited))
                continue
            if not result.duplicate:
                ingest_metrics.interaction_stored_on_commit(session, entry.item.type)
            results.append(BatchItemResult(index, result))
        run.clear()

    for index, entry, product in items:
        item = entry.item
        if item.type not in ORDER_TYPES:
            run.append((index, entry))
            continue
        if run:
            await store_run()  # keep arrival order: everything before it gets smaller ids
        # its store call sees this transaction's rows: the same dedup window and count
        results.append(BatchItemResult(index, await store_purchase(session, caller, product, item)))
    if run:
        await store_run()
    return results
