"""Indexer fixtures: the real contracts deployed once, a fresh chain snapshot per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text

from backend.chain import connect
from backend.core.context import AppContext
from indexer.decode import Decoder
from indexer.rpc import Rpc
from indexer.runner import Indexer
from indexer.settings import IndexerSettings
from tests.indexer.chain import Chain


@pytest.fixture(scope="session")
def deployed_at(rpc_url: str) -> int:
    """The first block the session's contracts can be in (asked before `deployed`)."""
    return int(connect(rpc_url).eth.block_number) + 1


@pytest.fixture(scope="session")
def deployed(rpc_url: str, deployed_at: int) -> Chain:
    return Chain.deploy(connect(rpc_url), rpc_url)


@pytest.fixture
def chain(deployed: Chain, chain_snapshot: None) -> Chain:
    """The deployed contracts; every block the test mines is reverted afterwards."""
    return deployed


IndexerFactory = Callable[..., AbstractAsyncContextManager[Indexer]]


@pytest.fixture
def make_indexer(chain: Chain, clean_db: AppContext, deployed_at: int) -> IndexerFactory:
    """`async with make_indexer(**settings) as indexer`: an Indexer on the test chain."""

    @asynccontextmanager
    async def factory(rpc: Rpc | None = None, **overrides: Any) -> AsyncIterator[Indexer]:
        values: dict[str, Any] = {
            "chain_id": 31337,
            "push_pull": chain.push_pull,
            "bank_factory": chain.bank_factory,
            "finality_depth": 0,
            # Known, so the indexer needs no eth_getCode search of old state: a shared anvil
            # that many suites snapshot and revert does not always keep it (the CLI tests
            # cover the search).
            "start_block": deployed_at,
        }
        values.update(overrides)
        client = rpc or Rpc(chain.rpc_url)
        try:
            yield Indexer(clean_db.sessions, client, IndexerSettings(**values))
        finally:
            await client.close()

    return factory


async def table(ctx: AppContext, sql: str, **params: Any) -> list[Any]:
    async with ctx.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


def expected_events(chain: Chain, up_to: int | None = None) -> set[tuple[str, int, str]]:
    """(tx hash, log index, event) of every chain log the indexer is meant to keep."""
    decoder = Decoder()
    tables = {
        chain.push_pull.lower(): decoder.push_pull,
        chain.bank_factory.lower(): decoder.factory,
    }
    tables.update({bank.lower(): decoder.bank for bank in chain.banks()})
    found = set()
    for log in chain.logs():
        spec = tables[log["address"].lower()].get(log["topics"][0])
        if spec is not None and (up_to is None or int(log["blockNumber"], 16) <= up_to):
            found.add((log["transactionHash"], int(log["logIndex"], 16), spec.name))
    return found


async def indexed_events(ctx: AppContext) -> set[tuple[str, int, str]]:
    rows = await table(ctx, "SELECT tx_hash, log_index, event FROM chain_events")
    assert len(rows) == len(set(rows)), "duplicate event rows"
    return {(tx, index, event) for tx, index, event in rows}


async def assert_matches_chain(ctx: AppContext, chain: Chain) -> None:
    """Rows equal the chain's logs; no orphan block; derived pending == getPendingAmount."""
    assert await indexed_events(ctx) == expected_events(chain)
    for number, block_hash in await table(
        ctx, "SELECT DISTINCT block_number, block_hash FROM chain_events"
    ):
        assert chain.block_hash(number) == block_hash, f"orphan rows in block {number}"
    balances = await table(
        ctx, "SELECT token, wallet, total_added, total_claimed FROM wallet_token_balances"
    )
    wallets = {
        wallet
        for (wallet,) in await table(
            ctx, "SELECT DISTINCT wallet FROM chain_events WHERE event = 'RewardAdded'"
        )
    }
    assert {wallet for _, wallet, _, _ in balances} == wallets
    for token, wallet, added, claimed in balances:
        assert int(added) - int(claimed) == chain.pending(wallet, token), wallet
