"""backend.accounts.eip712: digests follow EIP-712 by hand, and refuse bad input."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

from backend.accounts import eip712

ACCOUNT = "0x" + "ab" * 20
TARGET = "0x" + "cd" * 20


def _domain(chain_id: int, account: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(
                    text="EIP712Domain(string name,string version,uint256 chainId,"
                    "address verifyingContract)"
                ),
                keccak(text="Cascade.PasskeyAccount"),
                keccak(text="1"),
                chain_id,
                account,
            ],
        )
    )


def _execute_by_hand(chain_id, account, calls, nonce, deadline) -> bytes:
    call_type = keccak(text="Call(address target,uint256 value,bytes data)")
    call_hashes = b"".join(
        keccak(encode(["bytes32", "address", "uint256", "bytes32"], [call_type, t, v, keccak(d)]))
        for t, v, d in calls
    )
    execute_type = keccak(
        text="Execute(Call[] calls,uint256 nonce,uint256 deadline)"
        "Call(address target,uint256 value,bytes data)"
    )
    struct = keccak(
        encode(
            ["bytes32", "bytes32", "uint256", "uint256"],
            [execute_type, keccak(call_hashes), nonce, deadline],
        )
    )
    return keccak(b"\x19\x01" + _domain(chain_id, account) + struct)


@pytest.mark.parametrize(
    "calls",
    [[], [(TARGET, 0, b"")], [(TARGET, 5, b"\x01\x02"), (ACCOUNT, 0, bytes(1024))]],
    ids=["none", "one", "two"],
)
def test_execute_digest__matches_eip712_by_hand(calls):
    assert eip712.execute_digest(8453, ACCOUNT, calls, 3, 10**10) == _execute_by_hand(
        8453, ACCOUNT, calls, 3, 10**10
    )


def test_execute_digest__binds_chain_account_nonce_deadline_and_calls():
    base = eip712.execute_digest(1, ACCOUNT, [(TARGET, 1, b"x")], 0, 100)
    assert len(base) == 32
    others = {
        eip712.execute_digest(2, ACCOUNT, [(TARGET, 1, b"x")], 0, 100),
        eip712.execute_digest(1, TARGET, [(TARGET, 1, b"x")], 0, 100),
        eip712.execute_digest(1, ACCOUNT, [(TARGET, 1, b"x")], 1, 100),
        eip712.execute_digest(1, ACCOUNT, [(TARGET, 1, b"x")], 0, 101),
        eip712.execute_digest(1, ACCOUNT, [(TARGET, 2, b"x")], 0, 100),
        eip712.execute_digest(1, ACCOUNT, [(TARGET, 1, b"y")], 0, 100),
    }
    assert base not in others and len(others) == 6


def test_signed_hash_digest__matches_eip712_by_hand():
    hash32 = bytes(range(32))
    struct = keccak(
        encode(["bytes32", "bytes32"], [keccak(text="SignedHash(bytes32 hash)"), hash32])
    )
    expected = keccak(b"\x19\x01" + _domain(10, ACCOUNT) + struct)
    assert eip712.signed_hash_digest(10, ACCOUNT, hash32) == expected
    with pytest.raises(ValueError):
        eip712.signed_hash_digest(10, ACCOUNT, b"\x00" * 31)


def test_sign_digest__65_bytes_recoverable_low_s():
    key = Account.create()
    digest = eip712.execute_digest(1, ACCOUNT, [], 0, 1)
    signature = eip712.sign_digest(key.key, digest)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert (
        int.from_bytes(signature[32:64], "big")
        <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
    )
    assert Account._recover_hash(digest, signature=signature) == key.address


@pytest.mark.parametrize(
    "calls, nonce",
    [
        ([("not-an-address", 0, b"")], 0),
        ([(TARGET, -1, b"")], 0),
        ([(TARGET, 0, bytes(1025))], 0),
        ([(TARGET, 0, b"")] * 9, 0),
        ([], 2**256),
    ],
    ids=["address", "negative-value", "calldata-too-long", "too-many-calls", "nonce-range"],
)
def test_execute_digest__bad_input_refused(calls, nonce):
    with pytest.raises(ValueError):
        eip712.execute_digest(1, ACCOUNT, calls, nonce, 1)
