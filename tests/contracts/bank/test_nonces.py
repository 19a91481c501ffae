"""ProductBank.cancelNonces: a signed batch whose nonce is burnt can never pay."""

from __future__ import annotations

import ape
from ape import accounts

from tests.contracts.conftest import (
    DISTRIBUTOR_ROLE,
    MANAGER_ROLE,
    events,
    hexb,
    random_bytes32,
)

UNUSED, PAID, CANCELLED = 0, 1, 2


def test_cancel__before_push__the_batch_can_never_pay(
    funded_bank, push_pull, signer, token, campaign_id, sign_batch, users
):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    nonce, other = args[3], random_bytes32()
    assert funded_bank.nonceState(nonce) == UNUSED

    receipt = funded_bank.cancelNonces([nonce, other], sender=signer)

    assert events(receipt) == [
        ("NonceCancelled", {"nonce": hexb(nonce), "sender": signer.address}),
        ("NonceCancelled", {"nonce": hexb(other), "sender": signer.address}),
    ]
    assert funded_bank.nonceState(nonce) == CANCELLED
    assert funded_bank.isNonceUsed(nonce) is True
    with ape.reverts("bank: nonce used"):
        funded_bank.pushRewards(*args, sender=users[0])
    assert push_pull.getPendingAmount(token, users[0]) == 0


def test_cancel__paid_or_cancelled_nonce__is_a_no_op(
    funded_bank, signer, token, campaign_id, sign_batch, users
):
    paid = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    funded_bank.pushRewards(*paid, sender=signer)
    assert funded_bank.nonceState(paid[3]) == PAID
    cancelled = random_bytes32()
    funded_bank.cancelNonces([cancelled], sender=signer)

    receipt = funded_bank.cancelNonces([paid[3], cancelled, cancelled], sender=signer)

    assert events(receipt) == []
    assert funded_bank.nonceState(paid[3]) == PAID
    assert funded_bank.nonceState(cancelled) == CANCELLED


def test_cancel__the_same_nonce_twice_in_one_call__one_event(funded_bank, signer):
    nonce = random_bytes32()
    receipt = funded_bank.cancelNonces([nonce, nonce], sender=signer)
    assert events(receipt) == [("NonceCancelled", {"nonce": hexb(nonce), "sender": signer.address})]


def test_cancel__distributor_manager_or_owner_only(bank, product_owner, stranger):
    nonce = random_bytes32()
    with ape.reverts("bank: not authorised"):
        bank.cancelNonces([nonce], sender=stranger)
    assert bank.nonceState(nonce) == UNUSED

    distributor, manager = accounts.test_accounts[8], accounts.test_accounts[9]
    bank.grantRole(DISTRIBUTOR_ROLE, distributor, sender=product_owner)
    bank.grantRole(MANAGER_ROLE, manager, sender=product_owner)
    for who in (distributor, manager, product_owner):
        mine = random_bytes32()
        bank.cancelNonces([mine], sender=who)
        assert bank.nonceState(mine) == CANCELLED

    # A revoked distributor has no say any more.
    bank.revokeRole(DISTRIBUTOR_ROLE, distributor, sender=product_owner)
    with ape.reverts("bank: not authorised"):
        bank.cancelNonces([random_bytes32()], sender=distributor)


def test_cancel__works_while_paused(funded_bank, product_owner, signer):
    funded_bank.pause(sender=product_owner)
    nonce = random_bytes32()
    funded_bank.cancelNonces([nonce], sender=signer)
    assert funded_bank.nonceState(nonce) == CANCELLED


def test_cancel__at_most_64_per_call(bank, signer):
    bank.cancelNonces([random_bytes32() for _ in range(64)], sender=signer)
    with ape.reverts():
        bank.cancelNonces([random_bytes32() for _ in range(65)], sender=signer)
