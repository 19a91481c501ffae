"""Products' ingestion settings (dedup window, hourly limit, domains, deletion), cached.

Ingestion reads them on every request, so they are kept in memory: dropped by the
products trigger's notification (`product:<id>`, backend.core.pg_events) in every
process, and at once by products' own writes in the process that made them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core import pg_events
from backend.core.errors import NotFound
from backend.core.lru import LruCache
from backend.products.ids import is_product_id

PRODUCT_CACHE_TTL_S = 10.0


@dataclass(frozen=True)
class ProductInfo:
    id: str
    dedup_window_s: int
    rate_limit_per_hour: int
    domains: tuple[str, ...]


# Settings of live products (None: unknown or deleted).
_products: LruCache[str, tuple[ProductInfo | None]] = LruCache(
    100_000, live_ttl_s=900.0, dead_ttl_s=PRODUCT_CACHE_TTL_S
)


def _on_cache_change(payload: str) -> None:
    for product_id in pg_events.each(payload, "product"):
        _products.pop(product_id)


pg_events.on(pg_events.CACHE, _on_cache_change)
pg_events.on_gap(_products.clear)


def invalidate_product(product_id: str | None = None) -> None:
    """Forget cached product settings (dedup window, rate limit, domains, deletion)."""
    if product_id is None:
        _products.clear()
    else:
        _products.pop(product_id.lower())


async def product_info(session: AsyncSession, product_id: str) -> ProductInfo:
    """A live product's ingestion settings (cached); 404 when unknown or deleted."""
    product_id = product_id.lower()
    if not is_product_id(product_id):  # not an id: no query
        raise NotFound("product not found", code="product_not_found")
    cached = _products.get(product_id)
    if cached is None:
        generation = _products.generation
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
        cached = (info,)
        _products.put(product_id, cached, since=generation)
    if cached[0] is None:
        raise NotFound("product not found", code="product_not_found")
    return cached[0]
