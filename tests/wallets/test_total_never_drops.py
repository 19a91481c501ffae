"""A wallet's total (queued + claimable + unconfirmed + claimed) never goes down.

Driven through a real settlement cycle on anvil, the real indexer and the HTTP
API: between the push job and the indexer, either may be first to see a push,
and the wallet view must count it exactly once at every step, for
GET /rewards and for the SSE stream (both built by the same snapshot code).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from backend.chain import send
from backend.settlement.job import push_once
from indexer.rpc import Rpc
from indexer.runner import Indexer
from indexer.settings import IndexerSettings
from tests.factories import wallet
from tests.settlement.conftest import FAST, KEY, TOKENS, Env, core, env, w3  # noqa: F401
from tests.wallets.test_stream import _events

Totals = tuple[int, dict[str, str]]


async def _read(client: httpx.AsyncClient, user: str, token: str) -> Totals:
    """(total, the token's row) from /rewards; the stream's first snapshot must agree."""
    body = (await client.get(f"/api/wallet/{user}/rewards")).json()
    stream = await client.get(f"/api/wallet/{user}/stream?max_seconds=1", timeout=10)
    first = json.loads(_events(stream.text)[0][1])
    assert first == body
    rows = [row for row in body["tokens"] if row["token"] == token]
    if not rows:
        return 0, {}
    (row,) = rows
    parts = ("queued", "claimable", "unconfirmed_claimable", "claimed_total")
    return sum(int(row[part]) for part in parts), row


@pytest.fixture
async def index(env: Env) -> AsyncIterator[Callable[[], Awaitable[object]]]:  # noqa: F811
    rpc = Rpc(env.rpc_url)
    indexer = Indexer(
        env.ctx.sessions,
        rpc,
        IndexerSettings(
            chain_id=31337,
            push_pull=env.core["push_pull"],
            bank_factory=env.core["bank_factory"],
            finality_depth=0,
            # from the block that deployed this test's bank: no eth_getCode search of old
            # state, which anvil 1.7.1 does not keep after earlier tests' snapshot reverts
            start_block=env.first_block + 1,
        ),
    )
    yield indexer.catch_up
    await rpc.close()


async def test_total__push_recorded_before_indexer_reads_it__stays_exact(
    client: httpx.AsyncClient,
    env: Env,  # noqa: F811
    index: Callable[[], Awaitable[object]],
):
    user = wallet()
    amounts = [3 * TOKENS + 1, 5]
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(user, a) for a in amounts])
    earned = sum(amounts)
    assert (await _read(client, user, env.token))[0] == earned

    await push_once(env.ctx, options=FAST)  # CONFIRMATIONS=0: recorded `pushed` at once
    total, row = await _read(client, user, env.token)
    assert total == earned and row["queued"] == str(earned)  # on its way, not gone

    await index()
    total, row = await _read(client, user, env.token)
    assert total == earned and (row["queued"], row["claimable"]) == ("0", str(earned))

    push_pull = env.push_pull
    send(env.w3, KEY, push_pull.functions.pullRewardsFor(user, [env.token]))
    assert (await _read(client, user, env.token))[0] == earned  # claim not indexed yet
    await index()
    total, row = await _read(client, user, env.token)
    assert total == earned and row["claimed_total"] == str(earned)


async def test_total__indexer_reads_push_before_it_is_recorded__counted_once(
    client: httpx.AsyncClient,
    env: Env,  # noqa: F811
    index: Callable[[], Awaitable[object]],
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(
        env.ctx, "settings", env.ctx.settings.model_copy(update={"confirmations": 2})
    )
    user = wallet()
    async with env.ctx.sessions() as session:
        await env.add_rewards(session, env.campaigns[0], [(user, 7 * TOKENS), (user, 11)])
    earned = 7 * TOKENS + 11
    history = [(await _read(client, user, env.token))[0]]

    await push_once(env.ctx, options=FAST)  # mined, not confirmed: rows stay batched
    history.append((await _read(client, user, env.token))[0])
    await index()  # the indexer sees the credit first
    total, row = await _read(client, user, env.token)
    history.append(total)
    assert row["queued"] == "0"
    assert int(row["claimable"]) + int(row["unconfirmed_claimable"]) == earned

    env.rpc("anvil_mine", ["0x2"])
    await push_once(env.ctx, options=FAST)  # now recorded `pushed`
    history.append((await _read(client, user, env.token))[0])
    await index()
    history.append((await _read(client, user, env.token))[0])

    assert history == [earned] * 5
