"""Calls the relayer makes and reads: pending rewards, contracts, calldata.

Thin on purpose, like backend.settlement.chain: decisions live in policy and service.
Reads go through the app's AsyncWeb3; calldata is encoded locally from the ABIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from backend.chain.artifacts import load_artifact

MAX_TOKENS = 64  # MultiTokenPushPull's DynArray bound
TRANSFER_SELECTOR = function_signature_to_4byte_selector("transfer(address,uint256)")


@cache
def _abi(name: str) -> list[dict[str, Any]]:
    return load_artifact(name).abi


def push_pull(w3: Any, address: str) -> Any:
    return w3.eth.contract(address=to_checksum_address(address), abi=_abi("MultiTokenPushPull"))


def account_factory(w3: Any, address: str) -> Any:
    return w3.eth.contract(address=to_checksum_address(address), abi=_abi("PasskeyAccountFactory"))


def passkey_account(w3: Any, address: str) -> Any:
    return w3.eth.contract(address=to_checksum_address(address), abi=_abi("PasskeyAccount"))


def calldata(contract: Any, function: str, args: Sequence[Any]) -> bytes:
    return bytes.fromhex(str(contract.encode_abi(function, args=list(args)))[2:])


async def pending_amounts(
    w3: Any, push_pull_address: str, tokens: Sequence[str], wallet: str
) -> dict[str, int]:
    """token -> what `wallet` can claim now (latest block), asked in chunks of MAX_TOKENS."""
    contract = push_pull(w3, push_pull_address)
    out: dict[str, int] = {}
    for start in range(0, len(tokens), MAX_TOKENS):
        chunk = list(tokens[start : start + MAX_TOKENS])
        amounts = await contract.functions.getPendingAmounts(chunk, wallet).call()
        out.update({token: int(amount) for token, amount in zip(chunk, amounts, strict=True)})
    return out


def transfer_call(token: str, to: str, amount: int) -> tuple[str, int, bytes]:
    """(target, value, data) of ERC-20 transfer(to, amount) sent by the account."""
    data = TRANSFER_SELECTOR + encode(["address", "uint256"], [to_checksum_address(to), amount])
    return to_checksum_address(token), 0, data
