"""Queries of the wallet views over the indexer's tables and the rewards table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from backend.campaigns.models import Campaign
from backend.rewards.models import Reward, RewardStatus
from backend.settlement import cadence
from indexer.settings import CHECKPOINT_NAME


@dataclass(frozen=True)
class TokenTotals:
    """One token of a wallet, every part read in one snapshot (so a push is counted once)."""

    added: int  # RewardAdded as indexed
    claimed: int  # RewardClaimed as indexed
    queued: int  # earned, not in the indexed credits yet
    recent: int  # RewardAdded newer than the confirmed depth below the indexer's cursor
    under_review: int = 0  # held by a fraud rule: neither queued nor claimable until approved


# One statement, so the push job and the indexer committing between two reads can never
# make a push count twice or not at all. A reward is "queued" until the indexer has read
# the credit that paid it: pending rows; rows of a batch still in flight whose
# RewardsPushed (matched by bank and nonce, searched from the block the batch was signed
# at) is not indexed; rows of a pushed batch mined above the indexer's cursor.
TOTALS_SQL = text(
    """
WITH cursor AS (
    SELECT block_number AS number FROM indexer_checkpoints WHERE chain_id = :c AND name = :n
), balance AS (
    SELECT token, total_added AS added, total_claimed AS claimed
    FROM wallet_token_balances WHERE chain_id = :c AND wallet = :w
), unseen AS (
    SELECT r.token, r.amount FROM rewards r WHERE r.wallet = :w AND r.status = 'pending'
    UNION ALL
    SELECT r.token, r.amount FROM rewards r JOIN settlement_batches b ON b.id = r.batch_id
    WHERE r.wallet = :w AND r.status = 'batched' AND NOT EXISTS (
        SELECT 1 FROM chain_events e
        WHERE e.chain_id = b.chain_id AND e.event = 'RewardsPushed'
          AND e.block_number >= COALESCE(b.signed_block, 0)
          AND lower(e.address) = lower(b.bank_address)
          AND lower(e.args ->> 'nonce') = lower(b.nonce)
    )
    UNION ALL
    SELECT r.token, r.amount FROM rewards r JOIN settlement_batches b ON b.id = r.batch_id
    WHERE r.wallet = :w AND r.status = 'pushed' AND b.chain_id = :c
      AND b.block_number > COALESCE((SELECT number FROM cursor), -1)
), queued AS (
    SELECT token, sum(amount) AS amount FROM unseen GROUP BY token
), held AS (
    SELECT token, sum(amount) AS amount FROM rewards
    WHERE wallet = :w AND status = 'held' GROUP BY token
), recent AS (
    SELECT token, sum(amount) AS amount FROM chain_events
    WHERE wallet = :w AND event = 'RewardAdded' AND chain_id = :c
      AND block_number > (SELECT number FROM cursor) - :depth
    GROUP BY token
)
SELECT token, COALESCE(b.added, 0), COALESCE(b.claimed, 0), COALESCE(q.amount, 0),
       COALESCE(recent.amount, 0), COALESCE(h.amount, 0)
FROM balance b FULL JOIN queued q USING (token) FULL JOIN held h USING (token)
LEFT JOIN recent USING (token)
"""
)


async def token_totals(
    session: AsyncSession, chain_id: int, wallet: str, confirmed_depth: int
) -> dict[str, TokenTotals]:
    """token -> what the wallet view shows, from one consistent snapshot."""
    result = await session.execute(
        TOTALS_SQL, {"c": chain_id, "n": CHECKPOINT_NAME, "w": wallet, "depth": confirmed_depth}
    )
    return {
        token: TokenTotals(int(added), int(claimed), int(queued), int(recent), int(held))
        for token, added, claimed, queued, recent, held in result
    }


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


async def known_tokens(session: AsyncSession, wallet: str, limit: int) -> list[str]:
    """Tokens of Cascade products, the wallet's own (rewarded) ones first, at most `limit`."""
    result = await session.execute(
        text(
            "SELECT token FROM ("
            "  SELECT DISTINCT token, 0 AS rank FROM rewards WHERE wallet = :w"
            "  UNION ALL SELECT DISTINCT address, 1 FROM product_tokens"
            ") t GROUP BY token ORDER BY min(rank), token LIMIT :limit"
        ),
        {"w": wallet, "limit": limit},
    )
    return [str(token) for (token,) in result]


@dataclass(frozen=True)
class Scheduled:
    """A pending reward with what its settlement time depends on."""

    id: int
    token: str
    available_at: datetime
    oldest_available_at: datetime  # the oldest pending reward of its queue
    max_wait_s: int
    thresholds: bool  # the campaign may also settle early on a queue size or value
    settles: bool  # false while its campaign holds its rows (draft, deactivated, refused)
    now: datetime  # the database's clock, the one `available_at` was written with


async def pending_schedule(
    session: AsyncSession, wallet: str, ids: Sequence[int] | None = None
) -> list[Scheduled]:
    """The wallet's pending rewards (or those of `ids`), each with its queue's oldest row."""
    queue = aliased(Reward)
    oldest = (
        select(func.min(queue.available_at))
        .where(
            queue.campaign_id == Reward.campaign_id,
            queue.token == Reward.token,
            queue.status == RewardStatus.PENDING,
        )
        .scalar_subquery()
    )
    query = (
        select(
            Reward.id,
            Reward.token,
            Reward.available_at,
            oldest,
            Campaign.settle_max_wait_s,
            cadence.may_settle_early(),
            cadence.campaign_settles(),
            func.now(),
        )
        .join(Campaign, Campaign.id == Reward.campaign_id)
        .where(Reward.wallet == wallet, Reward.status == RewardStatus.PENDING)
    )
    if ids is not None:
        query = query.where(Reward.id.in_(list(ids)))
    rows = await session.execute(query)
    return [
        Scheduled(int(row_id), str(token), at, first, int(wait), bool(early), bool(ok), now)
        for row_id, token, at, first, wait, early, ok, now in rows
    ]
