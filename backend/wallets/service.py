"""Wallet views: rewards snapshot, history, and the snapshot stream.

Public reads, no authentication: everything shown is either public on-chain
(events anyone can read with eth_getLogs) or a per-token queued total, which
reveals no more than the pushes that will follow it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
from eth_utils import is_checksum_address, to_checksum_address
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.core.errors import InvalidInput, Unavailable
from backend.rewards.models import RewardStatus
from backend.settlement import cadence
from backend.wallets import chain, repository
from backend.wallets.schemas import (
    Balances,
    ClaimItem,
    HistoryPage,
    Named,
    RewardItem,
    RewardsSnapshot,
    TokenBalance,
    TokenRewards,
)
from indexer.apply import load_cursor
from indexer.settings import finality_depth

_HEX_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
KEEP_ALIVE_S = 15.0
MAX_BALANCE_TOKENS = 50  # one eth_call each, concurrently


def normalize_wallet(address: str) -> str:
    """Checksummed address; all-lowercase and all-uppercase hex are accepted as is.

    Mixed case is a checksum, and a wrong one is refused: it usually means a typo.
    """
    if not _HEX_ADDRESS.fullmatch(address):
        raise InvalidInput(
            "wallet address must be 0x followed by 40 hex characters",
            details={"address": address[:100]},
            code="invalid_address",
        )
    body = address[2:]
    candidate = "0x" + body
    if body != body.lower() and body != body.upper() and not is_checksum_address(candidate):
        raise InvalidInput(
            "wallet address has an invalid checksum (mixed case must be EIP-55)",
            details={"address": address},
            code="invalid_address",
        )
    return str(to_checksum_address(candidate.lower()))


async def chain_id_of(ctx: AppContext) -> int:
    """CHAIN_ID, else the node's chain id (AppContext's web3 asks the node once and keeps it)."""
    if ctx.settings.chain_id is not None:
        return ctx.settings.chain_id
    return int(await ctx.w3.eth.chain_id)


async def rewards_snapshot(
    session: AsyncSession,
    *,
    chain_id: int,
    wallet: str,
    confirmed_depth: int,
    timing: cadence.Timing,
) -> RewardsSnapshot:
    """Per token: claimable (confirmed), unconfirmed part, queued and claimed totals.

    claimable + unconfirmed_claimable is the on-chain pending amount as indexed;
    rewards added in the newest `confirmed_depth` blocks count as unconfirmed, while
    claims count at once (a claim that a reorg undoes only makes claimable return).
    A reward stays queued until the indexer has read the credit that paid it, so the
    total (queued + claimable + unconfirmed + claimed) never dips while a push is
    between the push job and the indexer, and never counts one twice.
    """
    totals = await repository.token_totals(session, chain_id, wallet, confirmed_depth)
    tokens = sorted(totals)
    meta = await repository.token_meta(session, tokens)
    latest: dict[str, datetime] = {}
    for item in await repository.pending_schedule(session, wallet):
        expected = _expected_by(item, timing)
        if expected is not None and (item.token not in latest or expected > latest[item.token]):
            latest[item.token] = expected
    rows = []
    for token in tokens:
        part = totals[token]
        pending = part.added - part.claimed
        claimable = max(0, pending - part.recent)
        symbol, decimals = meta.get(token, (None, None))
        rows.append(
            TokenRewards(
                token=token,
                symbol=symbol,
                decimals=decimals,
                claimable=str(claimable),
                queued=str(part.queued),
                claimed_total=str(part.claimed),
                unconfirmed_claimable=str(pending - claimable),
                under_review=str(part.under_review),
                queued_expected_by=_iso(latest[token]) if token in latest else None,
            )
        )
    return RewardsSnapshot(wallet=wallet, tokens=rows)


async def balances(session: AsyncSession, ctx: AppContext, wallet: str) -> Balances:
    """What the wallet holds (ERC-20 balanceOf) in the tokens of Cascade products, and
    whether it has code; read at the latest block, like a wallet app shows it."""
    tokens = await repository.known_tokens(session, wallet, MAX_BALANCE_TOKENS)
    meta = await repository.token_meta(session, tokens)
    await session.rollback()  # no transaction held open across the chain reads
    try:
        held, deployed = await asyncio.gather(
            chain.balances(ctx.w3, tokens, wallet), chain.has_code(ctx.w3, wallet)
        )
    except Exception as exc:  # the node is down: say so, never a 500
        raise Unavailable("the chain node is unreachable", code="chain_unavailable") from exc
    rows = [
        TokenBalance(
            token=token,
            symbol=meta.get(token, (None, None))[0],
            decimals=meta.get(token, (None, None))[1],
            balance=str(amount),
        )
        for token, amount in held.items()
        if amount is not None
    ]
    return Balances(wallet=wallet, account_deployed=bool(deployed), tokens=rows)


async def history(
    session: AsyncSession,
    *,
    chain_id: int,
    wallet: str,
    limit: int,
    offset: int,
    confirmed_depth: int,
    timing: cadence.Timing,
) -> HistoryPage:
    """Earned rewards and claims, newest first, one page."""
    page, total = await repository.history_page(session, chain_id, wallet, limit, offset)
    reward_ids = [row_id for kind, row_id in page if kind == "reward"]
    rewards = await repository.rewards_by_id(session, chain_id, reward_ids)
    expected = {
        item.id: _expected_by(item, timing)
        for item in await repository.pending_schedule(session, wallet, reward_ids)
    }
    claims = await repository.claims_by_id(
        session, chain_id, [row_id for kind, row_id in page if kind == "claim"]
    )
    cursor = await load_cursor(session, chain_id) if claims else None
    confirmed_upto = cursor.number - confirmed_depth if cursor else -1
    items: list[RewardItem | ClaimItem] = []
    for kind, row_id in page:
        if kind == "reward":
            item = _reward_item(rewards[row_id])
            when = expected.get(row_id)
            if when is not None:
                item.expected_by = _iso(when)
            items.append(item)
        else:
            claim = claims[row_id]
            items.append(
                ClaimItem(
                    id=row_id,
                    time=_iso_timestamp(claim["block_timestamp"]),
                    token=claim["token"],
                    amount=str(int(claim["amount"])),
                    status="claimed" if claim["block_number"] <= confirmed_upto else "unconfirmed",
                    tx_hash=claim["tx_hash"],
                    block_number=int(claim["block_number"]),
                )
            )
    more = offset + len(items) < total
    return HistoryPage(
        wallet=wallet,
        items=items,
        limit=limit,
        offset=offset,
        total=total,
        next_offset=offset + len(items) if more else None,
    )


async def snapshot_events(
    ctx: AppContext, wallet: str, *, lifetime_s: float, poll_s: float = 1.0
) -> AsyncIterator[tuple[str, str]]:
    """("snapshot", json) on start and whenever it changes; ("", "") as a keep-alive.

    Polls the database once per `poll_s` per connection and ends after
    `lifetime_s`, so connections stay bounded; EventSource clients reconnect.
    """
    chain_id = await chain_id_of(ctx)
    depth = finality_depth(ctx.settings)
    timing = cadence.Timing.of(ctx.settings)
    deadline = time.monotonic() + lifetime_s
    last, last_sent = b"", time.monotonic()
    while True:
        async with ctx.sessions() as session:
            snapshot = await rewards_snapshot(
                session, chain_id=chain_id, wallet=wallet, confirmed_depth=depth, timing=timing
            )
        encoded = msgspec.json.encode(snapshot)
        now = time.monotonic()
        if encoded != last:
            last, last_sent = encoded, now
            yield "snapshot", encoded.decode()
        elif now - last_sent >= KEEP_ALIVE_S:
            last_sent = now
            yield "", ""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        await asyncio.sleep(min(poll_s, remaining))


def _reward_item(row: dict[str, Any]) -> RewardItem:
    queued = (RewardStatus.PENDING, RewardStatus.BATCHED)
    status = "queued" if row["status"] in queued else "pushed"
    if row["status"] == "held":
        status = "under_review"
    if row["claim_tx"] is not None:
        status = "claimed"
    return RewardItem(
        id=int(row["id"]),
        time=_iso(row["created_at"]),
        token=str(row["token"]),
        amount=str(int(row["amount"])),
        status=status,
        level=int(row["level"]),
        campaign=Named(id=str(row["campaign_id"]), name=str(row["campaign_name"])),
        product=Named(id=str(row["product_id"]), name=str(row["product_name"])),
        tx_hash=row["push_tx"] if row["status"] == "pushed" or row["claim_tx"] else None,
        pushed_at=_iso(row["pushed_at"]) if row["pushed_at"] else None,
        claim_tx_hash=row["claim_tx"],
        claimed_at=_iso_timestamp(row["claimed_at"]) if row["claimed_at"] else None,
    )


def _expected_by(item: repository.Scheduled, timing: cadence.Timing) -> datetime | None:
    if not item.settles:
        return None
    return cadence.expected_by(
        available_at=item.available_at,
        oldest_available_at=item.oldest_available_at,
        now=item.now,
        max_wait_s=item.max_wait_s,
        thresholds=item.thresholds,
        timing=timing,
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _iso_timestamp(seconds: int) -> str:
    return _iso(datetime.fromtimestamp(int(seconds), UTC))
