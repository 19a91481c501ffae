"""Queries of the relayer: today's usage per wallet, product and relayer; claim candidates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from backend.relayer.models import IN_FLIGHT, RelayCharge, RelayKind, RelayRequest, RelayStatus
from backend.rewards.models import Reward, RewardStatus
from backend.settlement.models import SettlementTransaction as Tx
from indexer.models import WalletTokenBalance

CHARGED_GAS = func.coalesce(RelayRequest.gas_used, RelayRequest.gas_limit)


async def in_flight_claim(session: AsyncSession, chain_id: int, wallet: str) -> RelayRequest | None:
    return await session.scalar(
        select(RelayRequest).where(
            RelayRequest.chain_id == chain_id,
            RelayRequest.wallet == wallet,
            RelayRequest.kind == RelayKind.CLAIM,
            RelayRequest.status.in_(IN_FLIGHT),
        )
    )


async def requests_since(
    session: AsyncSession, chain_id: int, wallet: str, kind: str, since: datetime
) -> int:
    """Relay requests of `wallet` since `since`: every accepted one counts, mined or not."""
    count = await session.scalar(
        select(func.count())
        .select_from(RelayRequest)
        .where(
            RelayRequest.chain_id == chain_id,
            RelayRequest.wallet == wallet,
            RelayRequest.kind == kind,
            RelayRequest.created_at >= since,
        )
    )
    return int(count or 0)


async def gas_since(session: AsyncSession, chain_id: int, since: datetime) -> int:
    """The relayer's charged gas since `since`: gas used once mined, the gas limit until then."""
    total = await session.scalar(
        select(func.coalesce(func.sum(CHARGED_GAS), 0)).where(
            RelayRequest.chain_id == chain_id, RelayRequest.created_at >= since
        )
    )
    return int(total or 0)


async def product_gas_since(
    session: AsyncSession, products: Sequence[str], since: datetime
) -> dict[str, int]:
    if not products:
        return {}
    rows = await session.execute(
        select(RelayCharge.product_id, func.sum(RelayCharge.gas))
        .where(RelayCharge.product_id.in_(list(products)), RelayCharge.created_at >= since)
        .group_by(RelayCharge.product_id)
    )
    return {product: int(gas) for product, gas in rows}


async def candidate_tokens(session: AsyncSession, chain_id: int, wallet: str) -> list[str]:
    """Tokens the wallet may have pending: pushed to it, or credited as the indexer saw."""
    pushed = select(Reward.token).where(
        Reward.wallet == wallet, Reward.status == RewardStatus.PUSHED
    )
    indexed = select(WalletTokenBalance.token).where(
        WalletTokenBalance.chain_id == chain_id,
        WalletTokenBalance.wallet == wallet,
        WalletTokenBalance.total_added > WalletTokenBalance.total_claimed,
    )
    tokens = await session.scalars(union(pushed, indexed))
    return sorted(set(tokens))


async def pushed_by_product(
    session: AsyncSession, wallet: str, tokens: Sequence[str]
) -> dict[str, dict[str, int]]:
    """token -> product -> amount pushed to `wallet` (who paid the rewards being claimed)."""
    rows = await session.execute(
        select(Reward.token, Reward.product_id, func.sum(Reward.amount))
        .where(
            Reward.wallet == wallet,
            Reward.status == RewardStatus.PUSHED,
            Reward.token.in_(list(tokens)),
        )
        .group_by(Reward.token, Reward.product_id)
    )
    out: dict[str, dict[str, int]] = {}
    for token, product, amount in rows:
        out.setdefault(token, {})[product] = int(amount)
    return out


async def newest_tx_hash(session: AsyncSession, relay: RelayRequest) -> str | None:
    """The hash to show while a relay is in flight: the newest stored transaction of its
    carrier (None while a claim waits for its batch)."""
    if relay.carrier_id is None:
        return None
    return await session.scalar(
        select(Tx.tx_hash).where(Tx.relay_id == relay.carrier_id).order_by(Tx.id.desc()).limit(1)
    )


def _unsent_claim(chain_id: int) -> ColumnElement[bool]:
    """A claim waiting for the relayer's next batch (queued, no transaction carries it)."""
    return and_(
        RelayRequest.chain_id == chain_id,
        RelayRequest.kind == RelayKind.CLAIM,
        RelayRequest.status == RelayStatus.QUEUED,
        RelayRequest.carrier_id.is_(None),
    )


async def claims_due(session: AsyncSession, chain_id: int, wait_s: float, full: int) -> bool:
    """Whether the queued claims should go now: the oldest has waited `wait_s` (database
    time), or `full` of them wait. One statement."""
    oldest_first = (
        select(RelayRequest.created_at)
        .where(_unsent_claim(chain_id))
        .order_by(RelayRequest.created_at)
        .limit(full)
        .subquery()
    )
    oldest, count, now = (
        await session.execute(
            select(func.min(oldest_first.c.created_at), func.count(), func.now()).select_from(
                oldest_first
            )
        )
    ).one()
    if oldest is None:
        return False
    return bool(count >= full or oldest <= now - timedelta(seconds=wait_s))


async def unsent_claims(session: AsyncSession, chain_id: int, limit: int) -> list[RelayRequest]:
    """Claims waiting for the relayer's next batch, oldest first."""
    rows = await session.scalars(
        select(RelayRequest)
        .where(_unsent_claim(chain_id))
        .order_by(RelayRequest.created_at, RelayRequest.id)
        .limit(limit)
    )
    return list(rows)


async def carried_by(session: AsyncSession, carrier_id: uuid.UUID) -> list[RelayRequest]:
    """The requests one transaction carries (its carrier included), locked for update."""
    rows = await session.scalars(
        select(RelayRequest)
        .where(RelayRequest.carrier_id == carrier_id)
        .order_by(RelayRequest.created_at, RelayRequest.id)
        .with_for_update()
    )
    return list(rows)
