"""PasskeyAccount.execute: a WebAuthn assertion over the EIP-712 digest runs the calls."""

from __future__ import annotations

import hashlib

import ape
import pytest
from ape import chain

from backend.accounts import eip712, webauthn
from backend.chain.deploy import P256_PRECOMPILE, P256_PROBE_INPUT
from tests.contracts.account.conftest import deadline_in, digest_of, transfer_call
from tests.contracts.conftest import events, random_address, random_bytes32


def test_precompile__valid_signature_returns_one_on_the_test_chain(passkey):
    a = passkey.assertion(random_bytes32())
    message = hashlib.sha256(a.authenticator_data + hashlib.sha256(a.client_data_json).digest())
    r, s = webauthn.signature_rs(a.signature_der)
    data = message.digest() + b"".join(v.to_bytes(32, "big") for v in (r, s, passkey.x, passkey.y))
    web3 = chain.provider.web3
    assert int.from_bytes(web3.eth.call({"to": P256_PRECOMPILE, "data": data}), "big") == 1
    probe = web3.eth.call({"to": P256_PRECOMPILE, "data": P256_PROBE_INPUT})
    assert int.from_bytes(probe, "big") == 1
    tampered = data[:31] + bytes([data[31] ^ 1]) + data[32:]
    assert web3.eth.call({"to": P256_PRECOMPILE, "data": tampered}) == b""


def test_execute__passkey_signed_transfer__moves_tokens_and_logs(
    funded_account, passkey, token, execute
):
    friend = random_address()
    before = token.balanceOf(funded_account)
    receipt = execute(funded_account, passkey, [transfer_call(token, friend, 1234)], nonce=7)
    assert token.balanceOf(friend) == 1234
    assert token.balanceOf(funded_account) == before - 1234
    assert funded_account.isNonceUsed(7) is True
    assert funded_account.isNonceUsed(6) is False
    assert events(receipt) == [
        ("Transfer", {"sender": funded_account.address, "receiver": friend, "value": 1234}),
        ("Executed", {"nonce": 7, "count": 1}),
    ]


def test_execute__several_calls_with_eth__run_in_order(
    funded_account, passkey, token, execute, deployer
):
    deployer.transfer(funded_account, 10**18)
    friend, other = random_address(), random_address()
    calls = [
        transfer_call(token, friend, 5),
        (friend, 3 * 10**17, b""),
        transfer_call(token, other, 7),
    ]
    receipt = execute(funded_account, passkey, calls, nonce=300)
    assert (token.balanceOf(friend), token.balanceOf(other)) == (5, 7)
    assert chain.provider.get_balance(friend) == 3 * 10**17
    assert chain.provider.get_balance(funded_account.address) == 7 * 10**17
    assert events(receipt) == [
        ("Transfer", {"sender": funded_account.address, "receiver": friend, "value": 5}),
        ("Transfer", {"sender": funded_account.address, "receiver": other, "value": 7}),
        ("Executed", {"nonce": 300, "count": 3}),
    ]


def test_execute__no_calls__burns_the_nonce(account, passkey, execute):
    receipt = execute(account, passkey, [], nonce=2**255)
    assert account.isNonceUsed(2**255) is True
    assert events(receipt) == [("Executed", {"nonce": 2**255, "count": 0})]


def test_execute__used_nonce__reverts(funded_account, passkey, token, execute):
    execute(funded_account, passkey, [transfer_call(token, random_address(), 1)], nonce=1)
    with ape.reverts("account: nonce used"):
        execute(funded_account, passkey, [transfer_call(token, random_address(), 1)], nonce=1)


def test_execute__same_operation_replayed__reverts(
    funded_account, passkey, token, execute, stranger
):
    calls = [transfer_call(token, random_address(), 1)]
    deadline = deadline_in()
    auth = passkey.auth(digest_of(funded_account, calls, 9, deadline))
    funded_account.execute(calls, 9, deadline, auth, sender=stranger)
    with ape.reverts("account: nonce used"):
        funded_account.execute(calls, 9, deadline, auth, sender=stranger)


def test_execute__past_deadline__reverts(funded_account, passkey, token, execute):
    deadline = chain.pending_timestamp - 1
    with ape.reverts("account: expired"):
        execute(
            funded_account, passkey, [transfer_call(token, random_address(), 1)], deadline=deadline
        )


def test_execute__deadline_is_inclusive(account, passkey, execute):
    deadline = chain.pending_timestamp + 5
    chain.pending_timestamp = deadline
    execute(account, passkey, [], nonce=11, deadline=deadline)
    assert account.isNonceUsed(11)


def test_execute__a_failing_call__reverts_everything(funded_account, passkey, token, execute):
    friend = random_address()
    balance = token.balanceOf(funded_account)
    calls = [transfer_call(token, friend, 10), transfer_call(token, friend, balance)]
    with ape.reverts("account: call failed"):
        execute(funded_account, passkey, calls, nonce=4)
    assert token.balanceOf(friend) == 0
    assert token.balanceOf(funded_account) == balance
    assert funded_account.isNonceUsed(4) is False


def test_execute__anyone_may_relay(funded_account, passkey, token, users):
    friend = random_address()
    calls = [transfer_call(token, friend, 3)]
    deadline = deadline_in()
    auth = passkey.auth(digest_of(funded_account, calls, 0, deadline))
    funded_account.execute(calls, 0, deadline, auth, sender=users[0])
    assert token.balanceOf(friend) == 3


@pytest.mark.parametrize(
    "calls",
    [
        [],
        [("0x" + "11" * 20, 0, b"")],
        [("0x" + "22" * 20, 10**18, bytes(range(256)) * 4)],
        [(random_address(), i, bytes([i]) * i) for i in range(8)],
    ],
    ids=["empty", "one-empty-call", "max-calldata", "eight-calls"],
)
def test_execute_digest__equals_the_python_digest(account, calls):
    nonce, deadline = 2**200 + 5, 2**40
    assert account.executeDigest(calls, nonce, deadline) == eip712.execute_digest(
        chain.chain_id, str(account.address), calls, nonce, deadline
    )


DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"


def test_signed_hash_digest_and_domain__equal_the_python_ones(account):
    from eth_abi import encode
    from eth_utils import keccak

    hash32 = random_bytes32()
    assert account.signedHashDigest(hash32) == eip712.signed_hash_digest(
        chain.chain_id, str(account.address), hash32
    )
    domain = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(text=DOMAIN_TYPE),
                keccak(text="Cascade.PasskeyAccount"),
                keccak(text="1"),
                chain.chain_id,
                str(account.address),
            ],
        )
    )
    assert account.DOMAIN_SEPARATOR() == domain


def test_unknown_function__reverts_and_plain_eth_is_received(account, deployer):
    with ape.reverts("account: unknown function"):
        deployer.transfer(account, 0, data=b"\x12\x34\x56\x78")
    deployer.transfer(account, 12345)
    assert chain.provider.get_balance(account.address) == 12345
