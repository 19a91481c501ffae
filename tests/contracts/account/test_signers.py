"""Signers: passkeys and owner EOAs, added and removed only through execute, never zero."""

from __future__ import annotations

import ape
import pytest
from ape import accounts, chain
from eth_utils import keccak

from backend.accounts import eip712
from tests.contracts.account.conftest import (
    RP_ID_HASH,
    account_call,
    deadline_in,
    digest_of,
    transfer_call,
)
from tests.contracts.account.passkey import SoftPasskey
from tests.contracts.conftest import events, random_address

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
REMOVED = keccak(text="Cascade.PasskeyAccount.removed")


def _add_passkey(account, signer_key, new_key, execute, nonce):
    return execute(
        account,
        signer_key,
        [account_call(account, "addPasskey", new_key.x, new_key.y)],
        nonce=nonce,
    )


def _owner_auth(private_key, account, calls, nonce, deadline) -> bytes:
    return eip712.sign_digest(private_key, digest_of(account, calls, nonce, deadline))


def test_new_account__one_passkey_signer(account, passkey, other_passkey):
    assert account.signerCount() == 1
    assert account.isPasskey(passkey.x, passkey.y) is True
    assert account.isPasskey(other_passkey.x, other_passkey.y) is False
    assert account.rpIdHash() == RP_ID_HASH


def test_add_passkey__the_new_key_signs(funded_account, passkey, other_passkey, execute, token):
    receipt = _add_passkey(funded_account, passkey, other_passkey, execute, nonce=1)
    assert events(receipt) == [
        ("PasskeyAdded", {"x": other_passkey.x, "y": other_passkey.y}),
        ("Executed", {"nonce": 1, "count": 1}),
    ]
    assert funded_account.signerCount() == 2
    assert funded_account.isPasskey(other_passkey.x, other_passkey.y) is True
    friend = random_address()
    execute(funded_account, other_passkey, [transfer_call(token, friend, 2)], nonce=2)
    assert token.balanceOf(friend) == 2


def test_add_passkey__twice__refused(account, passkey, other_passkey, execute):
    _add_passkey(account, passkey, other_passkey, execute, nonce=1)
    with ape.reverts("account: call failed"):
        _add_passkey(account, passkey, other_passkey, execute, nonce=2)
    with ape.reverts("account: call failed"):  # the creation key is a signer already
        _add_passkey(account, passkey, passkey, execute, nonce=3)
    assert account.signerCount() == 2


def test_add_passkey__point_off_the_curve__refused(account, passkey, execute):
    off_curve = [account_call(account, "addPasskey", passkey.x, passkey.y + 1)]
    with ape.reverts("account: call failed"):
        execute(account, passkey, off_curve, nonce=1)
    assert account.signerCount() == 1


def test_remove_passkey__events_count_and_the_key_no_longer_signs(
    funded_account, passkey, other_passkey, execute, token, stranger
):
    _add_passkey(funded_account, passkey, other_passkey, execute, nonce=1)
    call = account_call(funded_account, "removePasskey", other_passkey.x, other_passkey.y)
    receipt = execute(funded_account, passkey, [call], nonce=2)
    assert events(receipt) == [
        ("PasskeyRemoved", {"x": other_passkey.x, "y": other_passkey.y}),
        ("Executed", {"nonce": 2, "count": 1}),
    ]
    assert funded_account.signerCount() == 1
    assert funded_account.isPasskey(other_passkey.x, other_passkey.y) is False
    with ape.reverts("account: bad auth"):
        execute(funded_account, other_passkey, [transfer_call(token, random_address(), 1)], nonce=3)


def test_remove_creation_key__refused_later_and_revived_only_by_adding_it_again(
    funded_account, passkey, other_passkey, execute, token
):
    _add_passkey(funded_account, passkey, other_passkey, execute, nonce=1)
    removal = account_call(funded_account, "removePasskey", passkey.x, passkey.y)
    execute(funded_account, other_passkey, [removal], nonce=2)
    assert funded_account.isPasskey(passkey.x, passkey.y) is False
    with ape.reverts("account: bad auth"):
        execute(funded_account, passkey, [transfer_call(token, random_address(), 1)], nonce=3)
    _add_passkey(funded_account, other_passkey, passkey, execute, nonce=4)
    assert funded_account.isPasskey(passkey.x, passkey.y) is True
    friend = random_address()
    execute(funded_account, passkey, [transfer_call(token, friend, 1)], nonce=5)
    assert token.balanceOf(friend) == 1


def test_removed_key_signing_under_the_removed_marker__refused(
    account, passkey, other_passkey, execute, stranger
):
    """A removed slot holds a marker; signed bytes claiming that marker as rpIdHash fail."""
    _add_passkey(account, passkey, other_passkey, execute, nonce=1)
    removal = account_call(account, "removePasskey", other_passkey.x, other_passkey.y)
    execute(account, passkey, [removal], nonce=2)
    deadline = deadline_in()
    auth = other_passkey.auth(digest_of(account, [], 3, deadline), rp_id_hash=REMOVED)
    with ape.reverts("account: bad auth"):
        account.execute([], 3, deadline, auth, sender=stranger)


def test_last_signer__cannot_be_removed(account, passkey, execute, deployer):
    removal = account_call(account, "removePasskey", passkey.x, passkey.y)
    with ape.reverts("account: call failed"):
        execute(account, passkey, [removal], nonce=1)
    assert account.signerCount() == 1
    # The reason behind "call failed": the account itself calling (impersonated).
    deployer.transfer(account, 10**18)
    as_itself = accounts[account.address]
    with ape.reverts("account: last signer"):
        account.removePasskey(passkey.x, passkey.y, sender=as_itself)


def test_last_signer__an_owner_alone_cannot_be_removed_either(account, passkey, execute, users):
    owner = users[0]
    execute(account, passkey, [account_call(account, "addOwner", owner.address)], nonce=1)
    execute(
        account, passkey, [account_call(account, "removePasskey", passkey.x, passkey.y)], nonce=2
    )
    assert account.signerCount() == 1
    deadline = deadline_in()
    removal = [account_call(account, "removeOwner", owner.address)]
    auth = _owner_auth(owner.private_key, account, removal, 3, deadline)
    with ape.reverts("account: call failed"):
        account.execute(removal, 3, deadline, auth, sender=owner)
    assert account.isOwner(owner) is True


@pytest.mark.parametrize(
    "function, args",
    [
        ("addPasskey", "other"),
        ("removePasskey", "self"),
        ("addOwner", "address"),
        ("removeOwner", "address"),
    ],
)
def test_signer_management__not_through_execute__refused(
    account, passkey, other_passkey, stranger, function, args
):
    values = {
        "other": (other_passkey.x, other_passkey.y),
        "self": (passkey.x, passkey.y),
        "address": (stranger.address,),
    }[args]
    with ape.reverts("account: not self"):
        getattr(account, function)(*values, sender=stranger)


def test_owner__added_signs_with_65_bytes_and_is_removed(
    funded_account, passkey, execute, token, users, stranger
):
    owner = users[1]
    receipt = execute(
        funded_account, passkey, [account_call(funded_account, "addOwner", owner.address)], nonce=1
    )
    assert events(receipt) == [
        ("OwnerAdded", {"owner": owner.address}),
        ("Executed", {"nonce": 1, "count": 1}),
    ]
    assert funded_account.isOwner(owner) is True
    assert funded_account.signerCount() == 2
    friend = random_address()
    calls = [transfer_call(token, friend, 4)]
    deadline = deadline_in()
    auth = _owner_auth(owner.private_key, funded_account, calls, 2, deadline)
    assert len(auth) == 65
    funded_account.execute(calls, 2, deadline, auth, sender=stranger)
    assert token.balanceOf(friend) == 4

    receipt = execute(
        funded_account,
        passkey,
        [account_call(funded_account, "removeOwner", owner.address)],
        nonce=3,
    )
    assert events(receipt) == [
        ("OwnerRemoved", {"owner": owner.address}),
        ("Executed", {"nonce": 3, "count": 1}),
    ]
    assert funded_account.signerCount() == 1
    auth = _owner_auth(owner.private_key, funded_account, calls, 4, deadline)
    with ape.reverts("account: bad auth"):
        funded_account.execute(calls, 4, deadline, auth, sender=stranger)


def test_owner_signature__not_an_owner_high_s_or_bad_v__refused(
    account, passkey, execute, users, stranger
):
    owner, outsider = users[2], users[3]
    execute(account, passkey, [account_call(account, "addOwner", owner.address)], nonce=1)
    deadline = deadline_in()
    good = _owner_auth(owner.private_key, account, [], 2, deadline)
    r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # same signer, high s
    bad_v = good[:64] + bytes([v + 2])
    outsider_auth = _owner_auth(outsider.private_key, account, [], 2, deadline)
    for auth in (high_s, bad_v, outsider_auth):
        with ape.reverts("account: bad auth"):
            account.execute([], 2, deadline, auth, sender=stranger)
    account.execute([], 2, deadline, good, sender=stranger)  # control
    assert account.isNonceUsed(2)


def test_add_owner__zero_address_or_twice__refused(account, passkey, execute, users):
    zero = "0x" + "00" * 20
    with ape.reverts("account: call failed"):
        execute(account, passkey, [account_call(account, "addOwner", zero)], nonce=1)
    execute(account, passkey, [account_call(account, "addOwner", users[0].address)], nonce=2)
    with ape.reverts("account: call failed"):
        execute(account, passkey, [account_call(account, "addOwner", users[0].address)], nonce=3)
    assert account.signerCount() == 2


def test_account_with_salt_1__stores_its_key_and_works_the_same(
    create_account, token, signer, execute
):
    key = SoftPasskey.generate()
    account = create_account(key, salt=1)
    assert account.isPasskey(key.x, key.y) and account.signerCount() == 1
    token.mint(account, 100, sender=signer)
    friend = random_address()
    execute(account, key, [transfer_call(token, friend, 100)], nonce=0)
    assert token.balanceOf(friend) == 100
    assert chain.chain_id  # same chain as the salt-0 accounts
