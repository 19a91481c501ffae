"""How business services talk to the chain: signer transactions and live reads.

Transactions go through backend.chain (sync web3.py) in a worker thread, one at
a time per process, so two API requests never pick the same signer nonce.
Reads use the context's AsyncWeb3. Network failures become 503
`chain_unavailable`; reverts stay `ChainRevert` for the caller to interpret.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import anyio.to_thread
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, ProviderConnectionError, TimeExhausted

from backend.chain.artifacts import load_artifact
from backend.chain.client import ChainRevert, account, connect, contract, send
from backend.chain.nonces import nonce_floor, sender_lock
from backend.core.config import ConfigError
from backend.core.context import AppContext
from backend.core.errors import Unavailable
from backend.core.locks import advisory_lock

T = TypeVar("T")
ZERO_ADDRESS = "0x" + "00" * 20
_NETWORK_ERRORS = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    aiohttp.ClientError,
    ProviderConnectionError,
    TimeExhausted,
)
_SEND_LOCK = threading.Lock()

ERC20_ABI: list[dict[str, Any]] = [
    {
        "name": name,
        "type": "function",
        "stateMutability": "view",
        "inputs": inputs,
        "outputs": [{"name": "", "type": out}],
    }
    for name, inputs, out in (
        ("symbol", [], "string"),
        ("decimals", [], "uint8"),
        ("balanceOf", [{"name": "account", "type": "address"}], "uint256"),
    )
]
# Some old tokens (MKR) return the symbol as bytes32.
ERC20_BYTES32_SYMBOL_ABI: list[dict[str, Any]] = [
    {
        "name": "symbol",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "bytes32"}],
    }
]


def unavailable(exc: BaseException) -> Unavailable:
    return Unavailable(
        "the chain does not answer, retry shortly",
        code="chain_unavailable",
        details={"reason": f"{type(exc).__name__}: {exc}"[:300]},
    )


def signer_key(ctx: AppContext) -> str:
    try:
        return ctx.settings.effective_signer_key()
    except ConfigError as exc:
        raise Unavailable(str(exc), code="chain_not_configured") from None


def signer_address(ctx: AppContext) -> str:
    return str(account(signer_key(ctx)).address)


@functools.lru_cache(maxsize=8)
def _sync_web3(rpc_url: str) -> Web3:
    return connect(rpc_url)


async def in_thread(ctx: AppContext, work: Callable[[Web3], T]) -> T:
    """Run sync web3 code (sends, receipts) off the event loop; network errors -> 503."""

    def run() -> T:
        return work(_sync_web3(ctx.rpc_url))

    try:
        return await anyio.to_thread.run_sync(run)
    except ChainRevert:
        raise
    except _NETWORK_ERRORS as exc:
        raise unavailable(exc) from exc


async def signer_thread(ctx: AppContext, work: Callable[[Web3, int], T]) -> T:
    """Run a signer send in a worker thread under the signer's cross-process lock.

    `work(w3, nonce_floor)` must not use a nonce below `nonce_floor`: the settlement
    pusher may have stored (not yet broadcast) transactions up to it.
    """
    address = signer_address(ctx)
    chain_id = int(await read(ctx.w3.eth.chain_id))
    async with advisory_lock(ctx.engine, sender_lock(chain_id, address)):
        async with ctx.sessions() as session:
            floor = await nonce_floor(session, chain_id, address)
        return await in_thread(ctx, lambda w3: work(w3, floor))


def transact(
    w3: Web3, key: str, name: str, address: str, method: str, *args: Any, nonce_floor: int = 0
) -> tuple[str, int]:
    """Send `name(address).method(*args)` from the signer (inside `signer_thread`).

    Returns the mined transaction's (hash, block number).
    """
    fn = getattr(contract(w3, name, address).functions, method)(*args)
    with _SEND_LOCK:
        pending = w3.eth.get_transaction_count(account(key).address, "pending")
        receipt = send(w3, key, fn, nonce=max(pending, nonce_floor))
    return "0x" + bytes(receipt["transactionHash"]).hex(), int(receipt["blockNumber"])


def bound(ctx: AppContext, name: str, address: str) -> Any:
    """An async contract object on the context's AsyncWeb3."""
    return ctx.w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(name).abi)


def erc20(ctx: AppContext, address: str, abi: list[dict[str, Any]] = ERC20_ABI) -> Any:
    return ctx.w3.eth.contract(address=to_checksum_address(address), abi=abi)


async def read(awaitable: Awaitable[T]) -> T:
    """Await a view call; a node that does not answer is 503, a revert stays a revert."""
    try:
        return await awaitable
    except ContractLogicError:
        raise
    except _NETWORK_ERRORS as exc:
        raise unavailable(exc) from exc


def bytes32(hex_value: str) -> bytes:
    return bytes.fromhex(hex_value.removeprefix("0x"))
