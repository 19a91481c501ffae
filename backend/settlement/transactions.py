"""Transaction manager: Postgres-allocated account nonces, stored raw bytes, bumps, re-broadcasts.

Every signed transaction is written to settlement_transactions and committed
before it is broadcast, so a crash at any point leaves either nothing (no nonce
taken) or bytes that can be sent again. A "slot" is one account nonce of the
sender; it holds the original transaction and its fee-bumped replacements, and
it stays open until one of them is mined. A slot is never abandoned: once
its batches have nothing left to pay (void, failed, or paid by another transaction),
the next replacement is a 0-value self-transfer, so the account never has a nonce gap.
A reorg can still open one below the stored slots: a transaction of the account that
Cascade did not store (an admin send from the same key, or the one that took a slot
marked dropped) leaves the chain, and the node holds every later transaction back;
`fill_nonce_gaps` fills such a nonce with a self-transfer of its own.
A slot belongs to a settlement batch, to a relay request (gasless claim, passkey send:
backend.relayer), or to a bundle: the batches of several banks that one
ProductBankFactory.pushMany carries (listed in settlement_transaction_batches, for the
original and every replacement). Each owner's tracker
walks its own slots: the push cycle the batches', the relayer's job (passing its
`RelayOutcomes`) the relays', recording a relay's outcome in the same commit that
marks its transaction mined. Settlement never imports the relayer: it sits above.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.chain.nonces import sender_lock
from backend.core.locks import advisory_lock
from backend.settlement import faults
from backend.settlement.alerts import TRANSACTIONS, log
from backend.settlement.chain import ChainReader
from backend.settlement.models import BatchStatus, SenderNonce, SettlementBatch
from backend.settlement.models import SettlementTransaction as Tx
from backend.settlement.models import SettlementTransactionBatch as TxBatch
from backend.settlement.options import SettlementOptions
from backend.settlement.signer import Signer

SENT, MINED, REPLACED, DROPPED = "sent", "mined", "replaced", "dropped"
PUSH, CANCEL, CANCEL_NONCE = "push", "cancel", "cancel_nonce"
PUSH_MANY = "push_many"  # ProductBankFactory.pushMany: several banks' batches (a bundle)
PUSHES = (PUSH, PUSH_MANY)
CLAIM, SEND = "claim", "send"  # relayed for a user (owner: a relay request)
CANCEL_GAS = 21_000
# Nonce gaps filled per pass at most (the next pass goes on from the node's new nonce).
MAX_GAP_FILL = 32
# A slot whose batches are all here has nothing left to pay: its bytes are never sent
# again (they would revert or must not pay); a self-transfer fills the slot instead.
DONE = frozenset({BatchStatus.VOID, BatchStatus.FAILED, BatchStatus.PUSHED})
# Node refusals that a higher fee cures (anvil, geth, reth, erigon wordings).
FEE_REFUSALS = ("fee", "underpriced", "gas price")


class RelayOutcomes(Protocol):
    """What the relay tracker records on a relay request as its transaction settles."""

    async def record_receipt(
        self, session: AsyncSession, relay_id: uuid.UUID, tx_hash: str, receipt: Any
    ) -> None: ...

    async def record_dropped(self, session: AsyncSession, relay_id: uuid.UUID) -> None: ...

    async def mark_sent(self, session: AsyncSession, relay_id: uuid.UUID) -> None: ...


@dataclass
class Sender:
    """Everything needed to sign and send from one backend account (signer or relayer)."""

    reader: ChainReader
    signer: Signer
    chain_id: int
    options: SettlementOptions


@dataclass
class Reverted:
    batch_id: uuid.UUID
    tx_hash: str
    block_number: int
    raw_tx: bytes


@dataclass
class TrackResult:
    mined: list[str] = field(default_factory=list)
    rebroadcast: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    reverted: list[Reverted] = field(default_factory=list)


async def allocate_nonce(session: AsyncSession, sender: Sender) -> int:
    """Next account nonce under a row lock; the caller stores its transaction in the same commit."""
    address = sender.signer.address
    chain_next = await sender.reader.account_nonce(address, "pending")
    await session.execute(
        insert(SenderNonce)
        .values(chain_id=sender.chain_id, sender=address, next_nonce=chain_next)
        .on_conflict_do_nothing()
    )
    row = await session.scalar(
        select(SenderNonce)
        .where(SenderNonce.chain_id == sender.chain_id, SenderNonce.sender == address)
        .with_for_update()
    )
    assert row is not None
    # The chain wins only when something outside Cascade used the key: never reuse, never skip.
    nonce = max(row.next_nonce, chain_next)
    row.next_nonce = nonce + 1
    row.updated_at = datetime.now(UTC)
    return nonce


async def estimate_gas(sender: Sender, call: dict[str, Any]) -> int:
    """The node's gas estimate for `call` plus the configured head-room (gas_margin_bps)."""
    gas = await sender.reader.estimate_gas(call)
    return gas + gas * sender.options.gas_margin_bps // 10_000


def _bump(value: int, bps: int) -> int:
    return max(-(-value * (10_000 + bps) // 10_000), value + 1)


async def store_push(
    session: AsyncSession, sender: Sender, batch: SettlementBatch, data: bytes, gas: int
) -> Tx:
    """Sign the batch's push with a freshly allocated nonce; stored, not yet committed or sent."""
    tx = await _fresh_call(session, sender, batch.bank_address, data, gas)
    return _store(session, sender, tx, PUSH, batch_id=batch.id)


async def _fresh_call(
    session: AsyncSession, sender: Sender, to: str, data: bytes, gas: int
) -> dict[str, Any]:
    """A type-2 call under a freshly allocated account nonce at the node's current fees."""
    max_fee, tip = await sender.reader.fees()
    nonce = await allocate_nonce(session, sender)
    return {
        "type": 2,
        "chainId": sender.chain_id,
        "nonce": nonce,
        "to": to,
        "value": 0,
        "data": data,
        "gas": gas,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
    }


async def store_bundle(
    session: AsyncSession,
    sender: Sender,
    factory: str,
    batch_ids: list[uuid.UUID],
    data: bytes,
    gas: int,
) -> Tx:
    """Sign a ProductBankFactory.pushMany carrying `batch_ids`; stored, not committed or sent."""
    tx = await _fresh_call(session, sender, factory, data, gas)
    row = _store(session, sender, tx, PUSH_MANY)
    await _link(session, row, batch_ids)
    return row


async def _link(session: AsyncSession, row: Tx, batch_ids: list[uuid.UUID]) -> None:
    await session.flush([row])
    session.add_all(TxBatch(tx_id=row.id, batch_id=batch_id) for batch_id in batch_ids)


async def bundle_batches(session: AsyncSession, row: Tx) -> list[uuid.UUID]:
    """The batches a bundle transaction carries (none for any other transaction)."""
    if row.batch_id is not None or row.relay_id is not None:
        return []
    return list(await session.scalars(select(TxBatch.batch_id).where(TxBatch.tx_id == row.id)))


async def in_flight(session: AsyncSession, batch_id: uuid.UUID) -> Tx | None:
    """The newest unmined transaction carrying this batch, alone or in a bundle."""
    return await session.scalar(
        select(Tx)
        .where(
            Tx.status == SENT,
            or_(
                Tx.batch_id == batch_id,
                Tx.id.in_(select(TxBatch.tx_id).where(TxBatch.batch_id == batch_id)),
            ),
        )
        .order_by(Tx.id.desc())
        .limit(1)
    )


async def store_call(
    session: AsyncSession, sender: Sender, batch_id: uuid.UUID, to: str, data: bytes, gas: int
) -> Tx:
    """A ProductBank.cancelNonces call for a batch under a fresh nonce; stored, not sent."""
    tx = await _fresh_call(session, sender, to, data, gas)
    return _store(session, sender, tx, CANCEL_NONCE, batch_id=batch_id)


async def store_relay(
    session: AsyncSession,
    sender: Sender,
    relay_id: uuid.UUID,
    to: str,
    data: bytes,
    gas: int,
    kind: str,
) -> Tx:
    """A relayed call (claim or send) under a fresh nonce; stored, not yet committed or sent."""
    tx = await _fresh_call(session, sender, to, data, gas)
    return _store(session, sender, tx, kind, relay_id=relay_id)


def _store(
    session: AsyncSession,
    sender: Sender,
    tx: dict[str, Any],
    kind: str,
    *,
    batch_id: uuid.UUID | None = None,
    relay_id: uuid.UUID | None = None,
) -> Tx:
    raw, tx_hash = sender.signer.sign_transaction(tx)
    row = Tx(
        batch_id=batch_id,
        relay_id=relay_id,
        sender=sender.signer.address,
        account_nonce=tx["nonce"],
        tx_hash=tx_hash,
        raw_tx=raw,
        max_fee_per_gas=tx["maxFeePerGas"],
        max_priority_fee_per_gas=tx["maxPriorityFeePerGas"],
        status=SENT,
        kind=kind,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    return row


async def broadcast(sender: Sender, row: Tx) -> str | None:
    """Send stored bytes; the node's complaint, if any, is logged and returned."""
    problem = await sender.reader.send_raw(row.raw_tx)
    TRANSACTIONS.labels(kind=row.kind).inc()
    if problem:
        log.warning(
            "broadcast refused",
            extra={"tx_hash": row.tx_hash, "nonce": row.account_nonce, "error": problem},
        )
    return problem


def refused_for_fees(problem: str | None) -> bool:
    """The node refused the bytes for their fees (e.g. max fee below the base fee)."""
    return problem is not None and any(word in problem.lower() for word in FEE_REFUSALS)


async def replace(
    session: AsyncSession,
    sender: Sender,
    newest: Tx,
    *,
    cancel: bool,
    call: tuple[str, bytes, int] | None = None,
    owner: uuid.UUID | None = None,
) -> Tx:
    """A same-nonce replacement with both fee fields bumped.

    `cancel`: a 0-value self-transfer that only fills the slot; `call` (to, data, gas):
    a ProductBank.cancelNonces call for batch `owner` (the slot may have carried a
    bundle); neither: the same call as `newest`. Otherwise the replacement has the
    owner of `newest`: its batch, relay request, or bundle of batches.
    """
    old: dict[str, Any] = dict(TypedTransaction.from_bytes(HexBytes(newest.raw_tx)).as_dict())
    max_fee, tip = await sender.reader.fees()
    bps = sender.options.fee_bump_bps
    new_tip = max(_bump(newest.max_priority_fee_per_gas, bps), tip)
    new_max = max(_bump(newest.max_fee_per_gas, bps), max_fee, new_tip)
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": sender.chain_id,
        "nonce": newest.account_nonce,
        "maxFeePerGas": new_max,
        "maxPriorityFeePerGas": new_tip,
    }
    if cancel:
        tx.update(to=sender.signer.address, value=0, data=b"", gas=CANCEL_GAS)
        kind = CANCEL
    elif call is not None:
        to, data, gas = call
        tx.update(to=to, value=0, data=data, gas=gas)
        kind = CANCEL_NONCE
    else:
        tx.update(to=old["to"], value=old["value"], data=old["data"], gas=old["gas"])
        kind = newest.kind
    if call is not None:
        return _store(session, sender, tx, kind, batch_id=owner or newest.batch_id)
    bundled = await bundle_batches(session, newest)
    row = _store(session, sender, tx, kind, batch_id=newest.batch_id, relay_id=newest.relay_id)
    if bundled:
        await _link(session, row, bundled)
    return row


async def open_slots(
    sessions: async_sessionmaker[AsyncSession], sender: Sender, *, relays: bool = False
) -> list[int]:
    """The account's open slots of one owner kind: relay requests' or batches'."""
    async with sessions() as session:
        query = select(Tx.account_nonce).where(
            Tx.sender == sender.signer.address,
            Tx.status == SENT,
            Tx.relay_id.is_not(None) if relays else Tx.relay_id.is_(None),
        )
        nonces = await session.scalars(query.distinct().order_by(Tx.account_nonce))
        return list(nonces)


async def fill_nonce_gaps(sessions: async_sessionmaker[AsyncSession], sender: Sender) -> list[str]:
    """Fill the account nonces below our open transactions that nothing will ever use.

    Every nonce Cascade allocates is stored with its transaction, but the account also
    sends what Cascade does not store (admin sends from the same key), and a stored slot
    is marked dropped when such a transaction took its nonce. A reorg can take those
    transactions away: their nonces reopen below our open slots, the node holds each
    later transaction back for good (no fee bump cures a gap), and a batch whose push or
    cancelNonces waits there never settles. Each nonce from the node's pending nonce
    (where the account's sendable transactions end, so a reorged-out transaction the
    node still holds is never overwritten) up to our highest open slot that no open
    transaction of ours holds gets a 0-value self-transfer of no owner (kind cancel),
    stored and committed before it is broadcast like every other, under the sender's
    lock (an admin send picks its nonce under it). Returns the fillers' hashes.
    """
    address = sender.signer.address
    reader = sender.reader
    async with sessions() as session:
        highest = await session.scalar(
            select(func.max(Tx.account_nonce)).where(Tx.sender == address, Tx.status == SENT)
        )
        if highest is None or await reader.account_nonce(address, "pending") >= highest:
            return []
        engine = session.bind
        assert isinstance(engine, AsyncEngine)
        async with advisory_lock(engine, sender_lock(sender.chain_id, address)):
            pending = await reader.account_nonce(address, "pending")
            held = set(
                await session.scalars(
                    select(Tx.account_nonce).where(
                        Tx.sender == address,
                        Tx.status == SENT,
                        Tx.account_nonce >= pending,
                        Tx.account_nonce < highest,
                    )
                )
            )
            holes = [nonce for nonce in range(pending, highest) if nonce not in held]
            if not holes:
                await session.commit()
                return []
            max_fee, tip = await reader.fees()
            rows = [
                _store(
                    session,
                    sender,
                    {
                        "type": 2,
                        "chainId": sender.chain_id,
                        "nonce": nonce,
                        "to": address,
                        "value": 0,
                        "data": b"",
                        "gas": CANCEL_GAS,
                        "maxFeePerGas": max_fee,
                        "maxPriorityFeePerGas": tip,
                    },
                    CANCEL,
                )
                for nonce in holes[:MAX_GAP_FILL]
            ]
            await session.commit()
            log.warning(
                "account nonce gap below open transactions; filling it",
                extra={"nonces": [row.account_nonce for row in rows], "chain_pending": pending},
            )
            faults.crash_point("tx_stored")
            for row in rows:
                await broadcast(sender, row)
    return [row.tx_hash for row in rows]


async def track(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    *,
    relay: RelayOutcomes | None = None,
) -> TrackResult:
    """Walk the open slots: record what mined, re-broadcast what the node lost, bump the stuck.

    Without `relay` the batches' slots (the push cycle reads `TrackResult.reverted`);
    with it the relay requests' slots, whose outcomes it records.
    """
    result = TrackResult()
    chain_nonce = await sender.reader.account_nonce(sender.signer.address, "latest")
    for nonce in await open_slots(sessions, sender, relays=relay is not None):
        async with sessions() as session:
            await _track_slot(session, sender, nonce, chain_nonce, result, relay)
    return result


async def _track_slot(
    session: AsyncSession,
    sender: Sender,
    nonce: int,
    chain_nonce: int,
    result: TrackResult,
    relay: RelayOutcomes | None,
) -> None:
    rows = list(
        await session.scalars(
            select(Tx)
            .where(
                Tx.sender == sender.signer.address,
                Tx.account_nonce == nonce,
                Tx.status.in_([SENT, REPLACED, DROPPED]),
            )
            .order_by(Tx.id)
            .with_for_update(skip_locked=True)
        )
    )
    live = [row for row in rows if row.status == SENT]
    if not live:
        return  # another tracker holds this slot
    for row in rows:
        receipt = await sender.reader.receipt(row.tx_hash)
        if receipt is None:
            continue
        for other in rows:
            other.status = REPLACED if other is not row else MINED
        if receipt["status"] == 0 and row.kind == PUSH and row.batch_id is not None:
            result.reverted.append(
                Reverted(row.batch_id, row.tx_hash, int(receipt["blockNumber"]), row.raw_tx)
            )
        elif receipt["status"] == 0 and row.kind == PUSH_MANY:
            # pushMany reverts whole only when it was short of gas for a part: every
            # batch it carried is unpaid, and resolution simulates and sends each again
            log.warning("bundle reverted", extra={"tx_hash": row.tx_hash})
        if relay is not None and row.relay_id is not None:
            await relay.record_receipt(session, row.relay_id, row.tx_hash, receipt)
        result.mined.append(row.tx_hash)
        await session.commit()
        return
    if chain_nonce > nonce:
        # Consumed by a transaction that is not ours: the batch is resolved from the chain.
        for row in live:
            row.status = DROPPED
        if relay is not None and live[-1].relay_id is not None:
            await relay.record_dropped(session, live[-1].relay_id)
        log.warning("account nonce used outside settlement", extra={"nonce": nonce})
        await session.commit()
        return
    newest = live[-1]
    batch_status = await _owner_status(session, newest)
    dead = batch_status in DONE
    if not await sender.reader.is_known(newest.tx_hash):
        if newest.kind in PUSHES and batch_status == BatchStatus.CANCELLING:
            await session.commit()  # never re-send a push that must not pay: resolution
            return  # replaces this slot with a cancelNonces call in the same cycle
        if newest.kind in PUSHES and dead:
            problem: str | None = "nothing left to pay"
        else:
            await session.commit()
            problem = await broadcast(sender, newest)  # the same bytes: same hash, same payload
            if not refused_for_fees(problem) and not (dead and problem):
                result.rebroadcast.append(newest.tx_hash)
                if problem is None and relay is not None and newest.relay_id is not None:
                    await relay.mark_sent(session, newest.relay_id)
                    await session.commit()
                return
        # The node will not take these bytes (fees below the base fee), or they belong
        # to a void batch: fill the slot with a fee-bumped replacement, never a gap.
        replacement = await replace(session, sender, newest, cancel=dead)
        await session.commit()
        faults.crash_point("tx_stored")
        sent = await broadcast(sender, replacement) is None
        if sent and relay is not None and replacement.relay_id is not None:
            await relay.mark_sent(session, replacement.relay_id)
            await session.commit()
        result.replaced.append(replacement.tx_hash)
        return
    age = (datetime.now(UTC) - newest.created_at).total_seconds()
    if age < sender.options.replace_after_s:
        await session.commit()
        return
    cancel = newest.kind == CANCEL or dead
    replacement = await replace(session, sender, newest, cancel=cancel)
    await session.commit()
    faults.crash_point("tx_stored")
    await broadcast(sender, replacement)
    result.replaced.append(replacement.tx_hash)


async def _owner_status(session: AsyncSession, newest: Tx) -> str | None:
    """The status of the batch a slot carries; for a bundle, of all its batches at once.

    A bundle is cancelling when one of its batches is (its bytes must not be sent
    again), void when each of its batches is DONE, and otherwise submitted.
    """
    if newest.batch_id is not None:
        return await session.scalar(
            select(SettlementBatch.status).where(SettlementBatch.id == newest.batch_id)
        )
    bundled = await bundle_batches(session, newest)
    if not bundled:
        return None
    statuses = set(
        await session.scalars(select(SettlementBatch.status).where(SettlementBatch.id.in_(bundled)))
    )
    if BatchStatus.CANCELLING in statuses:
        return BatchStatus.CANCELLING
    if statuses <= DONE:
        return BatchStatus.VOID
    return BatchStatus.SUBMITTED
