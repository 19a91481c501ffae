"""The loop: fetch -> decode -> apply, one block range per step, reorg-safe and resumable.

`Indexer.step()` does one range (or one reorg rewind); `catch_up()` steps
until the head; `run()` follows the chain forever, backing off on retryable
errors and stopping loudly on fatal ones. `index_once` / `run_indexer` build
one from an AppContext for `cascade serve`'s scheduler and `cascade index`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.context import AppContext
from indexer.apply import (
    Bank,
    Batch,
    Cursor,
    apply_batch,
    init_cursor,
    known_banks,
    load_cursor,
    rewind,
    stored_blocks,
)
from indexer.decode import Decoder
from indexer.errors import ChainMoved, FatalIndexerError, RetryableError, StaleBatch
from indexer.fetch import Fetcher
from indexer.rpc import Header, Rpc
from indexer.settings import IndexerSettings

log = logging.getLogger(__name__)
ZERO_HASH = "0x" + "00" * 32
GENESIS_PARENT = Header(-1, ZERO_HASH, ZERO_HASH, 0)  # block 0's parent hash is all zeros
MAX_BACKOFF_S = 30.0
IMMEDIATE_RETRIES = 3  # a reorg racing a fetch, or a concurrent indexer: just try again


@dataclass
class IndexStats:
    """What a run did; the CLI prints it, the benchmark records it."""

    cursor: int = -1
    head: int = -1
    blocks: int = 0
    events: int = 0  # decoded logs
    inserted: int = 0  # rows that were new (a replay inserts none)
    ranges: int = 0
    reorgs: int = 0
    rewound_events: int = 0
    fetch_s: float = 0.0
    decode_s: float = 0.0
    apply_s: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def lag(self) -> int:
        return max(0, self.head - self.cursor)

    def rates(self) -> tuple[float, float]:
        elapsed = max(self.elapsed_s, 1e-9)
        return self.blocks / elapsed, self.events / elapsed

    def as_dict(self) -> dict[str, float | int]:
        data = asdict(self)
        data.pop("started")
        blocks_per_s, events_per_s = self.rates()
        data.update(
            elapsed_s=round(self.elapsed_s, 3),
            blocks_per_s=round(blocks_per_s, 1),
            events_per_s=round(events_per_s, 1),
            lag=self.lag,
        )
        return data


ProgressCallback = Callable[[IndexStats], None]


class Indexer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rpc: Rpc,
        settings: IndexerSettings,
        *,
        on_progress: ProgressCallback | None = None,
    ):
        self.sessions = sessions
        self.rpc = rpc
        self.settings = settings
        self.decoder = Decoder()
        self.fetcher = Fetcher(rpc, self.decoder, settings)
        self.on_progress = on_progress
        self.stats = IndexStats()

    async def ensure_cursor(self) -> Cursor:
        """The stored checkpoint, or a new one just below the start block."""
        async with self.sessions() as session:
            cursor = await load_cursor(session, self.settings.chain_id)
        if cursor is not None:
            return cursor
        start = self.settings.start_block
        if start is None:
            start = await self._deployment_block()
        below = GENESIS_PARENT if start == 0 else await self.rpc.header(start - 1)
        if below is None:
            raise FatalIndexerError(f"INDEXER_START_BLOCK {start} is beyond the chain's head")
        log.info("indexer starts", extra={"start_block": start})
        async with self.sessions.begin() as session:
            return await init_cursor(session, self.settings.chain_id, below)

    async def step(self) -> bool:
        """Index one range (or undo one reorg). True when the cursor is at the head."""
        chain_id = self.settings.chain_id
        async with self.sessions() as session:
            cursor = await load_cursor(session, chain_id)
            banks = await known_banks(session, chain_id)
        if cursor is None:
            cursor = await self.ensure_cursor()
        head = await self.rpc.block_number()
        self.stats.head, self.stats.cursor = head, cursor.number
        if cursor.number >= head:  # caught up: the tip itself may have been replaced
            tip = await self.rpc.header(cursor.number) if cursor.number >= 0 else GENESIS_PARENT
            if tip is None or tip.hash != cursor.hash:
                await self._undo_reorg(cursor)
                return False
            return True

        started = time.perf_counter()
        fetched = await self.fetcher.fetch(cursor.number, head, banks)
        if fetched.headers[fetched.from_block].parent_hash != cursor.hash:
            await self._undo_reorg(cursor)
            return False
        fetched_at = time.perf_counter()
        events = self.decoder.decode_all(
            fetched.logs,
            push_pull=self.settings.push_pull,
            factory=self.settings.bank_factory,
            banks=banks | set(fetched.new_banks),
            timestamps={n: h.timestamp for n, h in fetched.headers.items()},
        )
        new_banks = [
            Bank(e.args["bank"], e.args["productId"], e.block_number)
            for e in events
            if e.event == "BankDeployed"
        ]
        tail = [h for n, h in fetched.headers.items() if n > head - self.settings.max_reorg_depth]
        batch = Batch(
            chain_id=chain_id,
            parent=cursor,
            cursor=fetched.headers[fetched.to_block],
            events=events,
            banks=new_banks,
            blocks=[fetched.headers[fetched.from_block], *tail],
        )
        decoded_at = time.perf_counter()
        async with self.sessions.begin() as session:
            inserted = await apply_batch(session, batch, keep_blocks=self.settings.max_reorg_depth)
        applied_at = time.perf_counter()

        stats = self.stats
        stats.fetch_s += fetched_at - started
        stats.decode_s += decoded_at - fetched_at
        stats.apply_s += applied_at - decoded_at
        stats.blocks += fetched.to_block - cursor.number
        stats.events += len(events)
        stats.inserted += inserted
        stats.ranges += 1
        stats.cursor = fetched.to_block
        if new_banks:
            log.info("banks discovered", extra={"banks": [b.address for b in new_banks]})
        if self.on_progress is not None:
            self.on_progress(stats)
        return fetched.to_block >= head

    async def catch_up(self) -> IndexStats:
        """Step until the cursor reaches the head seen along the way."""
        retries = 0
        while True:
            try:
                if await self.step():
                    return self.stats
                retries = 0
            except (ChainMoved, StaleBatch) as exc:
                retries += 1
                if retries > IMMEDIATE_RETRIES:
                    raise
                log.info("retrying step", extra={"reason": str(exc)})

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the chain until `stop` is set; fatal errors propagate."""
        delay = 0.0
        while not stop.is_set():
            try:
                caught_up = await self.step()
                delay = 0.0
                wait = self.settings.poll_interval_s if caught_up else 0.0
            except (ChainMoved, StaleBatch) as exc:
                log.info("retrying step", extra={"reason": str(exc)})
                wait = 0.05
            except RetryableError as exc:
                delay = min(MAX_BACKOFF_S, max(1.0, delay * 2))
                log.warning(
                    "indexer step failed, backing off",
                    extra={"reason": str(exc), "retry_in_s": delay},
                )
                wait = delay
            if wait:
                try:
                    await asyncio.wait_for(stop.wait(), wait)
                except TimeoutError:
                    pass

    async def reindex_from(self, block: int) -> int:
        """`--from N`: forget events from block N on, so the next steps index them again."""
        if block < 0:
            raise FatalIndexerError("--from must be >= 0")
        await self.ensure_cursor()
        below = GENESIS_PARENT if block == 0 else await self.rpc.header(block - 1)
        if below is None:
            raise FatalIndexerError(f"--from {block} is beyond the chain's head")
        async with self.sessions.begin() as session:
            deleted = await rewind(session, self.settings.chain_id, below)
        log.info("re-indexing", extra={"from_block": block, "events_forgotten": deleted})
        return deleted

    async def _undo_reorg(self, cursor: Cursor) -> None:
        """Walk back stored blocks to the newest one the chain still has; rewind there."""
        async with self.sessions() as session:
            stored = await stored_blocks(session, self.settings.chain_id, cursor.number)
        on_chain = await self.rpc.headers([b.number for b in stored if b.number >= 0])
        on_chain[-1] = GENESIS_PARENT
        ancestor: Header | None = None
        for block in stored:
            header = on_chain.get(block.number)
            if header is not None and header.hash == block.hash:
                ancestor = header
                break
        if ancestor is None:
            oldest = stored[-1].number if stored else cursor.number
            raise FatalIndexerError(
                f"reorg deeper than the stored window: block {cursor.number} and every stored "
                f"block down to {oldest} left the chain. If the chain was reset or reorged that "
                f"deep, run `cascade index --from <block>` with a block before the fork (or 0); "
                "raise INDEXER_MAX_REORG_DEPTH if this chain reorgs that deep"
            )
        async with self.sessions.begin() as session:
            deleted = await rewind(session, self.settings.chain_id, ancestor)
        self.stats.reorgs += 1
        self.stats.rewound_events += deleted
        log.warning(
            "reorg: rewound to the common ancestor",
            extra={
                "from_block": cursor.number,
                "ancestor": ancestor.number,
                "depth": cursor.number - ancestor.number,
                "events_removed": deleted,
            },
        )

    async def _deployment_block(self) -> int:
        """First block where both core contracts have code (binary search on eth_getCode)."""
        head = await self.rpc.block_number()
        blocks = []
        for name, address in (
            ("PUSH_PULL_ADDRESS", self.settings.push_pull),
            ("BANK_FACTORY_ADDRESS", self.settings.bank_factory),
        ):
            try:
                if await self.rpc.get_code(address, head) in ("0x", ""):
                    raise FatalIndexerError(f"{name} {address} has no code on this chain")
                low, high = 0, head
                while low < high:
                    middle = (low + high) // 2
                    if await self.rpc.get_code(address, middle) in ("0x", ""):
                        low = middle + 1
                    else:
                        high = middle
            except RetryableError as exc:
                raise FatalIndexerError(
                    f"cannot find the deployment block of {name} ({exc}); the node may not "
                    "keep historical state: set INDEXER_START_BLOCK"
                ) from exc
            blocks.append(low)
        return min(blocks)


@asynccontextmanager
async def open_indexer(
    ctx: AppContext, *, on_progress: ProgressCallback | None = None, **overrides: object
) -> AsyncIterator[Indexer]:
    """An Indexer on the context's database and RPC_URL (checks the chain id)."""
    rpc = Rpc(ctx.rpc_url)
    try:
        chain_id = await rpc.chain_id()
        expected = ctx.settings.chain_id
        if expected is not None and expected != chain_id:
            raise FatalIndexerError(f"CHAIN_ID is {expected} but RPC_URL serves chain {chain_id}")
        settings = IndexerSettings.from_settings(
            ctx.settings, chain_id=chain_id, overrides=overrides
        )
        yield Indexer(ctx.sessions, rpc, settings, on_progress=on_progress)
    finally:
        await rpc.close()


async def index_once(ctx: AppContext) -> IndexStats:
    """Catch up with the head once (the scheduler's job; tests call it directly)."""
    async with open_indexer(ctx) as indexer:
        return await indexer.catch_up()


async def run_indexer(
    ctx: AppContext, stop: asyncio.Event, *, on_progress: ProgressCallback | None = None
) -> None:
    """Follow the chain until `stop` is set (`cascade index`, or a task inside serve)."""
    async with open_indexer(ctx, on_progress=on_progress) as indexer:
        await indexer.run(stop)
