"""`cascade index`: follow the chain into Postgres (or catch up once with --once)."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import TYPE_CHECKING

import click

from backend.cli.context import get_settings, handles_config_errors
from backend.cli.output import done, emit_json, fail, step
from backend.core.config import ConfigError
from backend.runtime.services import embedded_services

if TYPE_CHECKING:
    from indexer.runner import IndexStats

PROGRESS_EVERY_S = 2.0


class Progress:
    """Prints blocks/s, events/s (since the last line) and head lag, every PROGRESS_EVERY_S."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), 0, 0)

    def __call__(self, stats: IndexStats) -> None:
        now = time.monotonic()
        last_time, last_blocks, last_events = self._last
        elapsed = now - last_time
        if elapsed < PROGRESS_EVERY_S:
            return
        self._last = (now, stats.blocks, stats.events)
        step(
            f"block {stats.cursor}/{stats.head}  "
            f"{(stats.blocks - last_blocks) / elapsed:,.0f} blocks/s  "
            f"{(stats.events - last_events) / elapsed:,.0f} events/s  head lag {stats.lag}"
        )


@click.command("index")
@click.option(
    "--from",
    "from_block",
    type=click.IntRange(min=0),
    default=None,
    help="re-index from this block on (forgets indexed events from it first; no duplicates)",
)
@click.option("--once", is_flag=True, help="catch up with the chain head, then exit")
@click.option("--json", "as_json", is_flag=True, help="with --once: print the run's stats as JSON")
@handles_config_errors
def index(from_block: int | None, once: bool, as_json: bool) -> None:
    """Index MultiTokenPushPull and bank events (needs RPC_URL and the contract addresses)."""
    from backend.cli.serve import prepare_database

    settings = get_settings()
    if settings.embedded_chain:
        raise ConfigError(
            "RPC_URL is required: on embedded defaults `cascade serve` runs the indexer itself"
        )
    settings.require("push_pull_address", "bank_factory_address")
    with embedded_services(settings, need_chain=False) as endpoints:
        asyncio.run(prepare_database(settings, endpoints.database_url))
        code = asyncio.run(_index(settings, endpoints.database_url, from_block, once, as_json))
    if code:
        raise SystemExit(code)


async def _index(settings, database_url: str, from_block: int | None, once: bool, as_json: bool):
    from backend.core.context import AppContext
    from indexer.errors import FatalIndexerError, IndexerError
    from indexer.runner import open_indexer

    ctx = AppContext(settings, database_url, settings.rpc_url or "")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_indexer(ctx, on_progress=Progress()) as indexer:
            cursor = await indexer.ensure_cursor()
            step(f"indexing chain {indexer.settings.chain_id} from block {cursor.number + 1}")
            if from_block is not None:
                forgotten = await indexer.reindex_from(from_block)
                step(f"re-indexing from block {from_block} ({forgotten} indexed events forgotten)")
            if once:
                stats = await indexer.catch_up()
            else:
                await indexer.run(stop)
                stats = indexer.stats
        blocks_per_s, events_per_s = stats.rates()
        done(
            f"at block {stats.cursor}: {stats.blocks} blocks, {stats.events} events "
            f"({stats.inserted} new) in {stats.elapsed_s:.1f}s; {blocks_per_s:,.0f} blocks/s, "
            f"{events_per_s:,.0f} events/s, {stats.reorgs} reorgs"
        )
        if as_json:
            emit_json(stats.as_dict())
        return 0
    except FatalIndexerError as exc:
        fail(f"indexer stopped: {exc}")
        return 1
    except IndexerError as exc:  # --once gives up on errors the loop would retry
        fail(f"indexer step failed, retry later: {exc}")
        return 3
    finally:
        await ctx.close()
