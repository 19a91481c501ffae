"""Resolve every batch that is not pushed from what the chain says, never from memory.

Order of questions for one batch (its row locked FOR UPDATE SKIP LOCKED):
nonce paid at the confirmed block -> pushed; cancelled there -> void; used only
above it -> wait for confirmations; unused and, at the confirmed block, past the
deadline or signed under an older distributor epoch -> void (the signature can
never pay again). Only then are rows released: back to pending, or cancelled
when refunded or their campaign is deactivated (budget given back). A batch that
must not pay (a refund reached one of its rows, the bank refused it for funding)
is `cancelling`: its nonce is cancelled on the bank first, because its signed
payload has left this database (eth_call, gas estimate) and anyone may send it.
Otherwise: a transaction still in flight -> the tracker's business; else
simulate and (re)send the stored signed payload. With a factory to send through
(`Bundler`), the batches found ready in one pass that fit leave together, several
banks' in one ProductBankFactory.pushMany; the factory skips a batch whose push
reverts, and the next pass finds that batch unpaid with nothing in flight and
simulates it again, exactly as if it had been sent alone. Asking the bank about the nonce
is what makes a crash between "mined" and "recorded" harmless: the same nonce
cannot pay twice, so re-sending is always safe and never needed twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.campaigns import refunds
from backend.campaigns.models import Campaign, CampaignStatus
from backend.chain.nonces import sender_lock
from backend.chain.reverts import classify
from backend.core.locks import advisory_lock
from backend.notifications import events
from backend.notifications.outbox import enqueue_event
from backend.observability import metrics
from backend.rewards import service as rewards
from backend.rewards.models import Reward, RewardStatus
from backend.settlement import alerts, bundles, faults
from backend.settlement.alerts import BATCHES, REWARDS_PUSHED, log
from backend.settlement.chain import NONCE_CANCELLED, NONCE_PAID, NONCE_UNUSED, ChainReader
from backend.settlement.models import BatchStatus, SettlementBatch
from backend.settlement.models import SettlementTransaction as Tx
from backend.settlement.signer import push_calldata
from backend.settlement.transactions import (
    CANCEL,
    CANCEL_NONCE,
    MINED,
    SENT,
    Reverted,
    Sender,
    broadcast,
    estimate_gas,
    in_flight,
    replace,
    store_bundle,
    store_call,
    store_push,
)

UNSETTLED = (BatchStatus.SIGNED, BatchStatus.SUBMITTED, BatchStatus.CANCELLING)

# revert code -> (campaign status, alert code); the batch is cancelled on the bank, its
# rows wait in pending for the owner to act (a deactivated campaign's rows are cancelled).
FUNDING_REVERTS: dict[str, tuple[str, str]] = {
    "budget_exceeded": (CampaignStatus.BUDGET_EXHAUSTED, alerts.BUDGET_EXHAUSTED),
    "insufficient_balance": (CampaignStatus.BUDGET_EXHAUSTED, alerts.INSUFFICIENT_BALANCE),
    "campaign_deactivated": (CampaignStatus.DEACTIVATED, alerts.CAMPAIGN_DEACTIVATED),
    "campaign_inactive": (CampaignStatus.BUDGET_EXHAUSTED, alerts.CAMPAIGN_INACTIVE),
    # the token refused to move (paused, blocklisted bank): like missing funds, the owner acts
    "transfer_failed": (CampaignStatus.BUDGET_EXHAUSTED, alerts.TOKEN_REFUSED),
}
# Reverts that the next resolution pass settles by itself (pushed or void).
SELF_RESOLVING = frozenset({"nonce_used", "deadline_passed"})


@dataclass
class Outcome:
    pushed: list[uuid.UUID] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    voided: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    reorged: list[uuid.UUID] = field(default_factory=list)
    rebroadcast: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    halted_banks: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


@dataclass
class PassView:
    """What one resolution pass reads of the chain once for all its batches.

    The head is read at the start of the pass: a batch resolved later in the pass sees
    fewer confirmations than it may have, which only ever makes it wait (a paid nonce not
    yet confirmed is still read as mined at `latest`; a deadline passes a little later).
    """

    head: int
    timestamps: dict[int, int] = field(default_factory=dict)  # block number -> timestamp

    async def timestamp(self, reader: ChainReader, number: int) -> int:
        if number not in self.timestamps:
            self.timestamps[number] = int((await reader.block(number))["timestamp"])
        return self.timestamps[number]


@dataclass(frozen=True)
class Bundler:
    """Sends the batches of several banks in one ProductBankFactory.pushMany."""

    factory: str
    initcode_hash: str  # the factory's bankInitcodeHash: which banks are its own
    gas_budget: int  # gas of one bundle, parts' own gas summed

    def part(self, batch: SettlementBatch, data: bytes, gas: int) -> bundles.Part | None:
        """The batch as a part of a bundle, or None when it must go alone."""
        derived = bundles.bank_address(self.factory, batch.product_id, self.initcode_hash)
        if derived.lower() != batch.bank_address.lower():
            return None  # not a bank of this factory: pushMany could not reach it
        part = bundles.Part(batch.product_id, gas, data, batch.id)
        return part if bundles.fits(part) else None


async def make_bundler(sender: Sender, factory: str | None) -> Bundler | None:
    """A bundler for `factory`, or None when batches go alone (no factory, budget 0)."""
    budget = sender.options.bundle_gas
    if not factory or budget <= 0:
        return None
    return Bundler(factory, await sender.reader.bank_initcode_hash(factory), budget)


async def heal_reorgs(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    outcome: Outcome,
    canonical: dict[int, str],
) -> None:
    """Undo what a reorg took away: our mined transactions and recently pushed batches.

    `canonical` (block number -> hash) is what this push cycle already read: a cycle heals
    before it sends and again after each wait for receipts, seconds apart, and asks for
    each block once (a reorg in between is seen by the next cycle's first pass, or here
    as a batch whose hash differs from the one read earlier: both send it back to
    submitted, to be resolved from the chain again).
    """
    chain_nonce = await sender.reader.account_nonce(sender.signer.address, "latest")
    head = await sender.reader.head()
    async with sessions() as session:
        # A mined transaction at or above the account's nonce is no longer in the chain:
        # its slot reopens, and the tracker re-broadcasts the very same bytes.
        await session.execute(
            update(Tx)
            .where(
                Tx.sender == sender.signer.address,
                Tx.status == MINED,
                Tx.account_nonce >= chain_nonce,
            )
            .values(status=SENT)
        )
        recent = (
            await session.scalars(
                select(SettlementBatch).where(
                    SettlementBatch.chain_id == sender.chain_id,
                    SettlementBatch.status == BatchStatus.PUSHED,
                    SettlementBatch.block_number >= head - sender.options.reorg_window_blocks,
                )
            )
        ).all()
        for batch in recent:  # one request per block, however many batches it paid
            assert batch.block_number is not None
            if batch.block_number <= head:
                if batch.block_number not in canonical:
                    block = await sender.reader.block(batch.block_number)
                    canonical[batch.block_number] = "0x" + bytes(block["hash"]).hex()
                if canonical[batch.block_number] == batch.block_hash:
                    continue
            log.warning("push reorged out", extra={"batch": str(batch.id)})
            batch.status = BatchStatus.SUBMITTED
            batch.mined_tx_hash = batch.block_hash = None
            batch.block_number = batch.gas_used = None
            batch.pushed_at = None
            await session.execute(
                update(Reward)
                .where(Reward.batch_id == batch.id, Reward.status == RewardStatus.PUSHED)
                .values(status=RewardStatus.BATCHED, tx_hash=None, pushed_at=None)
            )
            outcome.reorged.append(batch.id)
            BATCHES.labels(outcome="reorged").inc()
        await session.commit()


async def resolve_all(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    outcome: Outcome,
    *,
    confirmations: int,
    halted_banks: Collection[str],
    factory: str | None = None,
) -> None:
    """Resolve each unsettled batch in its own transaction (a failure never blocks the rest).

    With a ProductBankFactory address, the batches ready to send leave together at
    the end, several banks' per transaction (send_bundles).
    """
    async with sessions() as session:
        ids = (
            await session.scalars(
                select(SettlementBatch.id)
                .where(
                    SettlementBatch.chain_id == sender.chain_id,
                    SettlementBatch.status.in_(UNSETTLED),
                )
                .order_by(SettlementBatch.created_at)
            )
        ).all()
    if not ids:
        return
    bundler = await make_bundler(sender, factory)
    view = PassView(await sender.reader.head())
    ready: list[bundles.Part] = []
    for batch_id in ids:
        async with sessions() as session:
            try:
                part = await resolve_batch(
                    session,
                    sender,
                    batch_id,
                    outcome,
                    confirmations=confirmations,
                    halted_banks=halted_banks,
                    bundler=bundler,
                    view=view,
                )
            except Exception as exc:  # an RPC hiccup: this batch waits for the next run
                await session.rollback()
                log.exception("batch resolution failed", extra={"batch": str(batch_id)})
                outcome.errors.append(f"{batch_id}: {type(exc).__name__}: {exc}"[:300])
                continue
        if part is not None:
            ready.append(part)
    if bundler is not None and ready:
        await send_bundles(sessions, sender, bundler, ready, outcome)


async def resolve_batch(
    session: AsyncSession,
    sender: Sender,
    batch_id: uuid.UUID,
    outcome: Outcome,
    *,
    confirmations: int,
    halted_banks: Collection[str],
    view: PassView,
    bundler: Bundler | None = None,
) -> bundles.Part | None:
    """Settle one batch from the chain, or send it.

    Returns the batch as a bundle part, unsent, when `bundler` takes it (the caller
    sends it with the others); otherwise None. `view` is what the pass read of the chain.
    """
    batch = await session.scalar(
        select(SettlementBatch)
        .where(SettlementBatch.id == batch_id, SettlementBatch.status.in_(UNSETTLED))
        .with_for_update(skip_locked=True)
    )
    if batch is None:
        return None  # settled meanwhile, or another pusher is on it
    reader = sender.reader
    confirmed = max(view.head - confirmations, 0)
    state = await reader.nonce_state(batch.bank_address, batch.nonce, confirmed)
    if state == NONCE_PAID:
        await _confirm(session, sender, batch, confirmed, outcome)
        return None
    if state == NONCE_CANCELLED:
        await retire(session, batch, BatchStatus.VOID, "nonce_cancelled", outcome)
        return None
    if await reader.nonce_state(batch.bank_address, batch.nonce, "latest") != NONCE_UNUSED:
        return None  # mined, waiting for confirmations
    if await view.timestamp(reader, confirmed) > batch.deadline:
        await retire(session, batch, BatchStatus.VOID, "deadline_passed", outcome)
        return None
    epoch = await reader.distributor_epoch(batch.bank_address, confirmed)
    if epoch > batch.epoch:
        # a distributor was revoked since signing: this signature can never verify again
        await retire(session, batch, BatchStatus.VOID, "signature_revoked", outcome)
        return None
    if epoch < batch.epoch and await reader.distributor_epoch(batch.bank_address) < batch.epoch:
        # Signed for an epoch the bank has not reached (a reorg took a revocation back).
        # Epochs only grow, so the signature pays once the bank gets there: it is not
        # dead, and its rows must not move before its nonce is burnt.
        batch.error_code = "epoch_ahead"
        await cancel_on_chain(session, sender, batch, outcome)
        return None
    if batch.status == BatchStatus.CANCELLING or await rewards.has_refunded(session, batch.id):
        waiting = batch.next_attempt_at is not None and batch.next_attempt_at > datetime.now(UTC)
        if not waiting:
            await cancel_on_chain(session, sender, batch, outcome)
        return None
    if await in_flight(session, batch.id) is not None:
        return None
    now = datetime.now(UTC)
    if batch.next_attempt_at is not None and batch.next_attempt_at > now:
        return None
    if batch.bank_address in halted_banks:
        outcome.halted_banks.add(batch.bank_address)
        return None
    data = push_calldata(reader.bank(batch.bank_address), batch, sender.signer.address)
    call = {"from": sender.signer.address, "to": batch.bank_address, "data": data, "value": 0}
    reason = await reader.simulate(call)
    if reason is not None:
        await apply_revert(session, sender, batch, reason, outcome)
        await session.commit()
        if batch.status == BatchStatus.CANCELLING:
            await cancel_on_chain(session, sender, batch, outcome)
        return None
    gas = await estimate_gas(sender, call)
    part = bundler.part(batch, data, gas) if bundler is not None else None
    if part is not None:
        return part  # sent with the pass's other ready batches (send_bundles)
    await _send_alone(session, sender, batch, data, gas, outcome)
    return None


async def _send_alone(
    session: AsyncSession,
    sender: Sender,
    batch: SettlementBatch,
    data: bytes,
    gas: int,
    outcome: Outcome,
) -> None:
    """Store, commit and broadcast the batch's own ProductBank.pushRewards."""
    await _submit(
        session, sender, [batch], lambda: store_push(session, sender, batch, data, gas), outcome
    )


async def _submit(
    session: AsyncSession,
    sender: Sender,
    batches: list[SettlementBatch],
    store: Callable[[], Awaitable[Tx]],
    outcome: Outcome,
) -> None:
    """Store the transaction carrying `batches` with them submitted, commit, then broadcast."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    # Nonce choice through broadcast under the signer's lock: an admin send from the
    # same key (bank deploy, budget) can never take the nonce stored here.
    async with advisory_lock(engine, sender_lock(sender.chain_id, sender.signer.address)):
        row = await store()
        for batch in batches:
            batch.status = BatchStatus.SUBMITTED
            batch.attempts += 1
        await session.commit()
        faults.crash_point("tx_stored")
        await broadcast(sender, row)
    faults.crash_point("tx_sent")
    outcome.sent.append(row.tx_hash)


async def send_bundles(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    bundler: Bundler,
    ready: Sequence[bundles.Part],
    outcome: Outcome,
) -> None:
    """Send the ready batches in bundles within the gas budget, each bundle on its own."""
    for group in bundles.pack(bundles.by_bank(ready), bundler.gas_budget):
        async with sessions() as session:
            try:
                await _send_bundle(session, sender, bundler, group, outcome)
            except Exception as exc:  # an RPC hiccup: these batches wait for the next run
                await session.rollback()
                log.exception("bundle not sent", extra={"batches": len(group)})
                outcome.errors.append(f"bundle: {type(exc).__name__}: {exc}"[:300])


async def _send_bundle(
    session: AsyncSession,
    sender: Sender,
    bundler: Bundler,
    members: list[bundles.Part],
    outcome: Outcome,
) -> None:
    # The batches were resolved and simulated one by one, each in a transaction of its
    # own: lock them again and keep those still unsent (another pusher may have sent one).
    locked = {
        batch.id: batch
        for batch in await session.scalars(
            select(SettlementBatch)
            .where(
                SettlementBatch.id.in_([part.batch_id for part in members]),
                SettlementBatch.status.in_([BatchStatus.SIGNED, BatchStatus.SUBMITTED]),
            )
            .with_for_update(skip_locked=True)
        )
    }
    parts = [
        (locked[part.batch_id], part)
        for part in members
        if part.batch_id in locked and await in_flight(session, part.batch_id) is None
    ]
    if len(parts) < 2:
        for batch, part in parts:
            await _send_alone(session, sender, batch, part.calldata, part.gas, outcome)
        await session.commit()
        return
    factory = sender.reader.factory(bundler.factory)
    data = bytes.fromhex(
        str(
            factory.encode_abi("pushMany", args=[bundles.encode_parts([part for _, part in parts])])
        )[2:]
    )
    call = {"from": sender.signer.address, "to": bundler.factory, "data": data, "value": 0}
    reason = await sender.reader.simulate(call)
    if reason is not None:
        # pushMany itself refused (short of gas cannot happen in a call): each goes alone
        log.warning("bundle refused, sending alone", extra={"reason": reason[:300]})
        for batch, part in parts:
            await _send_alone(session, sender, batch, part.calldata, part.gas, outcome)
        return
    gas = await estimate_gas(sender, call)
    batches = [batch for batch, _ in parts]
    ids = [batch.id for batch in batches]
    await _submit(
        session,
        sender,
        batches,
        lambda: store_bundle(session, sender, bundler.factory, ids, data, gas),
        outcome,
    )


async def _confirm(
    session: AsyncSession,
    sender: Sender,
    batch: SettlementBatch,
    confirmed: int,
    outcome: Outcome,
) -> None:
    """The bank used this nonce at a confirmed block: record which transaction paid it."""
    event = await sender.reader.find_push(
        batch.bank_address,
        batch.chain_campaign_id,
        batch.token,
        batch.nonce,
        batch.signed_block or 0,
        confirmed,
    )
    if event is None:
        raise RuntimeError(f"nonce {batch.nonce} is used but no RewardsPushed log was found")
    if (event.total, event.count) != (batch.total, len(batch.payload)):
        # Another batch paid under our nonce (a reused nonce: docs/operations.md, restoring
        # a database). The bank pays a nonce once, so ours never paid and never will.
        log.error("batch nonce paid by another batch", extra={"batch": str(batch.id)})
        await retire(session, batch, BatchStatus.VOID, "nonce_paid_elsewhere", outcome)
        return
    receipt = await sender.reader.receipt(event.tx_hash)
    faults.crash_point("receipt_seen")
    now = datetime.now(UTC)
    batch.status = BatchStatus.PUSHED
    batch.mined_tx_hash = event.tx_hash
    batch.block_number = event.block_number
    batch.block_hash = event.block_hash
    batch.gas_used = bundles.gas_share(receipt, batch.nonce) if receipt is not None else None
    batch.pushed_at = now
    batch.error_code = batch.error_message = None
    batch.next_attempt_at = None
    await session.execute(
        update(Reward)
        .where(Reward.batch_id == batch.id, Reward.status == RewardStatus.BATCHED)
        .values(status=RewardStatus.PUSHED, tx_hash=event.tx_hash, pushed_at=now)
    )
    await session.execute(update(Tx).where(Tx.tx_hash == event.tx_hash).values(status=MINED))
    await enqueue_event(
        session,
        batch.product_id,
        events.REWARDS_PUSHED,
        {
            "batch_id": str(batch.id),
            "campaign_id": str(batch.campaign_id),
            "token": batch.token,
            "total": str(batch.total),
            "count": batch.reward_count,
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
        },
    )
    await session.commit()
    if batch.gas_used and receipt is not None:
        metrics.GAS_SPENT.inc(batch.gas_used * int(receipt.get("effectiveGasPrice", 0) or 0))
    outcome.pushed.append(batch.id)
    BATCHES.labels(outcome="pushed").inc()
    REWARDS_PUSHED.inc(batch.reward_count)


async def retire(
    session: AsyncSession,
    batch: SettlementBatch,
    status: BatchStatus,
    reason: str,
    outcome: Outcome,
) -> None:
    """The batch can never be paid: release its rows and commit.

    Rows a refund reached, and every row of a deactivated campaign, end cancelled
    with their budget given back; the others go back to pending, to be batched afresh.
    Locks: batch, then campaign, then rows (a refund takes campaign, then rows).
    """
    rules = await refunds.lock_campaigns(session, [batch.campaign_id])
    rule = rules.get(batch.campaign_id)
    deactivated = rule is None or rule.status == CampaignStatus.DEACTIVATED
    cancelled = await rewards.cancel_batched(
        session,
        batch.id,
        "campaign_deactivated" if deactivated else "refunded",
        every_row=deactivated,
    )
    await refunds.give_back(session, rules, cancelled)
    await rewards.release_batched(session, batch.id)
    batch.status = status
    batch.error_code = batch.error_code or reason
    await session.commit()
    if status == BatchStatus.VOID:
        outcome.voided.append(batch.id)
        BATCHES.labels(outcome="void").inc()
    else:
        outcome.failed.append(batch.id)
        BATCHES.labels(outcome="failed").inc()


async def cancel_on_chain(
    session: AsyncSession, sender: Sender, batch: SettlementBatch, outcome: Outcome
) -> None:
    """Burn the batch's nonce on the bank (ProductBank.cancelNonces) before its rows go.

    A push of this batch still in flight is replaced in its own account-nonce slot, so
    the cancel races it at a higher fee; whichever mines decides (paid -> pushed,
    cancelled -> void). Without the role to cancel, the batch waits for its deadline.
    """
    batch.status = BatchStatus.CANCELLING
    slot = await in_flight(session, batch.id)
    if slot is not None and slot.kind == CANCEL_NONCE:
        await session.commit()
        return  # a cancel is out: the tracker bumps it if it gets stuck
    reader = sender.reader
    bank = reader.bank(batch.bank_address)
    data = bytes.fromhex(
        str(bank.encode_abi("cancelNonces", args=[[bytes.fromhex(batch.nonce[2:])]]))[2:]
    )
    call = {"from": sender.signer.address, "to": batch.bank_address, "data": data, "value": 0}
    refused = await reader.simulate(call)
    engine_ = session.bind
    assert isinstance(engine_, AsyncEngine)
    if refused is not None:
        # No role to cancel: the signature dies at its deadline. Our own push must
        # not mine meanwhile, so its slot is filled with a self-transfer.
        batch.error_code, batch.error_message = "cancel_refused", refused[:1000]
        log.warning(
            "cannot cancel a batch nonce; waiting for its deadline",
            extra={"batch": str(batch.id), "reason": refused},
        )
        _back_off(batch, sender)
        if slot is None or slot.kind == CANCEL:
            await session.commit()
            return
        async with advisory_lock(engine_, sender_lock(sender.chain_id, sender.signer.address)):
            row = await replace(session, sender, slot, cancel=True)
            await session.commit()
            await broadcast(sender, row)
        outcome.replaced.append(row.tx_hash)
        return
    gas = await estimate_gas(sender, call)
    batch.next_attempt_at = None
    async with advisory_lock(engine_, sender_lock(sender.chain_id, sender.signer.address)):
        if slot is not None:
            # a bundle's other batches lose this slot: unpaid, they are simply sent again
            row = await replace(
                session,
                sender,
                slot,
                cancel=False,
                call=(batch.bank_address, data, gas),
                owner=batch.id,
            )
        else:
            row = await store_call(session, sender, batch.id, batch.bank_address, data, gas)
        await session.commit()
        faults.crash_point("tx_stored")
        await broadcast(sender, row)
    outcome.sent.append(row.tx_hash)


async def apply_revert(
    session: AsyncSession,
    sender: Sender,
    batch: SettlementBatch,
    reason: str,
    outcome: Outcome,
) -> None:
    """Act on a classified revert of this batch (simulated or mined)."""
    code = classify(reason) or "unknown"
    batch.error_code, batch.error_message = code, reason[:1000]
    if code in SELF_RESOLVING:
        return
    if code == "not_distributor":
        epoch = await sender.reader.distributor_epoch(batch.bank_address)
        if epoch != batch.epoch:
            return  # signed before a revocation: void once that block is confirmed
        outcome.halted_banks.add(batch.bank_address)
        await alerts.signer_not_distributor(
            session, batch.product_id, batch.bank_address, sender.signer.address
        )
        return
    if code in FUNDING_REVERTS:
        status, alert_code = FUNDING_REVERTS[code]
        campaign = await session.get(Campaign, batch.campaign_id, with_for_update=True)
        if campaign is not None and campaign.status != CampaignStatus.DEACTIVATED:
            campaign.status = status
            campaign.status_reason = f"on-chain push refused: {reason}"[:500]
            campaign.chain_refused = True
        await alerts.notify(
            session,
            batch.product_id,
            alert_code,
            {"campaign_id": str(batch.campaign_id), "token": batch.token, "reason": reason},
            subject=str(batch.campaign_id),
            message=f"campaign {batch.campaign_id} cannot pay on-chain ({code}); "
            + (
                "its unsettled rewards are cancelled"
                if status == CampaignStatus.DEACTIVATED
                else "its rewards wait in pending until the bank can pay"
            ),
            severity="warning",
        )
        if status == CampaignStatus.DEACTIVATED:
            # The bank refuses this campaign for good: no signature of it can ever pay.
            await refunds.cancel_campaign_rewards(
                session, batch.campaign_id, "campaign_deactivated"
            )
            await retire(session, batch, BatchStatus.FAILED, code, outcome)
        else:
            # The signed payload is public (eth_call, gas estimate): cancel its nonce
            # on the bank before the rows can be batched again.
            batch.status = BatchStatus.CANCELLING
        return
    _back_off(batch, sender)
    log.error(
        "push rejected for an unknown reason", extra={"batch": str(batch.id), "reason": reason}
    )


def _back_off(batch: SettlementBatch, sender: Sender) -> None:
    options = sender.options
    delay = min(options.retry_base_s * 2 ** max(batch.attempts - 1, 0), options.retry_max_s)
    batch.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)


async def handle_mined_reverts(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    reverted: list[Reverted],
    outcome: Outcome,
) -> None:
    """A push mined with status 0: read its reason by replaying it at its block."""
    for item in reverted:
        async with sessions() as session:
            batch = await session.scalar(
                select(SettlementBatch).where(SettlementBatch.id == item.batch_id).with_for_update()
            )
            if batch is None or batch.status not in UNSETTLED:
                continue
            data = push_calldata(
                sender.reader.bank(batch.bank_address), batch, sender.signer.address
            )
            call = {"from": sender.signer.address, "to": batch.bank_address, "data": data}
            reason = await sender.reader.simulate(call, item.block_number)
            await apply_revert(
                session, sender, batch, reason or "reverted (reason not reproducible)", outcome
            )
            await session.commit()
