"""A small JSON-RPC client for the indexer: raw hex results, batches, classified errors.

web3.py formats every log into AttributeDicts and HexBytes, which costs more
than the whole rest of indexing at 50k logs; the indexer only needs the raw
JSON, so it talks to the node directly and sorts failures into retryable,
range-too-large and (never here) fatal.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec

from indexer.errors import RangeTooLarge, RetryableError

# Provider wordings for "this eth_getLogs range returns too much" (geth, erigon,
# Infura, Alchemy, QuickNode, Ankr, anvil forks...): shrink the range and retry.
_RANGE_ERROR = re.compile(
    r"query returned more than|too many (results|logs|blocks)|limit exceeded|response size"
    r"|range (is )?too (large|wide|big)|block range|exceed(s|ed) .*(limit|range|max)"
    r"|max(imum)? .*(results|range)|query timeout|result window",
    re.IGNORECASE,
)
_RANGE_ERROR_CODES = {-32005}  # "limit exceeded" (EIP-1474)
HEADER_BATCH = 100


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class Rpc:
    """One HTTP session to RPC_URL; close() when done."""

    def __init__(self, url: str, *, timeout_s: float = 30.0):
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        reply = await self._post(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        )
        return _result(method, reply)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; results in the order of `calls`."""
        if not calls:
            return []
        first = next(self._ids)
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": method, "params": list(params)}
            for i, (method, params) in enumerate(calls)
        ]
        self._ids = itertools.count(first + len(calls))
        replies = await self._post(body)
        if not isinstance(replies, list):  # some nodes answer a failed batch with one error
            raise RetryableError(f"batch request failed: {replies!r}"[:300])
        by_id = {reply.get("id"): reply for reply in replies}
        return [_result(calls[i][0], by_id.get(first + i, {})) for i in range(len(calls))]

    async def block_number(self) -> int:
        return int(await self.call("eth_blockNumber"), 16)

    async def chain_id(self) -> int:
        return int(await self.call("eth_chainId"), 16)

    async def get_code(self, address: str, block: int) -> str:
        return str(await self.call("eth_getCode", [address, hex(block)]))

    async def get_logs(
        self, from_block: int, to_block: int, addresses: Sequence[str], topics: Sequence[str]
    ) -> list[dict[str, Any]]:
        params = {
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "address": list(addresses),
            "topics": [list(topics)],
        }
        return list(await self.call("eth_getLogs", [params]))

    async def headers(self, numbers: Sequence[int]) -> dict[int, Header | None]:
        """Headers by number (None where the node has no such block), batched."""
        wanted = sorted(set(numbers))
        found: dict[int, Header | None] = {}
        for start in range(0, len(wanted), HEADER_BATCH):
            chunk = wanted[start : start + HEADER_BATCH]
            blocks = await self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in chunk])
            for number, block in zip(chunk, blocks, strict=True):
                found[number] = _header(block) if block else None
        return found

    async def header(self, number: int) -> Header | None:
        return (await self.headers([number]))[number]

    async def _post(self, body: Any) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(
                self.url,
                data=msgspec.json.encode(body),
                headers={"Content-Type": "application/json"},
            ) as response:
                raw = await response.read()
                if response.status == 413:
                    raise RangeTooLarge(f"HTTP 413 from {self.url}")
                if response.status >= 400:
                    raise RetryableError(f"HTTP {response.status} from the node: {raw[:200]!r}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RetryableError(f"node unreachable ({type(exc).__name__}: {exc})") from exc
        try:
            return msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise RetryableError(f"node sent invalid JSON: {raw[:200]!r}") from exc


def _result(method: str, reply: dict[str, Any]) -> Any:
    error = reply.get("error")
    if error is None:
        if "result" not in reply:
            raise RetryableError(f"{method}: no result in reply {reply!r}"[:300])
        return reply["result"]
    message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
    code = error.get("code") if isinstance(error, dict) else None
    if method == "eth_getLogs" and (code in _RANGE_ERROR_CODES or _RANGE_ERROR.search(message)):
        raise RangeTooLarge(f"{method}: {message}")
    raise RetryableError(f"{method}: {message} (code {code})")


def _header(block: dict[str, Any]) -> Header:
    return Header(
        number=int(block["number"], 16),
        hash=block["hash"],
        parent_hash=block["parentHash"],
        timestamp=int(block["timestamp"], 16),
    )
