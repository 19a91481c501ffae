"""Every WebAuthn check refuses real bytes that break it, and only it.

Each assertion below is signed by the passkey over exactly the bytes sent (the
P-256 signature is valid), so a missing check would let the operation through.
"""

from __future__ import annotations

import hashlib

import ape
import pytest
from ape import chain
from eth_abi import decode, encode

from backend.accounts import webauthn
from backend.chain.deploy import P256_PRECOMPILE
from tests.contracts.account.conftest import (
    account_call,
    deadline_in,
    digest_of,
    transfer_call,
)
from tests.contracts.account.passkey import UP, UV, SoftPasskey
from tests.contracts.conftest import random_address


@pytest.fixture
def operation(funded_account, token):
    """A transfer of 1 token to a fresh address: (calls, nonce, deadline, digest, friend)."""
    friend = random_address()
    calls = [transfer_call(token, friend, 1)]
    deadline = deadline_in()
    return calls, 5, deadline, digest_of(funded_account, calls, 5, deadline), friend


def _refused(account, operation, auth, stranger, token):
    calls, nonce, deadline, _, friend = operation
    with ape.reverts("account: bad auth"):
        account.execute(calls, nonce, deadline, auth, sender=stranger)
    assert token.balanceOf(friend) == 0
    assert account.isNonceUsed(nonce) is False


def test_control__the_unbent_assertion_passes(funded_account, passkey, operation, stranger, token):
    calls, nonce, deadline, digest, friend = operation
    funded_account.execute(calls, nonce, deadline, passkey.auth(digest), sender=stranger)
    assert token.balanceOf(friend) == 1


def test_wrong_challenge__refused(funded_account, passkey, operation, stranger, token):
    other_digest = digest_of(funded_account, operation[0], operation[1] + 1, operation[2])
    _refused(funded_account, operation, passkey.auth(other_digest), stranger, token)


def test_challenge_of_another_amount__refused(funded_account, passkey, operation, stranger, token):
    calls, nonce, deadline, _, friend = operation
    bigger = digest_of(funded_account, [transfer_call(token, friend, 10**6)], nonce, deadline)
    _refused(funded_account, operation, passkey.auth(bigger), stranger, token)


def test_uv_clear__refused(funded_account, passkey, operation, stranger, token):
    _refused(funded_account, operation, passkey.auth(operation[3], flags=UP), stranger, token)


def test_up_clear__refused(funded_account, passkey, operation, stranger, token):
    _refused(funded_account, operation, passkey.auth(operation[3], flags=UV), stranger, token)


def test_other_rp_id_hash__refused(funded_account, passkey, operation, stranger, token):
    auth = passkey.auth(operation[3], rp_id="evil.test")
    _refused(funded_account, operation, auth, stranger, token)


def test_client_data_of_type_create__refused(funded_account, passkey, operation, stranger, token):
    assertion = passkey.assertion(operation[3], kind="webauthn.create")
    with pytest.raises(ValueError, match="webauthn.get"):
        webauthn.encode_auth(
            assertion.authenticator_data,
            assertion.client_data_json,
            assertion.signature_der,
            passkey.x,
            passkey.y,
        )
    _refused(funded_account, operation, passkey.raw(assertion), stranger, token)


def test_another_key__refused(funded_account, other_passkey, operation, stranger, token):
    _refused(funded_account, operation, other_passkey.auth(operation[3]), stranger, token)


def test_another_key_claiming_to_be_the_signer__refused(
    funded_account, passkey, other_passkey, operation, stranger, token
):
    """Another key signs, the auth names the account's passkey: the precompile says no."""
    assertion = other_passkey.assertion(operation[3])
    auth = webauthn.encode_auth(
        assertion.authenticator_data,
        assertion.client_data_json,
        assertion.signature_der,
        passkey.x,
        passkey.y,
    )
    _refused(funded_account, operation, auth, stranger, token)


def test_another_chain_id__refused(funded_account, passkey, operation, stranger, token):
    calls, nonce, deadline, _, _ = operation
    digest = digest_of(funded_account, calls, nonce, deadline, chain_id=chain.chain_id + 1)
    _refused(funded_account, operation, passkey.auth(digest), stranger, token)


def test_signature_for_account_a_replayed_on_account_b__refused(
    funded_account, create_account, passkey, stranger, token, signer
):
    """Same passkey, two accounts (salt 0 and 1): the account address is in the digest."""
    account_b = create_account(passkey, salt=1)
    token.mint(account_b, 10**6, sender=signer)
    friend = random_address()
    calls = [transfer_call(token, friend, 1)]
    deadline = deadline_in()
    auth_for_a = passkey.auth(digest_of(funded_account, calls, 0, deadline))
    with ape.reverts("account: bad auth"):
        account_b.execute(calls, 0, deadline, auth_for_a, sender=stranger)
    auth_for_b = passkey.auth(digest_of(account_b, calls, 0, deadline))
    with ape.reverts("account: bad auth"):
        funded_account.execute(calls, 0, deadline, auth_for_b, sender=stranger)
    account_b.execute(calls, 0, deadline, auth_for_b, sender=stranger)  # control
    assert token.balanceOf(friend) == 1


def test_high_s__refused(funded_account, passkey, operation, stranger, token):
    """(r, n - s) is a valid P-256 signature too (the precompile accepts it): low s only."""
    auth = passkey.high_s_auth(operation[3])
    fields = decode(webauthn.AUTH_TYPES, auth)
    message_input = _precompile_input(fields)
    answer = chain.provider.web3.eth.call({"to": P256_PRECOMPILE, "data": message_input})
    assert int.from_bytes(answer, "big") == 1
    _refused(funded_account, operation, auth, stranger, token)


def test_client_data_changed_after_signing__refused(
    funded_account, passkey, operation, stranger, token
):
    """The JSON still holds the right type and challenge, but not the signed bytes."""
    assertion = passkey.assertion(operation[3])
    tampered = assertion.client_data_json.replace(b"https://cascade.test", b"https://evil.test!!!")
    assert len(tampered) == len(assertion.client_data_json)
    auth = webauthn.encode_auth(
        assertion.authenticator_data, tampered, assertion.signature_der, passkey.x, passkey.y
    )
    _refused(funded_account, operation, auth, stranger, token)


def test_challenge_index_pointing_elsewhere__refused(
    funded_account, passkey, operation, stranger, token
):
    auth = _with_fields(passkey.auth(operation[3]), challenge_index=lambda i: i + 1)
    _refused(funded_account, operation, auth, stranger, token)


def test_type_index_pointing_elsewhere__refused(
    funded_account, passkey, operation, stranger, token
):
    auth = _with_fields(passkey.auth(operation[3]), type_index=lambda i: i + 1)
    _refused(funded_account, operation, auth, stranger, token)


def test_indexes_out_of_range__refused_not_reverted_oddly(
    funded_account, passkey, operation, stranger, token
):
    for bend in ({"challenge_index": lambda i: 2**255}, {"type_index": lambda i: 2**256 - 1}):
        auth = _with_fields(passkey.auth(operation[3]), **bend)
        _refused(funded_account, operation, auth, stranger, token)


def test_short_authenticator_data__refused(funded_account, passkey, operation, stranger, token):
    auth = _with_fields(passkey.auth(operation[3]), authenticator_data=lambda d: d[:36])
    _refused(funded_account, operation, auth, stranger, token)


def test_malformed_auth__reverts(funded_account, operation, stranger, token):
    calls, nonce, deadline, _, friend = operation
    with ape.reverts():
        funded_account.execute(calls, nonce, deadline, b"\x01" * 100, sender=stranger)
    assert token.balanceOf(friend) == 0


def test_removed_signer__refused(funded_account, passkey, other_passkey, execute, token, stranger):
    execute(
        funded_account,
        passkey,
        [account_call(funded_account, "addPasskey", *_xy(other_passkey))],
        nonce=1,
    )
    execute(
        funded_account,
        passkey,
        [account_call(funded_account, "removePasskey", *_xy(other_passkey))],
        nonce=2,
    )
    friend = random_address()
    calls = [transfer_call(token, friend, 1)]
    deadline = deadline_in()
    auth = other_passkey.auth(digest_of(funded_account, calls, 3, deadline))
    with ape.reverts("account: bad auth"):
        funded_account.execute(calls, 3, deadline, auth, sender=stranger)


def _xy(key: SoftPasskey) -> tuple[int, int]:
    return key.x, key.y


def _precompile_input(fields) -> bytes:
    authenticator_data, client_data_json, _, _, r, s, x, y = fields
    message = hashlib.sha256(authenticator_data + hashlib.sha256(client_data_json).digest())
    return message.digest() + b"".join(v.to_bytes(32, "big") for v in (r, s, x, y))


_FIELDS = (
    "authenticator_data",
    "client_data_json",
    "challenge_index",
    "type_index",
    "r",
    "s",
    "x",
    "y",
)


def _with_fields(auth: bytes, **bend) -> bytes:
    values = list(decode(webauthn.AUTH_TYPES, auth))
    for name, change in bend.items():
        index = _FIELDS.index(name)
        values[index] = change(values[index])
    return encode(webauthn.AUTH_TYPES, values)
