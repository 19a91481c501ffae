"""Apply step: write one batch (events, banks, blocks, balances, cursor) in ONE transaction.

Events are inserted with ON CONFLICT DO NOTHING on (chain id, tx hash, log
index), and the derived balances grow only by the rows that were actually new,
so replaying a range (a restart, `--from N`) never double counts. A batch that
does not extend the stored cursor exactly is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from indexer.decode import BALANCE_EVENTS, EventRow
from indexer.errors import StaleBatch
from indexer.rpc import Header
from indexer.settings import CHECKPOINT_NAME

INSERT_CHUNK = 10_000
# The SQL below spells out the balance events; keep it in step with decode.BALANCE_EVENTS.
assert frozenset({"RewardAdded", "RewardClaimed"}) == BALANCE_EVENTS


@dataclass(frozen=True)
class Cursor:
    number: int
    hash: str


@dataclass
class Bank:
    address: str
    product_id: str
    block_number: int


@dataclass
class Batch:
    """Everything one range produced; `parent` is the cursor it must extend."""

    chain_id: int
    parent: Cursor
    cursor: Header
    events: list[EventRow]
    banks: list[Bank]
    blocks: list[Header]


async def load_cursor(session: AsyncSession, chain_id: int, *, lock: bool = False) -> Cursor | None:
    sql = (
        "SELECT block_number, block_hash FROM indexer_checkpoints WHERE chain_id = :c AND name = :n"
    )
    row = (
        await session.execute(text(sql + (" FOR UPDATE" if lock else "")), _key(chain_id))
    ).first()
    return None if row is None else Cursor(int(row[0]), row[1])


async def init_cursor(session: AsyncSession, chain_id: int, header: Header) -> Cursor:
    """Create the checkpoint just below the start block (no-op if one exists)."""
    await _save_blocks(session, chain_id, [header])
    await session.execute(
        text(
            "INSERT INTO indexer_checkpoints (chain_id, name, block_number, block_hash) "
            "VALUES (:c, :n, :number, :hash) ON CONFLICT (chain_id, name) DO NOTHING"
        ),
        {**_key(chain_id), "number": header.number, "hash": header.hash},
    )
    cursor = await load_cursor(session, chain_id)
    assert cursor is not None
    return cursor


async def known_banks(session: AsyncSession, chain_id: int) -> set[str]:
    result = await session.execute(
        text("SELECT address FROM indexer_banks WHERE chain_id = :c"), {"c": chain_id}
    )
    return set(result.scalars())


async def stored_blocks(session: AsyncSession, chain_id: int, up_to: int) -> list[Cursor]:
    """Stored (number, hash) pairs at or below `up_to`, newest first."""
    result = await session.execute(
        text(
            "SELECT number, hash FROM indexer_blocks WHERE chain_id = :c AND number <= :n "
            "ORDER BY number DESC"
        ),
        {"c": chain_id, "n": up_to},
    )
    return [Cursor(int(number), block_hash) for number, block_hash in result]


async def apply_batch(session: AsyncSession, batch: Batch, *, keep_blocks: int) -> int:
    """Write the batch and move the cursor; returns how many events were new."""
    current = await load_cursor(session, batch.chain_id, lock=True)
    if current is None or current != batch.parent or batch.cursor.number <= current.number:
        raise StaleBatch(
            f"batch {batch.parent.number + 1}..{batch.cursor.number} does not extend the "
            f"checkpoint {current}: refused"
        )
    if batch.banks:
        await session.execute(
            text(
                "INSERT INTO indexer_banks (chain_id, address, product_id, block_number) "
                "SELECT :c, * FROM unnest(CAST(:a AS varchar[]), CAST(:p AS varchar[]), "
                "CAST(:b AS bigint[])) ON CONFLICT DO NOTHING"
            ),
            {
                "c": batch.chain_id,
                "a": [bank.address for bank in batch.banks],
                "p": [bank.product_id for bank in batch.banks],
                "b": [bank.block_number for bank in batch.banks],
            },
        )
    inserted = 0
    for start in range(0, len(batch.events), INSERT_CHUNK):
        inserted += await _insert_events(
            session, batch.chain_id, batch.events[start : start + INSERT_CHUNK]
        )
    await _save_blocks(session, batch.chain_id, [*batch.blocks, batch.cursor])
    await session.execute(
        text(
            "DELETE FROM indexer_blocks WHERE chain_id = :c AND number < :keep_from "
            "AND number <> :cursor"
        ),
        {
            "c": batch.chain_id,
            "keep_from": batch.cursor.number - keep_blocks,
            "cursor": batch.cursor.number,
        },
    )
    await _move_cursor(session, batch.chain_id, Cursor(batch.cursor.number, batch.cursor.hash))
    return inserted


async def rewind(session: AsyncSession, chain_id: int, to: Header) -> int:
    """Forget everything above block `to.number`, recompute balances, set the cursor there.

    Used for reorgs (to = the common ancestor) and `cascade index --from N`
    (to = block N-1). Returns how many events were deleted.
    """
    await load_cursor(session, chain_id, lock=True)
    params = {"c": chain_id, "n": to.number}
    deleted = (
        await session.execute(
            text(
                "DELETE FROM chain_events WHERE chain_id = :c AND block_number > :n "
                "RETURNING token, wallet, event"
            ),
            params,
        )
    ).all()
    pairs = sorted({(token, wallet) for token, wallet, event in deleted if event in BALANCE_EVENTS})
    if pairs:
        await _recompute_balances(session, chain_id, pairs)
    await session.execute(
        text("DELETE FROM indexer_banks WHERE chain_id = :c AND block_number > :n"), params
    )
    await session.execute(
        text("DELETE FROM indexer_blocks WHERE chain_id = :c AND number > :n"), params
    )
    await _save_blocks(session, chain_id, [to])
    await _move_cursor(session, chain_id, Cursor(to.number, to.hash))
    return len(deleted)


async def _insert_events(session: AsyncSession, chain_id: int, events: Sequence[EventRow]) -> int:
    # One statement: insert the new rows, then add exactly those to the balances.
    sql = """
    WITH inserted AS (
        INSERT INTO chain_events (chain_id, block_number, block_hash, block_timestamp, tx_hash,
                                  log_index, address, event, token, wallet, amount, args)
        SELECT CAST(:c AS bigint), * FROM unnest(
            CAST(:block_number AS bigint[]), CAST(:block_hash AS varchar[]),
            CAST(:block_timestamp AS bigint[]), CAST(:tx_hash AS varchar[]),
            CAST(:log_index AS integer[]), CAST(:address AS varchar[]),
            CAST(:event AS varchar[]), CAST(:token AS varchar[]), CAST(:wallet AS varchar[]),
            CAST(:amount AS numeric[]), CAST(:args AS jsonb[]))
        ON CONFLICT (chain_id, tx_hash, log_index) DO NOTHING
        RETURNING event, token, wallet, amount, block_number
    ), totals AS (
        SELECT token, wallet,
               coalesce(sum(amount) FILTER (WHERE event = 'RewardAdded'), 0) AS added,
               coalesce(sum(amount) FILTER (WHERE event = 'RewardClaimed'), 0) AS claimed,
               max(block_number) AS block_number
        FROM inserted WHERE event IN ('RewardAdded', 'RewardClaimed') GROUP BY token, wallet
    ), balances AS (
        INSERT INTO wallet_token_balances AS b
            (chain_id, token, wallet, total_added, total_claimed, updated_block)
        SELECT CAST(:c AS bigint), token, wallet, added, claimed, block_number FROM totals
        ON CONFLICT (chain_id, token, wallet) DO UPDATE SET
            total_added = b.total_added + excluded.total_added,
            total_claimed = b.total_claimed + excluded.total_claimed,
            updated_block = greatest(b.updated_block, excluded.updated_block)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM balances)
    """
    row = (
        await session.execute(
            text(sql),
            {
                "c": chain_id,
                "block_number": [e.block_number for e in events],
                "block_hash": [e.block_hash for e in events],
                "block_timestamp": [e.block_timestamp for e in events],
                "tx_hash": [e.tx_hash for e in events],
                "log_index": [e.log_index for e in events],
                "address": [e.address for e in events],
                "event": [e.event for e in events],
                "token": [e.token for e in events],
                "wallet": [e.wallet for e in events],
                "amount": [None if e.amount is None else str(e.amount) for e in events],
                "args": [e.args_json() for e in events],
            },
        )
    ).one()
    return int(row[0])


async def _recompute_balances(
    session: AsyncSession, chain_id: int, pairs: Sequence[tuple[str, str]]
) -> None:
    """Rebuild the balances of `pairs` from the events that remain."""
    sql = """
    WITH pairs AS (
        SELECT * FROM unnest(CAST(:tokens AS varchar[]), CAST(:wallets AS varchar[]))
            AS p(token, wallet)
    ), totals AS (
        SELECT p.token, p.wallet, count(e.id) AS n,
               coalesce(sum(e.amount) FILTER (WHERE e.event = 'RewardAdded'), 0) AS added,
               coalesce(sum(e.amount) FILTER (WHERE e.event = 'RewardClaimed'), 0) AS claimed,
               coalesce(max(e.block_number), 0) AS block_number
        FROM pairs p LEFT JOIN chain_events e
          ON e.chain_id = :c AND e.wallet = p.wallet AND e.token = p.token
         AND e.event IN ('RewardAdded', 'RewardClaimed')
        GROUP BY p.token, p.wallet
    ), emptied AS (
        DELETE FROM wallet_token_balances b USING totals t
        WHERE b.chain_id = :c AND b.token = t.token AND b.wallet = t.wallet AND t.n = 0
    )
    INSERT INTO wallet_token_balances AS b
        (chain_id, token, wallet, total_added, total_claimed, updated_block)
    SELECT CAST(:c AS bigint), token, wallet, added, claimed, block_number FROM totals WHERE n > 0
    ON CONFLICT (chain_id, token, wallet) DO UPDATE SET
        total_added = excluded.total_added,
        total_claimed = excluded.total_claimed,
        updated_block = excluded.updated_block
    """
    await session.execute(
        text(sql),
        {"c": chain_id, "tokens": [p[0] for p in pairs], "wallets": [p[1] for p in pairs]},
    )


async def _save_blocks(session: AsyncSession, chain_id: int, headers: Sequence[Header]) -> None:
    unique = {header.number: header for header in headers}
    await session.execute(
        text(
            "INSERT INTO indexer_blocks (chain_id, number, hash, parent_hash, timestamp) "
            "SELECT :c, * FROM unnest(CAST(:n AS bigint[]), CAST(:h AS varchar[]), "
            "CAST(:p AS varchar[]), CAST(:t AS bigint[])) ON CONFLICT (chain_id, number) "
            "DO UPDATE SET hash = excluded.hash, parent_hash = excluded.parent_hash, "
            "timestamp = excluded.timestamp"
        ),
        {
            "c": chain_id,
            "n": [h.number for h in unique.values()],
            "h": [h.hash for h in unique.values()],
            "p": [h.parent_hash for h in unique.values()],
            "t": [h.timestamp for h in unique.values()],
        },
    )


async def _move_cursor(session: AsyncSession, chain_id: int, cursor: Cursor) -> None:
    await session.execute(
        text(
            "INSERT INTO indexer_checkpoints (chain_id, name, block_number, block_hash) "
            "VALUES (:c, :n, :number, :hash) ON CONFLICT (chain_id, name) DO UPDATE SET "
            "block_number = excluded.block_number, block_hash = excluded.block_hash, "
            "updated_at = now()"
        ),
        {**_key(chain_id), "number": cursor.number, "hash": cursor.hash},
    )


def _key(chain_id: int) -> dict[str, object]:
    return {"c": chain_id, "n": CHECKPOINT_NAME}
