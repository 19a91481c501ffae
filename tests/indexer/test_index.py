"""Indexing against the real contracts on anvil: rows match the chain exactly."""

from __future__ import annotations

import random

from tests.factories import wallet
from tests.indexer.conftest import assert_matches_chain, indexed_events, table


async def test_index__random_pushes_and_claims__rows_and_pending_match_chain(
    chain, make_indexer, clean_db
):
    rng = random.Random(7)
    wallets = [wallet() for _ in range(12)]
    async with make_indexer(initial_range=3) as indexer:
        for round_ in range(4):
            for _ in range(rng.randint(1, 4)):
                picked = rng.sample(wallets, rng.randint(1, 6))
                chain.push([(w, rng.randint(1, 10**20)) for w in picked])
            for w in rng.sample(wallets, rng.randint(0, 4)):
                if chain.pending(w):
                    chain.claim(w)
            if round_ % 2:
                await indexer.catch_up()
        stats = await indexer.catch_up()

    assert stats.cursor == chain.head()
    await assert_matches_chain(clean_db, chain)
    claimed = await table(
        clean_db,
        "SELECT count(*) FROM chain_events WHERE event = 'RewardClaimed'",
    )
    assert claimed[0][0] > 0


async def test_index__twice__inserts_nothing_new(chain, make_indexer, clean_db):
    chain.push([(wallet(), 5), (wallet(), 7)])
    async with make_indexer() as indexer:
        first = await indexer.catch_up()
    async with make_indexer() as indexer:
        second = await indexer.catch_up()

    assert first.inserted > 0
    assert second.inserted == 0 and second.blocks == 0
    await assert_matches_chain(clean_db, chain)
    assert await indexed_events(clean_db)
