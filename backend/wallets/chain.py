"""What the wallet page reads from the chain: ERC-20 balances and whether an account has code."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from eth_utils import to_checksum_address

# the one ERC-20 function the balances need; every token a product registers has it
ERC20_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "balanceOf",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
]


async def balances(w3: Any, tokens: Sequence[str], wallet: str) -> dict[str, int | None]:
    """token -> balanceOf(wallet) at the latest block; None where the token does not answer."""

    async def one(token: str) -> int | None:
        contract = w3.eth.contract(address=to_checksum_address(token), abi=ERC20_ABI)
        try:
            return int(await contract.functions.balanceOf(wallet).call())
        except Exception:  # no code, a revert, garbage: that token is left out, not the page
            return None

    values = await asyncio.gather(*(one(token) for token in tokens))
    return dict(zip(tokens, values, strict=True))


async def has_code(w3: Any, address: str) -> bool:
    """A passkey account has code once its first send deployed it."""
    return len(bytes(await w3.eth.get_code(to_checksum_address(address)))) > 0
