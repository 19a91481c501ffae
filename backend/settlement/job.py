"""One push cycle: recover, build, send, wait, confirm; plain async for scheduler, CLI, tests.

Every cycle starts with recovery, so "at start" and "on every run" are the same
code path: a restarted process simply runs a cycle.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import exists, func, or_, select

from backend.core.context import AppContext
from backend.core.models import Alert
from backend.core.scheduler import Scheduler
from backend.observability.metrics import JOB_DURATION
from backend.products.models import ProductBank
from backend.rewards.models import Reward, RewardStatus
from backend.settlement import alerts, roles
from backend.settlement.builder import build_batches
from backend.settlement.chain import ChainReader
from backend.settlement.models import SettlementBatch
from backend.settlement.options import SettlementOptions, load_options
from backend.settlement.recovery import (
    UNSETTLED,
    Outcome,
    handle_mined_reverts,
    heal_reorgs,
    resolve_all,
)
from backend.settlement.signer import Signer, load_signer
from backend.settlement.transactions import Sender, fill_nonce_gaps, track

# How many times one cycle waits for its transactions and recovers after them: the
# first wait sees what it sent; the others, the follow-ups that asked for (a batch a
# bundle skipped, sent again or its nonce cancelled).
FOLLOW_UP_ROUNDS = 3


@dataclass
class PushReport:
    """What one cycle did; printed by `cascade push --once`."""

    batches_created: int = 0
    rewards_batched: int = 0
    batches_pushed: int = 0
    rewards_pushed: int = 0
    amount_pushed: int = 0
    gas_used: int = 0
    tx_hashes: list[str] = field(default_factory=list)
    rebroadcast: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    voided: int = 0
    failed: int = 0
    reorged: int = 0
    halted_banks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def check_distributors(ctx: AppContext, sender: Sender) -> set[str]:
    """Banks whose distributor role the signer lacks: alert once, skip them; resolve on return.

    Only banks with work are looked at (pending rows, unsettled batches, or an open alert
    to resolve), and their roles and epochs come from the role view (roles.py): a constant
    number of calls per cycle, none at all when there is nothing to do. The epochs are left
    on the reader for the builder (ChainReader.signing_epoch).
    """
    open_alert = exists().where(
        Alert.code == alerts.SIGNER_NOT_DISTRIBUTOR,
        Alert.subject == ProductBank.address,
        Alert.resolved_at.is_(None),
    )
    async with ctx.sessions() as session:
        banks = (
            await session.execute(
                select(ProductBank.product_id, ProductBank.address, open_alert).where(
                    ProductBank.chain_id == sender.chain_id,
                    or_(
                        exists().where(
                            Reward.product_id == ProductBank.product_id,
                            Reward.status == RewardStatus.PENDING,
                        ),
                        exists().where(
                            SettlementBatch.bank_address == ProductBank.address,
                            SettlementBatch.status.in_(UNSETTLED),
                        ),
                        open_alert,
                    ),
                )
            )
        ).all()
    if not banks:
        return set()
    alerted = {bank for _, bank, is_open in banks if is_open}
    known = await roles.view(
        ctx.sessions,
        sender.reader,
        chain_id=sender.chain_id,
        signer=sender.signer.address,
        banks=[bank for _, bank, _ in banks],
        confirmations=ctx.settings.confirmations,
        alerted=alerted,
    )
    sender.reader.epochs.update({bank: state.epoch for bank, state in known.items()})
    halted = {bank for bank, state in known.items() if not state.is_distributor}
    if not halted and not alerted:
        return halted
    async with ctx.sessions() as session:
        for product_id, bank, _ in banks:
            if bank in halted:
                await alerts.signer_not_distributor(
                    session, product_id, bank, sender.signer.address
                )
            elif bank in alerted:
                await alerts.resolve(session, alerts.SIGNER_NOT_DISTRIBUTOR, bank)
        await session.commit()
    return halted


async def make_sender(
    ctx: AppContext, signer: Signer | None = None, options: SettlementOptions | None = None
) -> Sender:
    reader = ChainReader(ctx.w3)
    chain_id = await reader.chain_id()
    expected = ctx.settings.chain_id
    if expected is not None and expected != chain_id:
        raise RuntimeError(f"RPC_URL serves chain {chain_id}, CHAIN_ID says {expected}")
    return Sender(reader, signer or load_signer(ctx.settings), chain_id, options or load_options())


async def recover(
    ctx: AppContext,
    sender: Sender,
    outcome: Outcome,
    halted: set[str],
    blocks: dict[int, str],
) -> None:
    """Bring every unsettled batch and open transaction in line with the chain.

    `blocks` carries the block hashes heal_reorgs read, from one pass of a cycle to the next.
    """
    await heal_reorgs(ctx.sessions, sender, outcome, blocks)
    # A reorg that took a transaction of the signer Cascade never stored leaves a nonce
    # gap below our open slots: filled first, or the node holds them back for good.
    outcome.sent += await fill_nonce_gaps(ctx.sessions, sender)
    tracked = await track(ctx.sessions, sender)
    outcome.rebroadcast += tracked.rebroadcast
    outcome.replaced += tracked.replaced
    await handle_mined_reverts(ctx.sessions, sender, tracked.reverted, outcome)
    await resolve_all(
        ctx.sessions,
        sender,
        outcome,
        confirmations=ctx.settings.confirmations,
        halted_banks=halted,
        factory=ctx.settings.bank_factory_address,
    )


async def push_once(
    ctx: AppContext,
    *,
    signer: Signer | None = None,
    options: SettlementOptions | None = None,
    wait_s: float | None = None,
) -> PushReport:
    """One full cycle. `wait_s` bounds the wait for this cycle's transactions (default: options)."""
    sender = await make_sender(ctx, signer, options)
    outcome = Outcome()
    report = PushReport()
    halted = await check_distributors(ctx, sender)
    blocks: dict[int, str] = {}
    await recover(ctx, sender, outcome, halted, blocks)

    head = await sender.reader.block("latest")
    built = await build_batches(
        ctx.sessions,
        signer=sender.signer,
        chain_id=sender.chain_id,
        batch_size=ctx.settings.batch_size,
        cooldown_s=ctx.settings.push_cooldown_s,
        deadline=int(head["timestamp"]) + sender.options.deadline_s,
        signed_block=int(head["number"]),
        halted_banks=halted,
        epochs=sender.reader.signing_epoch,
        errors=outcome.errors,
    )
    report.batches_created = len(built)
    report.rewards_batched = sum(b.rewards for b in built)
    await resolve_all(
        ctx.sessions,
        sender,
        outcome,
        confirmations=ctx.settings.confirmations,
        halted_banks=halted,
        factory=ctx.settings.bank_factory_address,
    )

    wait = sender.options.receipt_wait_s if wait_s is None else wait_s
    waited: set[str] = set()
    # What mined may call for more: a batch a bundle skipped is sent again or, refused,
    # its nonce cancelled. Those follow-ups are waited for too, a bounded number of times.
    for _ in range(FOLLOW_UP_ROUNDS):
        sent = outcome.sent + outcome.rebroadcast + outcome.replaced
        in_flight = [tx_hash for tx_hash in sent if tx_hash not in waited]
        if not in_flight or wait <= 0:
            break
        waited.update(in_flight)
        await _wait_for_receipts(sender.reader, in_flight, wait)
        await recover(ctx, sender, outcome, halted, blocks)
    await _fill_report(ctx, outcome, report, halted)
    return report


async def _wait_for_receipts(reader: ChainReader, hashes: list[str], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    pending = list(hashes)
    while pending and time.monotonic() < deadline:
        pending = [h for h in pending if await reader.receipt(h) is None]
        if pending:
            await asyncio.sleep(0.2)


async def _fill_report(
    ctx: AppContext, outcome: Outcome, report: PushReport, halted: set[str]
) -> None:
    report.tx_hashes = list(dict.fromkeys(outcome.sent))
    report.voided = len(outcome.voided)
    report.failed = len(outcome.failed)
    report.reorged = len(outcome.reorged)
    report.rebroadcast = outcome.rebroadcast
    report.replaced = outcome.replaced
    report.halted_banks = sorted(halted | outcome.halted_banks)
    report.errors = outcome.errors
    if outcome.pushed:
        async with ctx.sessions() as session:
            row = (
                await session.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(SettlementBatch.reward_count), 0),
                        func.coalesce(func.sum(SettlementBatch.total), 0),
                        func.coalesce(func.sum(SettlementBatch.gas_used), 0),
                    ).where(SettlementBatch.id.in_(outcome.pushed))
                )
            ).one()
        report.batches_pushed = int(row[0])
        report.rewards_pushed = int(row[1])
        report.amount_pushed = int(row[2])
        report.gas_used = int(row[3])
        report.tx_hashes = list(dict.fromkeys(report.tx_hashes))


def register_jobs(scheduler: Scheduler) -> None:
    """The push job, every PUSH_INTERVAL_S, on the leader replica only."""
    interval = scheduler.ctx.settings.push_interval_s
    scheduler.add_job("settlement.push", interval, run_push_job, leader_only=True)


async def run_push_job(ctx: AppContext) -> None:
    """The scheduler's entry point: one cycle, timed and logged."""
    started = time.perf_counter()
    try:
        report = await push_once(ctx)
    finally:
        JOB_DURATION.labels(job="settlement_push").observe(time.perf_counter() - started)
    if report.batches_created or report.batches_pushed or report.errors:
        alerts.log.info("push cycle", extra=report.as_dict())
