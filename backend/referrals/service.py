"""The referral graph in the database: loading ancestries, recording edges, walking chains.

Edges are rows of `referral_edges` (backend.referrals.models): the accepted
`referral.referred` claims, whose primary key (product, wallet) makes a wallet's first
accepted referrer final. The evaluator decides which stored claims become edges
(backend.referrals.graph, in arrival order) and records them here: the claim's outcome
on the interaction, the edge in its table. Chains for the estimate endpoint are read
with one recursive CTE over that key
and cached per process; an edge only ever gets *added*, so a cached chain goes
stale exactly when the new edge's wallet is the chain's start or one of its
members, and those entries are dropped after the commit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core import pg_events
from backend.referrals.graph import (  # noqa: F401 - the flags' home for callers
    ALREADY_REFERRED,
    ANCESTOR_LIMIT,
    CROSS_PRODUCT,
    INVALID_REFERRAL,
    REFERRAL_CYCLE,
    SELF_REFERRAL,
)
from backend.rewards.calculator import MAX_LEVELS

# Flags stored on a rejected referral.referred interaction (it earns nothing) live in
# backend.referrals.graph. A referrer need not have done anything on the product
# before: a signed token already proves the product (a token of another product is
# CROSS_PRODUCT), and a plain referrer comes from the product's own server. Requiring
# a prior interaction refused imported referrals and protected nothing a token does not.

CHAINS_SQL = text(
    """
    WITH RECURSIVE walk(start, wallet, depth, path) AS (
        SELECT w, w, 0, ARRAY[w]::varchar[] FROM unnest(CAST(:wallets AS varchar[])) AS w
        UNION ALL
        SELECT walk.start, i.referrer_wallet, walk.depth + 1, walk.path || i.referrer_wallet
        FROM walk
        JOIN referral_edges AS i ON i.product_id = :product_id AND i.wallet = walk.wallet
        WHERE walk.depth < :depth AND NOT i.referrer_wallet = ANY(walk.path)
    )
    SELECT start, wallet FROM walk WHERE depth > 0 ORDER BY start, depth
    """
)

# Every stored edge above the given (product, wallet) pairs, up to :depth levels: the
# parents a batch needs to decide claims and read chains. UNION drops repeated rows, and
# the depth bound ends a loop written behind the service.
ANCESTRY_SQL = text(
    """
    WITH RECURSIVE up(product_id, wallet, referrer, depth) AS (
        SELECT i.product_id, i.wallet, i.referrer_wallet, 1
        FROM unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[])) AS s(p, w)
        CROSS JOIN LATERAL (  -- one probe of the edge key per wallet, whatever the stats
            SELECT * FROM referral_edges AS i WHERE i.product_id = s.p AND i.wallet = s.w
        ) AS i
        UNION
        SELECT i.product_id, i.wallet, i.referrer_wallet, up.depth + 1
        FROM up
        JOIN referral_edges AS i ON i.product_id = up.product_id AND i.wallet = up.referrer
        WHERE up.depth < :depth
    )
    SELECT DISTINCT product_id, wallet, referrer FROM up
    """
)
# One statement: each claim's outcome on its interaction, and an edge for every claim
# without a flag. The edge insert has no ON CONFLICT: the evaluator decided against the
# stored graph under the product's lock, so a second referrer for a wallet is a bug that
# must roll the batch back, never a silent no-op.
RECORD_SQL = text(
    """
    WITH decided AS (
        UPDATE interactions AS i SET referrer_wallet = v.referrer, flag = v.flag
        FROM unnest(CAST(:ids AS bigint[]), CAST(:referrers AS varchar[]),
                    CAST(:flags AS varchar[])) AS v(id, referrer, flag)
        WHERE i.id = v.id AND i.received_at BETWEEN :first AND :last  -- names the months
        RETURNING i.id, i.product_id, i.wallet, i.referrer_wallet, i.flag, i.received_at
    )
    INSERT INTO referral_edges (product_id, wallet, referrer_wallet, interaction_id, referred_at)
    SELECT product_id, wallet, referrer_wallet, id, received_at FROM decided
    WHERE flag IS NULL AND referrer_wallet IS NOT NULL
    ORDER BY id
    """
)


@dataclass
class _ProductChains:
    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stored_at: dict[str, float] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)  # wallet -> starts using it
    generation: int = 0


class ChainCache:
    """Chains (up to MAX_LEVELS) per (product, wallet), invalidated when an edge lands.

    Bounded: past `max_entries` the least recently used chain goes. This process's
    evaluator drops what its edges change (`edge_added`); edges of other processes
    arrive as a notification (`edges:<product>`) that drops the product's chains.
    Entries are trusted `live_ttl` seconds while notifications are heard, `ttl` otherwise.
    """

    def __init__(self, ttl: float = 30.0, max_entries: int = 200_000, live_ttl: float = 900.0):
        self.ttl = ttl
        self.live_ttl = live_ttl
        self.max_entries = max_entries
        self._products: dict[str, _ProductChains] = {}
        self._order: OrderedDict[tuple[str, str], None] = OrderedDict()  # least recent first

    def __len__(self) -> int:
        return len(self._order)

    def generation(self, product_id: str) -> int:
        return self._products.setdefault(product_id, _ProductChains()).generation

    def get(self, product_id: str, wallet: str) -> tuple[str, ...] | None:
        entry = self._products.get(product_id)
        if entry is None or wallet not in entry.chains:
            return None
        ttl = self.live_ttl if pg_events.live() else self.ttl
        if time.monotonic() - entry.stored_at[wallet] > ttl:
            self._drop(product_id, entry, wallet)
            return None
        self._order.move_to_end((product_id, wallet))
        return entry.chains[wallet]

    def put(self, product_id: str, wallet: str, chain: tuple[str, ...], generation: int) -> None:
        """Store unless an edge landed since `generation` was read (the read may be stale)."""
        entry = self._products.setdefault(product_id, _ProductChains())
        if entry.generation != generation:
            return
        if wallet in entry.chains:
            self._drop(product_id, entry, wallet)
        entry.chains[wallet] = chain
        entry.stored_at[wallet] = time.monotonic()
        for member in chain:
            entry.members.setdefault(member, set()).add(wallet)
        self._order[(product_id, wallet)] = None
        while len(self._order) > self.max_entries:
            (old_product, old_wallet), _ = self._order.popitem(last=False)
            self._drop(old_product, self._products[old_product], old_wallet)

    def edge_added(self, product_id: str, wallet: str) -> None:
        """`wallet` got a referrer: its chain and every chain through it change."""
        entry = self._products.setdefault(product_id, _ProductChains())
        entry.generation += 1
        for start in [wallet, *entry.members.pop(wallet, set())]:
            self._drop(product_id, entry, start)

    def forget_product(self, product_id: str) -> None:
        """Another process added edges on `product_id`: none of its chains is sure any more."""
        entry = self._products.setdefault(product_id, _ProductChains())
        entry.generation += 1
        for start in list(entry.chains):
            self._drop(product_id, entry, start)

    def clear(self) -> None:
        for entry in self._products.values():
            entry.generation += 1
            entry.chains.clear()
            entry.stored_at.clear()
            entry.members.clear()
        self._order.clear()

    def _drop(self, product_id: str, entry: _ProductChains, start: str) -> None:
        chain = entry.chains.pop(start, None)
        entry.stored_at.pop(start, None)
        self._order.pop((product_id, start), None)
        if chain is None:
            return
        for member in chain:
            users = entry.members.get(member)
            if users is not None:
                users.discard(start)
                if not users:
                    del entry.members[member]


chain_cache = ChainCache()


def _on_cache_change(payload: str) -> None:
    for product_id in pg_events.each(payload, "edges"):
        if product_id == pg_events.EVERY:
            chain_cache.clear()
            return
        chain_cache.forget_product(product_id)


pg_events.on(pg_events.CACHE, _on_cache_change)
pg_events.on_gap(chain_cache.clear)


async def chains(
    session: AsyncSession,
    product_id: str,
    wallets: Iterable[str],
    depth: int = MAX_LEVELS,
    *,
    use_cache: bool = True,
) -> dict[str, tuple[str, ...]]:
    """Referrers of each wallet, nearest first, at most `depth` of them; never loops.

    One recursive query for all wallets the cache does not know. A transaction
    that has just written an edge passes `use_cache=False`: what it reads is not
    committed yet and must not outlive a rollback.
    """
    depth = max(0, min(depth, MAX_LEVELS))
    unique = list(dict.fromkeys(wallets))
    found: dict[str, tuple[str, ...]] = {wallet: () for wallet in unique}
    if depth == 0:
        return found
    missing: list[str] = []
    for wallet in unique:
        cached = chain_cache.get(product_id, wallet) if use_cache else None
        if cached is None:
            missing.append(wallet)
        else:
            found[wallet] = cached[:depth]
    if not missing:
        return found
    generation = chain_cache.generation(product_id)
    rows = await session.execute(
        CHAINS_SQL, {"wallets": missing, "product_id": product_id, "depth": MAX_LEVELS}
    )
    walked: dict[str, list[str]] = {wallet: [] for wallet in missing}
    for start, referrer in rows:
        walked[start].append(referrer)
    for wallet, referrers in walked.items():
        if use_cache:
            chain_cache.put(product_id, wallet, tuple(referrers), generation)
        found[wallet] = tuple(referrers[:depth])
    return found


async def chain(
    session: AsyncSession, product_id: str, wallet: str, depth: int = MAX_LEVELS
) -> list[str]:
    """Up to `depth` referrers of `wallet` on `product_id`, nearest first."""
    return list((await chains(session, product_id, [wallet], depth)).get(wallet, ()))


async def ancestry(
    session: AsyncSession, pairs: Iterable[tuple[str, str]], depth: int
) -> dict[str, dict[str, str]]:
    """Stored parents (wallet -> referrer) per product above `pairs` (product, wallet),
    up to `depth` levels: one recursive query for a whole batch."""
    unique = sorted(set(pairs))
    found: dict[str, dict[str, str]] = {}
    if not unique or depth <= 0:
        return found
    rows = await session.execute(
        ANCESTRY_SQL,
        {
            "products": [p for p, _ in unique],
            "wallets": [w for _, w in unique],
            "depth": depth,
        },
    )
    for row in rows:
        found.setdefault(row.product_id, {})[row.wallet] = row.referrer
    return found


async def record(
    session: AsyncSession, decided: Sequence[tuple[int, datetime, str | None, str | None]]
) -> None:
    """Store each claim's outcome: (interaction id, its received_at, referrer, flag); no
    flag = an edge. The received_at only names the partitions to read."""
    if decided:
        await session.execute(
            RECORD_SQL,
            {
                "ids": [d[0] for d in decided],
                "first": min(d[1] for d in decided),
                "last": max(d[1] for d in decided),
                "referrers": [d[2] for d in decided],
                "flags": [d[3] for d in decided],
            },
        )


def edges_committed(product_id: str, wallets: Sequence[str]) -> None:
    """Call after the commit that accepted these wallets' edges (drops stale chains)."""
    for wallet in wallets:
        chain_cache.edge_added(product_id, wallet)
