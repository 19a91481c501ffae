"""Sign-In with Ethereum (EIP-4361) messages and their signatures.

The backend writes the message, keeps it server-side, and only checks that the
wallet signed exactly that text: EOAs by EIP-191 recovery, contract wallets
(smart accounts) by EIP-1271 `isValidSignature` on-chain.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_utils import to_checksum_address
from web3.exceptions import ContractLogicError, Web3RPCError

from backend.core.errors import Unavailable

EIP1271_SELECTOR = bytes.fromhex("1626ba7e")  # isValidSignature(bytes32,bytes)
EIP1271_MAGIC = EIP1271_SELECTOR  # the function returns its own selector on success
STATEMENT = "Bind this wallet to a passkey for Cascade rewards."


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime
    statement: str = STATEMENT

    def text(self) -> str:
        """The exact EIP-4361 text the wallet signs."""
        return (
            f"{self.domain} wants you to sign in with your Ethereum account:\n"
            f"{to_checksum_address(self.address)}\n"
            "\n"
            f"{self.statement}\n"
            "\n"
            f"URI: {self.uri}\n"
            "Version: 1\n"
            f"Chain ID: {self.chain_id}\n"
            f"Nonce: {self.nonce}\n"
            f"Issued At: {_rfc3339(self.issued_at)}\n"
            f"Expiration Time: {_rfc3339(self.expiration_time)}"
        )


def new_nonce() -> str:
    """EIP-4361 nonces are at least 8 alphanumeric characters; this one has ~131 bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(22))


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _hex_bytes(signature: str) -> bytes | None:
    raw = signature[2:] if signature.startswith(("0x", "0X")) else signature
    try:
        return bytes.fromhex(raw)
    except ValueError:
        return None


def recovers_to(message: str, signature: str, wallet: str) -> bool:
    """EIP-191 personal_sign: does the signature recover to `wallet`?"""
    sig = _hex_bytes(signature)
    if sig is None or len(sig) != 65:
        return False
    try:
        signer = Account.recover_message(encode_defunct(text=message), signature=sig)
    except Exception:  # malformed r/s/v: simply not this wallet's signature
        return False
    return bool(signer == to_checksum_address(wallet))


async def contract_accepts(w3: Any, message: str, signature: str, wallet: str) -> bool:
    """EIP-1271: a contract wallet says the EIP-191 hash of `message` was signed by it."""
    sig = _hex_bytes(signature)
    if sig is None:
        return False
    address = to_checksum_address(wallet)
    try:
        code = await w3.eth.get_code(address)
    except Exception as exc:
        raise Unavailable("the chain node is unreachable", code="chain_unavailable") from exc
    if not code:
        return False
    digest = _hash_eip191_message(encode_defunct(text=message))
    call_data = EIP1271_SELECTOR + abi_encode(["bytes32", "bytes"], [digest, sig])
    try:
        answer = await w3.eth.call({"to": address, "data": "0x" + call_data.hex()})
    except (ContractLogicError, Web3RPCError, ValueError):
        return False  # a revert is a refusal: isValidSignature may revert on bad input
    except Exception as exc:
        raise Unavailable("the chain node is unreachable", code="chain_unavailable") from exc
    return bytes(answer)[:4] == EIP1271_MAGIC


async def verify_wallet_signature(w3: Any, message: str, signature: str, wallet: str) -> str | None:
    """How `wallet` proved it signed `message`: "eip191", "eip1271", or None (it did not)."""
    if recovers_to(message, signature, wallet):
        return "eip191"
    if await contract_accepts(w3, message, signature, wallet):
        return "eip1271"
    return None
