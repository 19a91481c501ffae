"""Fetch step: the raw logs and headers of one block range, checked for consistency.

Ranges adapt: a provider that refuses a range ("too many results") halves it,
a quiet range lets the next one double. Banks are discovered from the
factory's BankDeployed logs; a bank created inside the range is fetched again
for that same range before the batch is handed on, so none of its logs is missed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from indexer.decode import Decoder
from indexer.errors import ChainMoved, FatalIndexerError, RangeTooLarge
from indexer.rpc import Header, Rpc
from indexer.settings import IndexerSettings

log = logging.getLogger(__name__)
ADDRESSES_PER_CALL = 500  # providers cap the address list of one eth_getLogs
RANGES_BEFORE_LIFTING_CEILING = 50


@dataclass
class FetchedRange:
    from_block: int
    to_block: int
    head: int
    logs: list[dict[str, Any]]  # sorted by (block, log index), unique
    headers: dict[int, Header]  # from, to, the unfinalised tail, blocks lacking timestamps
    new_banks: list[str]


class Fetcher:
    def __init__(self, rpc: Rpc, decoder: Decoder, settings: IndexerSettings):
        self.rpc = rpc
        self.decoder = decoder
        self.settings = settings
        self.range_size = settings.initial_range
        # Largest size not yet refused; lifted again after a run of accepted ranges,
        # because providers limit results, and results vary along the chain.
        self.ceiling = settings.max_range
        self._accepted = 0
        self.topics = decoder.topics()

    async def fetch(self, cursor: int, head: int, banks: set[str]) -> FetchedRange:
        """Logs and headers of (cursor, min(head, cursor + range)]."""
        from_block = cursor + 1
        while True:
            to_block = min(head, cursor + self.range_size)
            try:
                logs, new_banks = await self._logs_with_new_banks(from_block, to_block, banks)
                break
            except RangeTooLarge as exc:
                if to_block == from_block:
                    raise FatalIndexerError(
                        f"the node refuses eth_getLogs even for the single block {from_block} "
                        f"({exc}): use an RPC_URL whose log limits allow it"
                    ) from exc
                tried = to_block - from_block + 1
                self.ceiling = max(1, tried - 1)
                self.range_size = max(1, tried // 2)
                self._accepted = 0
                log.info("shrinking block range", extra={"range": self.range_size})
        headers = await self._headers(from_block, to_block, head, logs)
        _check_consistent(logs, headers)
        if (
            len(logs) < self.settings.target_logs_per_range // 2
            and to_block - cursor == self.range_size
        ):
            self.range_size = min(self.settings.max_range, self.range_size * 2)
        return FetchedRange(from_block, to_block, head, logs, headers, new_banks)

    def _adapt(self, log_count: int, *, full: bool) -> None:
        """Grow after a quiet full-size range, up to the ceiling; lift the ceiling slowly."""
        self._accepted += 1
        if self._accepted >= RANGES_BEFORE_LIFTING_CEILING:
            self.ceiling = min(self.settings.max_range, self.ceiling * 2)
            self._accepted = 0
        if full and log_count < self.settings.target_logs_per_range // 2:
            self.range_size = min(self.ceiling, self.settings.max_range, self.range_size * 2)

    async def _logs_with_new_banks(
        self, from_block: int, to_block: int, banks: set[str]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        addresses = [self.settings.push_pull, self.settings.bank_factory, *sorted(banks)]
        logs = await self._logs(from_block, to_block, addresses)
        known = {bank.lower() for bank in banks}
        factory = self.settings.bank_factory.lower()
        new_banks: list[str] = []
        for entry in logs:
            if entry["address"].lower() == factory:
                bank = self.decoder.bank_created(entry)
                if bank is not None and bank.lower() not in known:
                    known.add(bank.lower())
                    new_banks.append(bank)
        if new_banks:  # the same range again, for the banks born inside it
            logs += await self._logs(from_block, to_block, new_banks)
        unique = {(e["blockNumber"], e["logIndex"]): e for e in logs}
        ordered = sorted(
            unique.values(), key=lambda e: (int(e["blockNumber"], 16), int(e["logIndex"], 16))
        )
        return ordered, new_banks

    async def _logs(
        self, from_block: int, to_block: int, addresses: Sequence[str]
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(addresses), ADDRESSES_PER_CALL):
            chunk = addresses[start : start + ADDRESSES_PER_CALL]
            found += await self.rpc.get_logs(from_block, to_block, chunk, self.topics)
        for entry in found:
            if entry.get("removed"):
                raise ChainMoved(f"node returned a removed log in {from_block}..{to_block}")
        return found

    async def _headers(
        self, from_block: int, to_block: int, head: int, logs: list[dict[str, Any]]
    ) -> dict[int, Header]:
        tail_start = max(from_block, head - self.settings.max_reorg_depth + 1)
        wanted = {from_block, to_block, *range(tail_start, to_block + 1)}
        wanted |= {int(e["blockNumber"], 16) for e in logs if not e.get("blockTimestamp")}
        fetched = await self.rpc.headers(sorted(wanted))
        missing = [number for number, header in fetched.items() if header is None]
        if missing:
            raise ChainMoved(f"blocks {missing[:5]} vanished while fetching (head went back)")
        return {number: header for number, header in fetched.items() if header is not None}


def _check_consistent(logs: list[dict[str, Any]], headers: dict[int, Header]) -> None:
    """Logs and headers must describe one chain; otherwise a reorg raced the fetch."""
    for entry in logs:
        header = headers.get(int(entry["blockNumber"], 16))
        if header is not None and header.hash != entry["blockHash"]:
            raise ChainMoved(f"block {header.number} changed while fetching its logs")
    for number, header in headers.items():
        previous = headers.get(number - 1)
        if previous is not None and header.parent_hash != previous.hash:
            raise ChainMoved(f"block {number} does not extend block {number - 1} (reorg mid-fetch)")
