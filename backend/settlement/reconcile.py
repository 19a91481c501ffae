"""Reconciliation: what the database says was paid per (token, wallet) against RewardAdded.

Both sides are read at one block B, never later than the confirmed head
(head - CONFIRMATIONS). The chain side is the RewardAdded credits our banks
emitted up to B: from the indexer's tables when its checkpoint covers every
pushed batch, else straight from eth_getLogs. The database side is, in one
snapshot taken after B was chosen:

- the rows of batches recorded `pushed` at a block <= B, and
- the signed payload of each batch still in flight (signed, submitted,
  cancelling) whose nonce the bank reports as paid at B: the push mined and
  confirmed, the push job records it on its next cycle.

So a push that is mined but not yet recorded, or recorded above B, counts on
both sides or on neither: any moment of normal operation reconciles to zero.
A void or failed batch never counts, even if its nonce was used: that is a
double payment in the making, and exactly what reconcile must report. Every
(token, wallet) present on either side is compared; a credit with no row, or
a pushed row with no credit, is a mismatch.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak, to_checksum_address
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.chain.artifacts import load_artifact
from backend.core.context import AppContext
from backend.core.db import job_session
from backend.products.models import ProductBank
from backend.rewards.models import Reward, RewardStatus
from backend.settlement.chain import ChainReader
from backend.settlement.models import BatchStatus, SettlementBatch
from indexer.models import ChainEvent, IndexerCheckpoint

REWARD_ADDED = "0x" + keccak(text="RewardAdded(address,address,address,uint256)").hex()
LOG_CHUNK = 10_000
# Batches the push job may still record as pushed (a string list: new states stay readable).
IN_FLIGHT = ("signed", "submitted", "cancelling")
NONCE_PAID = 1  # ProductBank.nonceState: 0 unused, 1 paid, 2 cancelled


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
    # in-flight batches whose nonce was paid at `to_block`: counted from their signed payload
    unrecorded_batches: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "to_block": self.to_block,
            "pairs": self.pairs,
            "unrecorded_batches": self.unrecorded_batches,
            "mismatches": [
                {**m.__dict__, "database": str(m.database), "chain": str(m.chain)}
                for m in self.mismatches
            ],
        }


Totals = dict[tuple[str, str], int]


@dataclass(frozen=True)
class _InFlight:
    id: uuid.UUID
    bank: str
    nonce: str
    token: str
    payload: list[Any]


async def reconcile(ctx: AppContext) -> ReconcileReport:
    """Every (token, wallet) whose paid total differs between the database and the chain."""
    reader = ChainReader(ctx.w3)
    chain_id = await reader.chain_id()
    # The head is read before the database snapshot: a batch the snapshot does not know
    # yet was signed after this, so it cannot have been paid at or below the block compared.
    confirmed = max(await reader.head() - ctx.settings.confirmations, 0)
    async with ctx.sessions() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
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
                SettlementBatch.chain_id == chain_id, SettlementBatch.status == BatchStatus.PUSHED
            )
        )
        chain: Totals | None = None
        if checkpoint is not None and checkpoint >= (last_push or 0):
            report = ReconcileReport("indexer", min(int(checkpoint), confirmed))
            chain = await _indexed_totals(session, chain_id, list(banks), report.to_block)
        else:
            report = ReconcileReport("logs", confirmed)
        database = await _pushed_totals(session, chain_id, report.to_block)
        in_flight = await _in_flight(session, chain_id)
        await session.rollback()  # a read-only snapshot: end it before the RPC calls
    if chain is None:
        chain = await _log_totals(ctx, reader, banks, report.to_block)
    is_paid = _nonce_check(reader)
    for batch in in_flight:
        if await is_paid(batch.bank, batch.nonce, report.to_block):
            report.unrecorded_batches += 1
            for entry in batch.payload:
                key = (
                    str(to_checksum_address(batch.token)),
                    str(to_checksum_address(entry["user"])),
                )
                database[key] = database.get(key, 0) + int(entry["amount"])
    for key in sorted(set(database) | set(chain)):
        report.pairs += 1
        if database.get(key, 0) != chain.get(key, 0):
            report.mismatches.append(Mismatch(*key, database.get(key, 0), chain.get(key, 0)))
    return report


def _nonce_check(reader: ChainReader) -> Any:
    """`is_paid(bank, nonce, block)`: nonceState == paid where the bank has it, else isNonceUsed.

    A nonce burnt by a cancellation is used but paid nothing, so the three-state view
    is preferred whenever the compiled ProductBank exposes it.
    """
    names = {entry.get("name") for entry in load_artifact("ProductBank").abi}

    async def is_paid(bank: str, nonce: str, block: int) -> bool:
        if "nonceState" in names:
            call = reader.bank(bank).functions.nonceState(bytes.fromhex(nonce[2:]))
            return int(await call.call(block_identifier=block)) == NONCE_PAID
        return await reader.is_nonce_used(bank, nonce, block)

    return is_paid


async def _pushed_totals(session: AsyncSession, chain_id: int, to_block: int) -> Totals:
    """Rows of batches recorded as pushed at a block <= `to_block`."""
    rows = await session.execute(
        select(Reward.token, Reward.wallet, func.sum(Reward.amount))
        .join(SettlementBatch, SettlementBatch.id == Reward.batch_id)
        .where(
            Reward.status == RewardStatus.PUSHED,
            SettlementBatch.status == BatchStatus.PUSHED,
            SettlementBatch.chain_id == chain_id,
            SettlementBatch.block_number <= to_block,
        )
        .group_by(Reward.token, Reward.wallet)
    )
    totals: Totals = defaultdict(int)
    for token, wallet, total in rows:
        totals[(to_checksum_address(token), to_checksum_address(wallet))] += int(total)
    return dict(totals)


async def _in_flight(session: AsyncSession, chain_id: int) -> list[_InFlight]:
    rows = await session.execute(
        select(
            SettlementBatch.id,
            SettlementBatch.bank_address,
            SettlementBatch.nonce,
            SettlementBatch.token,
            SettlementBatch.payload,
        ).where(SettlementBatch.chain_id == chain_id, SettlementBatch.status.in_(IN_FLIGHT))
    )
    return [_InFlight(*row) for row in rows.tuples()]


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
                f"{len(report.mismatches)} (token, wallet) pair(s) differ between what the "
                f"database says was paid and the chain, up to block {report.to_block}",
                subject="reconcile",
                details={"mismatches": report.as_dict()["mismatches"][:20]},
            )
        else:
            await resolve_alert(session, RECONCILE_MISMATCH, "reconcile")
    return report
