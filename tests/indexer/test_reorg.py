"""Reorgs: replaced blocks leave no orphan row, and balances follow the new chain."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from backend.chain import contract
from backend.runtime.anvil import rpc_call
from indexer.errors import FatalIndexerError
from tests.factories import wallet
from tests.indexer.conftest import assert_matches_chain, table


def _claim_tx(chain, user: str) -> dict:
    push_pull = contract(chain.w3, "MultiTokenPushPull", chain.push_pull)
    data = push_pull.encode_abi("pullRewardsFor", args=[user, [chain.token]])
    return {"from": chain.deployer, "to": chain.push_pull, "data": data, "gas": hex(300_000)}


async def test_anvil_reorg_depth_3__no_orphans_and_pending_equals_chain(
    chain, make_indexer, clean_db
):
    alice, bob, carol = wallet(), wallet(), wallet()
    chain.push([(alice, 100), (bob, 50)])
    async with make_indexer() as indexer:
        await indexer.catch_up()
        # three indexed blocks, each with events, that the reorg will replace
        chain.push([(alice, 1), (carol, 2)])
        chain.claim(bob)
        chain.push([(carol, 3)])
        await indexer.catch_up()
        replaced = {n: chain.block_hash(n) for n in range(chain.head() - 2, chain.head() + 1)}

        # same height, new blocks: alice claims in the first replacement block instead
        rpc_call(chain.rpc_url, "anvil_reorg", [3, [[_claim_tx(chain, alice), 0]]])
        assert all(chain.block_hash(n) != h for n, h in replaced.items())
        stats = await indexer.catch_up()

    assert stats.reorgs == 1
    await assert_matches_chain(clean_db, chain)
    stale = await table(
        clean_db,
        "SELECT count(*) FROM chain_events WHERE block_hash = ANY(:hashes)",
        hashes=list(replaced.values()),
    )
    assert stale[0][0] == 0
    assert chain.pending(alice) == 0 and chain.pending(bob) == 50 and chain.pending(carol) == 0


async def test_revert_and_longer_fork__rewinds_to_ancestor_and_replays(
    chain, make_indexer, clean_db
):
    alice, bob = wallet(), wallet()
    chain.push([(alice, 10)])
    async with make_indexer() as indexer:
        await indexer.catch_up()
        fork_point = rpc_call(chain.rpc_url, "evm_snapshot")
        chain.push([(bob, 20)])
        chain.push([(alice, 30)])
        await indexer.catch_up()

        rpc_call(chain.rpc_url, "evm_revert", [fork_point])
        for _ in range(4):  # a longer fork without bob's reward
            chain.push([(alice, 1)])
        stats = await indexer.catch_up()

    assert stats.reorgs == 1 and stats.rewound_events > 0
    await assert_matches_chain(clean_db, chain)
    bob_rows = await table(clean_db, "SELECT count(*) FROM chain_events WHERE wallet = :w", w=bob)
    assert bob_rows[0][0] == 0
    bob_balance = await table(
        clean_db, "SELECT count(*) FROM wallet_token_balances WHERE wallet = :w", w=bob
    )
    assert bob_balance[0][0] == 0


async def test_reorg_deeper_than_stored_blocks__stops_with_fix_it_message(
    chain, make_indexer, clean_db
):
    chain.push([(wallet(), 10)])
    async with make_indexer() as indexer:
        await indexer.catch_up()
        async with clean_db.engine.begin() as conn:  # as if every stored block left the chain
            await conn.execute(text("UPDATE indexer_blocks SET hash = '0x' || repeat('ab', 32)"))
            await conn.execute(
                text("UPDATE indexer_checkpoints SET block_hash = '0x' || repeat('ab', 32)")
            )
        with pytest.raises(FatalIndexerError, match="cascade index --from"):
            await indexer.catch_up()
