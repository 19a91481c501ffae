"""The EIP-712 digests a PasskeyAccount checks: Execute (an operation) and SignedHash (ERC-1271).

Hashing is eth-account's `encode_typed_data`, not hand-rolled here, so the
contract (PasskeyAccount.executeDigest / signedHashDigest) is checked against an
independent implementation by tests/contracts/account.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import is_address, keccak, to_checksum_address

DOMAIN_NAME = "Cascade.PasskeyAccount"
DOMAIN_VERSION = "1"
MAX_CALLS = 8  # PasskeyAccount.MAX_CALLS
MAX_CALLDATA = 1024  # PasskeyAccount.MAX_CALLDATA
UINT256_MAX = 2**256 - 1

# Field order is part of the signed type strings: it must match PasskeyAccount.vy.
_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
EXECUTE_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": _DOMAIN_TYPE,
    "Execute": [
        {"name": "calls", "type": "Call[]"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Call": [
        {"name": "target", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "data", "type": "bytes"},
    ],
}
SIGNED_HASH_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": _DOMAIN_TYPE,
    "SignedHash": [{"name": "hash", "type": "bytes32"}],
}

Call = tuple[str, int, bytes]  # (target, value in wei, calldata)


def domain(chain_id: int, account: str) -> dict[str, Any]:
    """The domain of one account on one chain: an authorisation is valid there only."""
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": _uint(chain_id, "chain_id"),
        "verifyingContract": _address(account, "account"),
    }


def execute_typed_data(
    chain_id: int, account: str, calls: Sequence[Call], nonce: int, deadline: int
) -> dict[str, Any]:
    """The typed data of an operation (what an owner EOA's eth_signTypedData_v4 signs)."""
    if len(calls) > MAX_CALLS:
        raise ValueError(f"an operation holds at most {MAX_CALLS} calls, got {len(calls)}")
    return {
        "types": EXECUTE_TYPES,
        "primaryType": "Execute",
        "domain": domain(chain_id, account),
        "message": {
            "calls": [_call(call) for call in calls],
            "nonce": _uint(nonce, "nonce"),
            "deadline": _uint(deadline, "deadline"),
        },
    }


def execute_digest(
    chain_id: int, account: str, calls: Sequence[Call], nonce: int, deadline: int
) -> bytes:
    """The digest `execute` checks (PasskeyAccount.executeDigest): the WebAuthn challenge."""
    return _digest(execute_typed_data(chain_id, account, calls, nonce, deadline))


def signed_hash_digest(chain_id: int, account: str, hash32: bytes) -> bytes:
    """The digest a signer signs so that isValidSignature(hash32, ...) accepts it."""
    if not isinstance(hash32, bytes | bytearray) or len(hash32) != 32:
        raise ValueError(f"hash must be 32 bytes, got {hash32!r}")
    return _digest(
        {
            "types": SIGNED_HASH_TYPES,
            "primaryType": "SignedHash",
            "domain": domain(chain_id, account),
            "message": {"hash": bytes(hash32)},
        }
    )


def sign_digest(private_key: str | bytes, digest: bytes) -> bytes:
    """An owner EOA's 65-byte auth (r ‖ s ‖ v, v in {27, 28}, low s) over a digest."""
    if len(digest) != 32:
        raise ValueError("digest must be 32 bytes")
    return bytes(Account.unsafe_sign_hash(digest, private_key).signature)


def _digest(typed_data: dict[str, Any]) -> bytes:
    message = encode_typed_data(full_message=typed_data)
    return keccak(b"\x19" + message.version + message.header + message.body)


def _call(call: Call) -> dict[str, Any]:
    target, value, data = call
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_CALLDATA:
        raise ValueError(f"call data must be bytes of at most {MAX_CALLDATA}, got {data!r}")
    return {
        "target": _address(target, "call target"),
        "value": _uint(value, "call value"),
        "data": bytes(data),
    }


def _address(value: str, what: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"{what} must be a 20-byte hex address, got {value!r}")
    return str(to_checksum_address(value))


def _uint(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
        raise ValueError(f"{what} must be an int in uint256 range, got {value!r}")
    return value
