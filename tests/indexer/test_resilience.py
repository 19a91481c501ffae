"""Ranges, banks and replays: what keeps the indexer complete and exact."""

from __future__ import annotations

import pytest

from indexer.apply import Batch, Cursor, apply_batch, load_cursor
from indexer.errors import RangeTooLarge, StaleBatch
from indexer.rpc import Header, Rpc
from tests.factories import wallet
from tests.indexer.conftest import assert_matches_chain, table


class StingyRpc(Rpc):
    """A provider that refuses eth_getLogs over more than `limit` blocks."""

    def __init__(self, url: str, limit: int):
        super().__init__(url)
        self.limit = limit
        self.refused = 0

    async def get_logs(self, from_block, to_block, addresses, topics):
        if to_block - from_block + 1 > self.limit:
            self.refused += 1
            raise RangeTooLarge("query returned more than 10000 results")
        return await super().get_logs(from_block, to_block, addresses, topics)


async def test_provider_refuses_large_ranges__range_shrinks_and_nothing_is_missed(
    chain, make_indexer, clean_db
):
    for _ in range(6):
        chain.push([(wallet(), 3)])
    rpc = StingyRpc(chain.rpc_url, limit=2)
    async with make_indexer(rpc=rpc, initial_range=64) as indexer:
        await indexer.catch_up()
        assert indexer.fetcher.ceiling <= 3  # remembers what was refused: no thrashing

    assert rpc.refused > 0
    await assert_matches_chain(clean_db, chain)


async def test_quiet_ranges__range_grows(chain, make_indexer):
    async with make_indexer(initial_range=1, max_range=8) as indexer:
        await indexer.catch_up()
        assert indexer.fetcher.range_size == 8


async def test_bank_created_after_the_indexer_started__is_picked_up(chain, make_indexer, clean_db):
    async with make_indexer() as indexer:
        await indexer.catch_up()
        bank = chain.new_bank()  # deploy, deposit, budget: all inside the next range
        user = wallet()
        chain.push([(user, 42)], bank=bank)
        await indexer.catch_up()

    await assert_matches_chain(clean_db, chain)
    events = {
        event
        for (event,) in await table(
            clean_db, "SELECT event FROM chain_events WHERE address = :a", a=bank
        )
    }
    assert {"Deposited", "CampaignBudgetAllocated", "RewardsPushed"} <= events
    assert await table(clean_db, "SELECT address FROM indexer_banks WHERE address = :a", a=bank)


async def test_reindex_from__same_rows_and_balances_no_duplicates(chain, make_indexer, clean_db):
    first = chain.push([(wallet(), 5), (wallet(), 6)])
    chain.push([(wallet(), 7)])
    async with make_indexer() as indexer:
        await indexer.catch_up()
        before = await table(clean_db, "SELECT * FROM wallet_token_balances ORDER BY wallet")
        await indexer.reindex_from(first["blockNumber"])
        stats = await indexer.catch_up()

    assert stats.inserted > 0  # the forgotten range was indexed again
    assert await table(clean_db, "SELECT * FROM wallet_token_balances ORDER BY wallet") == before
    await assert_matches_chain(clean_db, chain)


async def test_batch_at_or_below_the_cursor__is_refused(chain, make_indexer, clean_db):
    async with make_indexer() as indexer:
        await indexer.catch_up()
        async with clean_db.sessions() as session:
            cursor = await load_cursor(session, 31337)
        assert cursor is not None
        below = Cursor(cursor.number - 1, cursor.hash)
        header = Header(cursor.number, "0x" + "11" * 32, cursor.hash, 0)
        for parent in (below, Cursor(cursor.number, "0x" + "22" * 32)):
            batch = Batch(31337, parent, header, [], [], [])
            async with clean_db.sessions.begin() as session:
                with pytest.raises(StaleBatch, match="refused"):
                    await apply_batch(session, batch, keep_blocks=10)
