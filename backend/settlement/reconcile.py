"""Reconciliation: the database's pushed total per (token, wallet) against the chain's RewardAdded.

The chain side comes from the indexer's tables when its checkpoint covers every
pushed batch, else straight from eth_getLogs (RewardAdded on MultiTokenPushPull,
emitter = one of our banks). Both sides stop at the same confirmed block.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak, to_checksum_address
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.core.db import job_session
from backend.products.models import ProductBank
from backend.rewards.models import Reward, RewardStatus
from backend.settlement.chain import ChainReader
from backend.settlement.models import SettlementBatch
from indexer.models import ChainEvent, IndexerCheckpoint

REWARD_ADDED = "0x" + keccak(text="RewardAdded(address,address,address,uint256)").hex()
LOG_CHUNK = 10_000


@dataclass(frozen=True)
class Mismatch:
    token: str
    wallet: str
    database: int
    chain: int


@dataclass
class ReconcileReport:
    source: str  # indexer | logs
    to_block: int
    pairs: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "to_block": self.to_block,
            "pairs": self.pairs,
            "mismatches": [
                {**m.__dict__, "database": str(m.database), "chain": str(m.chain)}
                for m in self.mismatches
            ],
        }


Totals = dict[tuple[str, str], int]


async def reconcile(ctx: AppContext) -> ReconcileReport:
    """Every (token, wallet) whose pushed rows and on-chain credits differ."""
    reader = ChainReader(ctx.w3)
    chain_id = await reader.chain_id()
    to_block = max(await reader.head() - ctx.settings.confirmations, 0)
    async with ctx.sessions() as session:
        banks: dict[str, int | None] = {
            str(to_checksum_address(a)): b
            for a, b in (
                await session.execute(
                    select(ProductBank.address, ProductBank.deploy_block).where(
                        ProductBank.chain_id == chain_id
                    )
                )
            ).all()
        }
        checkpoint = await session.scalar(
            select(func.min(IndexerCheckpoint.block_number)).where(
                IndexerCheckpoint.chain_id == chain_id
            )
        )
        last_push = await session.scalar(
            select(func.max(SettlementBatch.block_number)).where(
                SettlementBatch.chain_id == chain_id, SettlementBatch.status == "pushed"
            )
        )
        if checkpoint is not None and checkpoint >= (last_push or 0):
            report = ReconcileReport("indexer", min(int(checkpoint), to_block))
            chain = await _indexed_totals(session, chain_id, list(banks), report.to_block)
        else:
            report = ReconcileReport("logs", to_block)
            chain = await _log_totals(ctx, reader, banks, report.to_block)
        database = await _database_totals(session, chain_id, report.to_block)
    for key in sorted(set(database) | set(chain)):
        report.pairs += 1
        if database.get(key, 0) != chain.get(key, 0):
            report.mismatches.append(Mismatch(*key, database.get(key, 0), chain.get(key, 0)))
    return report


async def _database_totals(session: AsyncSession, chain_id: int, to_block: int) -> Totals:
    rows = await session.execute(
        select(Reward.token, Reward.wallet, func.sum(Reward.amount))
        .join(SettlementBatch, SettlementBatch.id == Reward.batch_id)
        .where(
            Reward.status == RewardStatus.PUSHED,
            SettlementBatch.chain_id == chain_id,
            SettlementBatch.block_number <= to_block,
        )
        .group_by(Reward.token, Reward.wallet)
    )
    return {
        (to_checksum_address(token), to_checksum_address(wallet)): int(total)
        for token, wallet, total in rows
    }


async def _indexed_totals(
    session: AsyncSession, chain_id: int, banks: list[str], to_block: int
) -> Totals:
    lowered = [bank.lower() for bank in banks]
    rows = await session.execute(
        select(ChainEvent.token, ChainEvent.wallet, func.sum(ChainEvent.amount))
        .where(
            ChainEvent.chain_id == chain_id,
            ChainEvent.event == "RewardAdded",
            ChainEvent.block_number <= to_block,
            or_(
                func.lower(ChainEvent.address).in_(lowered),
                func.lower(ChainEvent.args["emitter"].astext).in_(lowered),
            ),
        )
        .group_by(ChainEvent.token, ChainEvent.wallet)
    )
    totals: Totals = defaultdict(int)
    for token, wallet, total in rows:
        if token and wallet:
            totals[(to_checksum_address(token), to_checksum_address(wallet))] += int(total)
    return dict(totals)


async def _log_totals(
    ctx: AppContext, reader: ChainReader, banks: dict[str, int | None], to_block: int
) -> Totals:
    if not banks:
        return {}
    push_pull = ctx.settings.push_pull_address
    if push_pull is None:
        push_pull = await reader.bank(next(iter(banks))).functions.pushPull().call()
    emitters = ["0x" + "00" * 12 + bank[2:].lower() for bank in banks]
    start = min((block or 0) for block in banks.values())
    totals: Totals = defaultdict(int)
    while start <= to_block:
        end = min(start + LOG_CHUNK - 1, to_block)
        logs = await reader.w3.eth.get_logs(
            {
                "address": to_checksum_address(push_pull),
                "fromBlock": start,
                "toBlock": end,
                "topics": [REWARD_ADDED, None, None, emitters],
            }
        )
        for entry in logs:
            topics = entry["topics"]
            token = to_checksum_address(bytes(topics[1])[-20:])
            wallet = to_checksum_address(bytes(topics[2])[-20:])
            totals[(token, wallet)] += int.from_bytes(bytes(entry["data"])[:32], "big")
        start = end + 1
    return dict(totals)


async def reconcile_and_alert(ctx: AppContext) -> ReconcileReport:
    """Reconcile, then open the critical `reconcile_mismatch` alert or resolve it.

    Both `cascade reconcile` and the hourly job go through here, so an operator
    sees a mismatch on /health/ready details and in metrics whoever found it.
    """
    from backend.observability.alerts import RECONCILE_MISMATCH, raise_alert, resolve_alert

    report = await reconcile(ctx)
    async with job_session(ctx.sessions) as session:
        if report.mismatches:
            await raise_alert(
                session,
                RECONCILE_MISMATCH,
                "critical",
                f"{len(report.mismatches)} (token, wallet) pair(s) differ between the "
                "database's pushed rewards and the chain",
                subject="reconcile",
                details={"mismatches": report.as_dict()["mismatches"][:20]},
            )
        else:
            await resolve_alert(session, RECONCILE_MISMATCH, "reconcile")
    return report
