"""The signer's distributor role and distributorEpoch per bank, kept from the banks' role logs.

A push cycle needs, for every bank with work, whether the signer may sign for it and the
epoch to sign under. Asking each bank (`hasRole`, `distributorEpoch`) costs two calls per
bank per cycle; here a bank is read once, then kept current by one `eth_getLogs` per cycle
over the blocks since the last one, for all banks at once:

- the epoch is a counter: +1 per RoleRevoked(DISTRIBUTOR_ROLE, anyone) on that bank (the
  contract bumps it exactly when it logs that event), so "epoch at block B" plus the
  revocations after B is the epoch now;
- the signer holds the role after its last RoleGranted/RoleRevoked;
- what was read up to head - confirmations is stored (settlement_bank_roles, with the
  block in settlement_role_cursors) in one transaction, under a row lock, so a crash or a
  second process never applies a log twice; the newer, unconfirmed logs are read again
  every cycle and only used in memory;
- the stored block's hash is checked every cycle: if it left the chain (a reorg deeper
  than the confirmations) everything is read again from the banks;
- doubt re-reads a bank from the chain: an open signer_not_distributor alert while the
  view says distributor, or a push the bank refused as "not distributor" since the last
  read.

The bank remains the authority: a wrong view costs a refused push (which raises the doubt
above), never a payment the bank would not make.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, replace

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3.exceptions import BadFunctionCallOutput

from backend.settlement.chain import ChainReader, RoleEvent
from backend.settlement.models import (
    SettlementBankRole,
    SettlementBatch,
    SettlementRoleCursor,
)

log = logging.getLogger("backend.settlement")

# batch error codes of a refusal for the role or the epoch (recovery.apply_revert, retire);
# the same list as the partial index ix_settlement_batches_refused
REFUSALS = ("not_distributor", "signature_revoked", "epoch_ahead")


@dataclass(frozen=True)
class BankRole:
    """What the bank says now, as far as the view knows: may the signer sign, for which epoch."""

    is_distributor: bool
    epoch: int


async def view(
    sessions: async_sessionmaker[AsyncSession],
    reader: ChainReader,
    *,
    chain_id: int,
    signer: str,
    banks: Collection[str],
    confirmations: int,
    alerted: Collection[str] = (),
) -> dict[str, BankRole]:
    """The role and epoch of each of `banks` at the chain's head, in O(1) calls once seeded.

    `alerted`: banks with an open signer_not_distributor alert (a bank refused a push).
    """
    if not banks:
        return {}
    head_block = await reader.block("latest")
    head, head_hash = int(head_block["number"]), _hex(head_block["hash"])
    final = max(head - confirmations, 0)
    async with sessions() as session:
        cursor = await _locked_cursor(session, chain_id, signer)
        if cursor.block >= 0 and not await _still_on_chain(reader, cursor, head, head_hash):
            log.warning(
                "role view's block left the chain: reading the banks again",
                extra={"block": cursor.block, "chain_id": chain_id},
            )
            await session.execute(
                delete(SettlementBankRole).where(
                    SettlementBankRole.chain_id == chain_id, SettlementBankRole.signer == signer
                )
            )
            cursor.block = -1
        since = cursor.block if cursor.block >= 0 else final
        stored_at = max(since, final)  # where the stored rows will stand after this cycle
        events = await reader.role_events(since + 1, head) if since < head else []

        wanted = set(banks) | {event.bank for event in events}
        rows = {
            row.bank: row
            for row in (
                await session.scalars(
                    select(SettlementBankRole).where(
                        SettlementBankRole.chain_id == chain_id,
                        SettlementBankRole.signer == signer,
                        SettlementBankRole.bank.in_(wanted),
                    )
                )
            ).all()
        }
        doubted = await _doubted(session, rows, banks, alerted)

        # stored rows stand at `since`: confirmed logs move them to `stored_at`
        known = {bank: BankRole(row.is_distributor, row.epoch) for bank, row in rows.items()}
        for bank in doubted:
            known.pop(bank, None)
        for event in events:
            if event.block_number <= stored_at and event.bank in known:
                known[event.bank] = _apply(known[event.bank], event, signer)
        # banks never read (or in doubt): read at `stored_at`, so later logs apply on top
        now: dict[str, BankRole] = {}
        for bank in banks:
            if bank not in known:
                seeded = await _read(reader, bank, signer, stored_at)
                if seeded is None:  # no code yet at `stored_at`: deployed in the last blocks
                    now[bank] = await _read_latest(reader, bank, signer)
                    continue
                known[bank] = seeded
        hash_at = head_hash if stored_at == head else await reader.block_hash(stored_at)
        if hash_at is None:  # that block left the chain while we read: store nothing
            await session.rollback()
        else:
            await _store(session, chain_id, signer, known, rows, set(known) - set(rows) | doubted)
            cursor.block, cursor.block_hash = stored_at, hash_at
            await session.commit()

    # the unconfirmed tail: used for this cycle, read again by the next one
    current = dict(known)
    for event in events:
        if event.block_number > stored_at and event.bank in current:
            current[event.bank] = _apply(current[event.bank], event, signer)
    current.update(now)
    return {bank: current[bank] for bank in banks}


def _apply(state: BankRole, event: RoleEvent, signer: str) -> BankRole:
    """The bank's state after `event` (see ProductBank.grantRole/revokeRole)."""
    if event.granted:
        return replace(state, is_distributor=True) if event.account == signer else state
    mine = event.account == signer
    return BankRole(state.is_distributor and not mine, state.epoch + 1)


async def _locked_cursor(session: AsyncSession, chain_id: int, signer: str) -> SettlementRoleCursor:
    """The cursor row, locked until commit: one process applies a log range, never two.

    Block -1 means nothing is stored yet (the row exists first, so even then it is locked).
    """
    query = (
        select(SettlementRoleCursor)
        .where(SettlementRoleCursor.chain_id == chain_id, SettlementRoleCursor.signer == signer)
        .with_for_update()
    )
    cursor = await session.scalar(query)
    if cursor is None:
        await session.execute(
            insert(SettlementRoleCursor)
            .values(chain_id=chain_id, signer=signer, block=-1, block_hash="")
            .on_conflict_do_nothing()
        )
        cursor = (await session.scalars(query)).one()
    return cursor


async def _still_on_chain(
    reader: ChainReader, cursor: SettlementRoleCursor, head: int, head_hash: str
) -> bool:
    if cursor.block > head:
        return False
    if cursor.block == head:
        return cursor.block_hash == head_hash
    return await reader.block_hash(cursor.block) == cursor.block_hash


async def _doubted(
    session: AsyncSession,
    rows: dict[str, SettlementBankRole],
    banks: Collection[str],
    alerted: Collection[str],
) -> set[str]:
    """Stored banks to read again: the bank refused what the view said it would accept.

    An open signer_not_distributor alert while the view says distributor, or a push refused
    as "not distributor", voided as signed under a revoked epoch, or cancelled as signed for
    an epoch the bank has not reached, since the bank was last read (the batch's error stays
    recorded even once it is void).
    """
    doubted = {bank for bank in alerted if bank in rows and rows[bank].is_distributor}
    stored = [bank for bank in banks if bank in rows]
    if stored:
        oldest = min(rows[bank].checked_at for bank in stored)
        refused = await session.execute(
            select(SettlementBatch.bank_address, func.max(SettlementBatch.updated_at))
            .where(
                SettlementBatch.bank_address.in_(stored),
                SettlementBatch.error_code.in_(REFUSALS),
                SettlementBatch.updated_at >= oldest,
            )
            .group_by(SettlementBatch.bank_address)
        )
        doubted |= {bank for bank, at in refused.all() if at >= rows[bank].checked_at}
    return doubted


async def _read(reader: ChainReader, bank: str, signer: str, block: int) -> BankRole | None:
    """The bank's state at `block`; None when the bank has no code there."""
    try:
        is_distributor = await reader.is_distributor(bank, signer, block)
    except BadFunctionCallOutput:  # an empty answer: no contract at that block
        return None
    return BankRole(is_distributor, await reader.distributor_epoch(bank, block))


async def _read_latest(reader: ChainReader, bank: str, signer: str) -> BankRole:
    return BankRole(await reader.is_distributor(bank, signer), await reader.distributor_epoch(bank))


async def _store(
    session: AsyncSession,
    chain_id: int,
    signer: str,
    known: dict[str, BankRole],
    rows: dict[str, SettlementBankRole],
    read: set[str],
) -> None:
    """Write the rows that changed; `read` ones (just read from the chain) get checked_at now."""
    for bank, state in known.items():
        row = rows.get(bank)
        if bank in read:
            statement = insert(SettlementBankRole).values(
                chain_id=chain_id,
                signer=signer,
                bank=bank,
                is_distributor=state.is_distributor,
                epoch=state.epoch,
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["chain_id", "signer", "bank"],
                    set_={
                        "is_distributor": statement.excluded.is_distributor,
                        "epoch": statement.excluded.epoch,
                        "checked_at": statement.excluded.checked_at,
                    },
                )
            )
        elif row is not None and (row.is_distributor, row.epoch) != (
            state.is_distributor,
            state.epoch,
        ):
            row.is_distributor, row.epoch = state.is_distributor, state.epoch


def _hex(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text
