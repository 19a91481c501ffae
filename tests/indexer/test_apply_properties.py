"""Property: after any sequence of batches and rewinds, balances equal the events' sums."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from indexer.apply import Batch, Cursor, apply_batch, init_cursor, rewind
from indexer.decode import EventRow
from indexer.rpc import Header
from tests.conftest import truncate_all

CHAIN = 31337
TOKENS = ["0x" + "a1" * 20, "0x" + "a2" * 20]
WALLETS = ["0x" + f"{i:02x}" * 20 for i in range(1, 5)]

event = st.tuples(
    st.sampled_from(["RewardAdded", "RewardClaimed"]),
    st.sampled_from(TOKENS),
    st.sampled_from(WALLETS),
    st.integers(1, 10**30),
)
blocks = st.lists(st.lists(event, max_size=4), min_size=1, max_size=6)  # events per block
steps = st.lists(
    st.one_of(st.tuples(st.just("apply"), blocks), st.tuples(st.just("rewind"), st.integers(0, 8))),
    min_size=1,
    max_size=6,
)


def _header(number: int, fork: int) -> Header:
    return Header(number, f"0x{fork:032x}{number:032x}", f"0x{fork:032x}{number - 1:032x}", number)


async def _balances(ctx) -> dict:
    async with ctx.engine.connect() as conn:
        stored = {
            (t, w): (int(a), int(c))
            for t, w, a, c in await conn.execute(
                text("SELECT token, wallet, total_added, total_claimed FROM wallet_token_balances")
            )
        }
        expected: dict = {}
        for name, t, w, amount in await conn.execute(
            text("SELECT event, token, wallet, amount FROM chain_events")
        ):
            added, claimed = expected.get((t, w), (0, 0))
            if name == "RewardAdded":
                added += int(amount)
            else:
                claimed += int(amount)
            expected[(t, w)] = (added, claimed)
    return stored, expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
async def test_batches_and_rewinds__balances_always_equal_event_sums(clean_db, steps):
    await truncate_all(clean_db)
    fork = 0
    async with clean_db.sessions.begin() as session:
        cursor = await init_cursor(session, CHAIN, _header(0, fork))
    for kind, value in steps:
        if kind == "rewind":
            target = max(0, cursor.number - value)
            fork += 1  # blocks above the target are replaced by another fork
            async with clean_db.sessions.begin() as session:
                await rewind(session, CHAIN, _header(target, 0 if target == 0 else fork - 1))
            cursor = Cursor(target, _header(target, 0 if target == 0 else fork - 1).hash)
        else:
            rows, headers = [], []
            for offset, block_events in enumerate(value, start=1):
                header = _header(cursor.number + offset, fork)
                headers.append(header)
                for index, (name, token, wallet, amount) in enumerate(block_events):
                    rows.append(
                        EventRow(
                            header.number,
                            header.hash,
                            0,
                            header.hash,
                            index,
                            TOKENS[0],
                            name,
                            token,
                            wallet,
                            amount,
                        )
                    )
            batch = Batch(CHAIN, cursor, headers[-1], rows, [], headers)
            for _ in range(2):  # the same rows twice: the second insert adds nothing
                async with clean_db.sessions.begin() as session:
                    await apply_batch(session, batch, keep_blocks=100)
                    batch = Batch(
                        CHAIN,
                        Cursor(headers[-1].number, headers[-1].hash),
                        _header(headers[-1].number + 1, fork),
                        rows,
                        [],
                        [],
                    )
            cursor = Cursor(batch.cursor.number, batch.cursor.hash)
        stored, expected = await _balances(clean_db)
        assert stored == expected
