"""Queries of the wallet views over the indexer's tables and the rewards table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def balances(session: AsyncSession, chain_id: int, wallet: str) -> dict[str, tuple[int, int]]:
    """token -> (total added, total claimed) from the indexer's derived rows."""
    result = await session.execute(
        text(
            "SELECT token, total_added, total_claimed FROM wallet_token_balances "
            "WHERE chain_id = :c AND wallet = :w"
        ),
        {"c": chain_id, "w": wallet},
    )
    return {token: (int(added), int(claimed)) for token, added, claimed in result}


async def added_after(
    session: AsyncSession, chain_id: int, wallet: str, block: int
) -> dict[str, int]:
    """token -> sum of RewardAdded newer than `block` (not yet confirmed)."""
    result = await session.execute(
        text(
            "SELECT token, sum(amount) FROM chain_events WHERE wallet = :w AND "
            "event = 'RewardAdded' AND chain_id = :c AND block_number > :b GROUP BY token"
        ),
        {"c": chain_id, "w": wallet, "b": block},
    )
    return {token: int(total) for token, total in result}


async def queued(session: AsyncSession, wallet: str) -> dict[str, int]:
    """token -> earned but not yet pushed (pending + batched rewards)."""
    result = await session.execute(
        text(
            "SELECT token, sum(amount) FROM rewards WHERE wallet = :w "
            "AND status IN ('pending', 'batched') GROUP BY token"
        ),
        {"w": wallet},
    )
    return {token: int(total) for token, total in result}


async def token_meta(session: AsyncSession, tokens: Sequence[str]) -> dict[str, tuple[str, int]]:
    """token -> (symbol, decimals) where a product registered it (first registration wins)."""
    if not tokens:
        return {}
    result = await session.execute(
        text(
            "SELECT DISTINCT ON (address) address, symbol, decimals FROM product_tokens "
            "WHERE address = ANY(:tokens) ORDER BY address, id"
        ),
        {"tokens": list(tokens)},
    )
    return {address: (symbol, int(decimals)) for address, symbol, decimals in result}


async def history_page(
    session: AsyncSession, chain_id: int, wallet: str, limit: int, offset: int
) -> tuple[list[tuple[str, int]], int]:
    """(kind, id) of one page of earned rewards and claims, newest first; and the total."""
    timeline = """
        SELECT 'reward' AS kind, r.id AS id, r.created_at AS at FROM rewards r
        WHERE r.wallet = :w AND r.status <> 'cancelled'
        UNION ALL
        SELECT 'claim', e.id, to_timestamp(e.block_timestamp) FROM chain_events e
        WHERE e.wallet = :w AND e.event = 'RewardClaimed' AND e.chain_id = :c
    """
    params = {"w": wallet, "c": chain_id}
    total = (await session.execute(text(f"SELECT count(*) FROM ({timeline}) t"), params)).scalar()  # noqa: S608
    rows = await session.execute(
        text(
            f"SELECT kind, id FROM ({timeline}) t ORDER BY at DESC, kind, id DESC "  # noqa: S608
            "LIMIT :limit OFFSET :offset"
        ),
        {**params, "limit": limit, "offset": offset},
    )
    return [(kind, int(row_id)) for kind, row_id in rows], int(total or 0)


async def rewards_by_id(
    session: AsyncSession, chain_id: int, ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """Rewards with campaign, product, push tx and the first claim after their push."""
    if not ids:
        return {}
    result = await session.execute(
        text("""
        SELECT r.id, r.created_at, r.token, r.amount, r.status, r.level, r.pushed_at,
               coalesce(r.tx_hash, b.mined_tx_hash) AS push_tx,
               c.id AS campaign_id, c.name AS campaign_name,
               p.id AS product_id, p.name AS product_name,
               claim.tx_hash AS claim_tx, claim.block_timestamp AS claimed_at
        FROM rewards r
        JOIN campaigns c ON c.id = r.campaign_id
        JOIN products p ON p.id = r.product_id
        LEFT JOIN settlement_batches b ON b.id = r.batch_id
        LEFT JOIN LATERAL (
            SELECT e.block_number, e.log_index FROM chain_events e
            WHERE e.chain_id = :c AND e.tx_hash = coalesce(r.tx_hash, b.mined_tx_hash)
              AND e.event = 'RewardAdded' AND e.wallet = r.wallet AND e.token = r.token
            ORDER BY e.log_index LIMIT 1
        ) added ON true
        LEFT JOIN LATERAL (
            -- a claim takes everything pending: the first claim after the push paid it
            SELECT e.tx_hash, e.block_timestamp FROM chain_events e
            WHERE added.block_number IS NOT NULL AND e.chain_id = :c
              AND e.wallet = r.wallet AND e.event = 'RewardClaimed' AND e.token = r.token
              AND (e.block_number, e.log_index) > (added.block_number, added.log_index)
            ORDER BY e.block_number, e.log_index LIMIT 1
        ) claim ON true
        WHERE r.id = ANY(:ids)
        """),
        {"c": chain_id, "ids": list(ids)},
    )
    return {int(row.id): dict(row._mapping) for row in result}


async def claims_by_id(
    session: AsyncSession, chain_id: int, ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    result = await session.execute(
        text(
            "SELECT id, token, amount, tx_hash, block_number, block_timestamp FROM chain_events "
            "WHERE chain_id = :c AND id = ANY(:ids)"
        ),
        {"c": chain_id, "ids": list(ids)},
    )
    return {int(row.id): dict(row._mapping) for row in result}
