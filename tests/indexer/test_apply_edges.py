"""Applying and rewinding batches at their edges: what is refused, what is counted, what is
forgotten, and two writers on one cursor. Real PostgreSQL, batches built by hand."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from indexer.apply import Bank, Batch, Cursor, apply_batch, init_cursor, load_cursor, rewind
from indexer.decode import EventRow
from indexer.errors import StaleBatch
from indexer.rpc import Header

CHAIN = 31337
TOKEN = "0x" + "a1" * 20
WALLET = "0x" + "b2" * 20


def _header(number: int, fork: int = 0) -> Header:
    return Header(number, f"0x{fork:032x}{number:032x}", f"0x{fork:032x}{number - 1:032x}", number)


def _batch(parent: Header, blocks: int, *, fork: int = 0, banks: list[Bank] | None = None):
    """`blocks` blocks on top of `parent`, one RewardAdded of 1 base unit in each."""
    headers = [_header(parent.number + i, fork) for i in range(1, blocks + 1)]
    events = [
        EventRow(h.number, h.hash, 0, h.hash, 0, TOKEN, "RewardAdded", TOKEN, WALLET, 1)
        for h in headers
    ]
    return Batch(
        CHAIN, Cursor(parent.number, parent.hash), headers[-1], events, banks or [], headers
    )


async def _scalar(ctx, sql: str):
    async with ctx.engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar()


async def _start(ctx) -> Header:
    genesis = _header(0)
    async with ctx.sessions.begin() as session:
        await init_cursor(session, CHAIN, genesis)
    return genesis


async def test_apply__returns_how_many_events_were_new(clean_db):
    batch = _batch(await _start(clean_db), 3)

    async with clean_db.sessions.begin() as session:
        assert await apply_batch(session, batch, keep_blocks=100) == 3
    assert await _scalar(clean_db, "SELECT count(*) FROM chain_events") == 3


async def test_apply__batch_on_another_fork_of_the_cursor__refused(clean_db):
    genesis = await _start(clean_db)
    async with clean_db.sessions.begin() as session:
        await apply_batch(session, _batch(genesis, 2), keep_blocks=100)
    other_fork = _batch(_header(2, fork=9), 1, fork=9)  # higher, but not on our block 2

    with pytest.raises(StaleBatch):
        async with clean_db.sessions.begin() as session:
            await apply_batch(session, other_fork, keep_blocks=100)
    assert await _scalar(clean_db, "SELECT max(block_number) FROM chain_events") == 2


async def test_apply__batch_that_does_not_advance_the_cursor__refused(clean_db):
    genesis = await _start(clean_db)
    async with clean_db.sessions.begin() as session:
        await apply_batch(session, _batch(genesis, 2), keep_blocks=100)
    top = _header(2)
    standing_still = Batch(CHAIN, Cursor(2, top.hash), top, [], [], [])

    with pytest.raises(StaleBatch):
        async with clean_db.sessions.begin() as session:
            await apply_batch(session, standing_still, keep_blocks=100)


async def test_apply__block_hashes_older_than_keep_blocks__pruned_except_the_cursor(clean_db):
    batch = _batch(await _start(clean_db), 10)

    async with clean_db.sessions.begin() as session:
        await apply_batch(session, batch, keep_blocks=3)

    numbers = await _scalar(
        clean_db, "SELECT array_agg(number ORDER BY number) FROM indexer_blocks"
    )
    assert numbers == [7, 8, 9, 10]


async def test_rewind__forgets_events_banks_and_block_hashes_above_the_ancestor(clean_db):
    genesis = await _start(clean_db)
    bank = Bank("0x" + "c3" * 20, "0x" + "d4" * 32, 4)
    async with clean_db.sessions.begin() as session:
        await apply_batch(session, _batch(genesis, 5, banks=[bank]), keep_blocks=100)

    async with clean_db.sessions.begin() as session:
        assert await rewind(session, CHAIN, _header(3)) == 2

    assert await _scalar(clean_db, "SELECT max(block_number) FROM chain_events") == 3
    assert await _scalar(clean_db, "SELECT count(*) FROM indexer_banks") == 0
    assert await _scalar(clean_db, "SELECT max(number) FROM indexer_blocks") == 3
    assert await _scalar(clean_db, "SELECT total_added FROM wallet_token_balances") == 3


async def _waiting_on_a_lock(ctx, timeout_s: float = 10.0) -> None:
    """Until another transaction of this database waits on a row lock (the racing writer)."""
    async with asyncio.timeout(timeout_s):
        while True:
            waiting = await _scalar(
                ctx,
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            if waiting:
                return
            await asyncio.sleep(0.05)


async def test_apply__two_writers_on_one_cursor__the_second_waits_then_is_refused(clean_db):
    """The cursor row is locked before it is compared: a second indexer (another fork of the
    same range) never applies on top of a batch committed meanwhile."""
    genesis = await _start(clean_db)
    ours, theirs = _batch(genesis, 2), _batch(genesis, 3, fork=7)
    async with clean_db.sessions.begin() as first:
        await apply_batch(first, ours, keep_blocks=100)

        async def second() -> None:
            async with clean_db.sessions.begin() as session:
                await apply_batch(session, theirs, keep_blocks=100)

        racing = asyncio.create_task(second())
        await _waiting_on_a_lock(clean_db)
    with pytest.raises(StaleBatch):
        await racing

    async with clean_db.sessions() as session:
        assert await load_cursor(session, CHAIN) == Cursor(2, _header(2).hash)
    assert await _scalar(clean_db, "SELECT count(*) FROM chain_events") == 2


async def test_rewind__while_a_batch_is_being_applied__waits_and_forgets_it_too(clean_db):
    genesis = await _start(clean_db)
    async with clean_db.sessions.begin() as first:
        await apply_batch(first, _batch(genesis, 4), keep_blocks=100)

        async def back_to_genesis() -> None:
            async with clean_db.sessions.begin() as session:
                await rewind(session, CHAIN, genesis)

        racing = asyncio.create_task(back_to_genesis())
        await _waiting_on_a_lock(clean_db)
    await racing

    assert await _scalar(clean_db, "SELECT count(*) FROM chain_events") == 0
    assert await _scalar(clean_db, "SELECT count(*) FROM wallet_token_balances") == 0
    async with clean_db.sessions() as session:
        assert await load_cursor(session, CHAIN) == Cursor(0, genesis.hash)


async def test_load_cursor__while_the_indexer_holds_the_lock__a_reader_does_not_wait(clean_db):
    genesis = await _start(clean_db)
    async with clean_db.sessions.begin() as indexer:
        held = await load_cursor(indexer, CHAIN, lock=True)  # FOR UPDATE until commit
        async with clean_db.sessions() as reader:
            read = await asyncio.wait_for(load_cursor(reader, CHAIN), 5)
    assert held == read == Cursor(genesis.number, genesis.hash)
