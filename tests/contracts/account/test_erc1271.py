"""ERC-1271 isValidSignature: the same checks over SignedHash(hash) in the account's domain."""

from __future__ import annotations

from ape import chain

from backend.accounts import eip712
from tests.contracts.account.conftest import account_call
from tests.contracts.account.passkey import UP
from tests.contracts.conftest import random_bytes32

MAGIC = bytes.fromhex("1626ba7e")
INVALID = bytes.fromhex("ffffffff")


def _digest(account, hash32: bytes) -> bytes:
    return eip712.signed_hash_digest(chain.chain_id, str(account.address), hash32)


def test_passkey_signature__valid(account, passkey):
    hash32 = random_bytes32()
    assert account.isValidSignature(hash32, passkey.auth(_digest(account, hash32))) == MAGIC


def test_invalid_signatures__answer_ffffffff(account, passkey, other_passkey):
    hash32 = random_bytes32()
    digest = _digest(account, hash32)
    for auth in (
        passkey.auth(_digest(account, random_bytes32())),  # another hash
        passkey.auth(hash32),  # the raw hash, not the SignedHash digest
        other_passkey.auth(digest),  # not a signer
        passkey.auth(digest, flags=UP),  # UV clear
        passkey.auth(digest, rp_id="evil.test"),
        passkey.high_s_auth(digest),
    ):
        assert account.isValidSignature(hash32, auth) == INVALID


def test_signature_for_another_account__invalid(account, create_account, passkey):
    account_b = create_account(passkey, salt=7)
    hash32 = random_bytes32()
    auth = passkey.auth(_digest(account, hash32))
    assert account.isValidSignature(hash32, auth) == MAGIC
    assert account_b.isValidSignature(hash32, auth) == INVALID


def test_owner_signature__valid_once_added(account, passkey, execute, users):
    owner = users[0]
    hash32 = random_bytes32()
    auth = eip712.sign_digest(owner.private_key, _digest(account, hash32))
    assert account.isValidSignature(hash32, auth) == INVALID
    execute(account, passkey, [account_call(account, "addOwner", owner.address)], nonce=1)
    assert account.isValidSignature(hash32, auth) == MAGIC
