"""ProductBank roles: owner (two-step), manager, distributor; pause."""

from __future__ import annotations

import ape

from tests.contracts.conftest import (
    DISTRIBUTOR_ROLE,
    MANAGER_ROLE,
    ZERO_ADDRESS,
    events,
    hexb,
    random_bytes32,
)


def test_deploy__owner_and_backend_roles(
    bank, factory, push_pull, product_owner, signer, product_id
):
    assert bank.owner() == product_owner.address
    assert bank.productId() == product_id
    assert bank.pushPull() == push_pull.address
    assert bank.factory() == factory.address
    assert bank.hasRole(MANAGER_ROLE, signer) is True
    assert bank.hasRole(DISTRIBUTOR_ROLE, signer) is True
    assert bank.hasRole(MANAGER_ROLE, product_owner) is False
    assert bank.paused() is False
    assert bank.MANAGER_ROLE() == MANAGER_ROLE
    assert bank.DISTRIBUTOR_ROLE() == DISTRIBUTOR_ROLE


def test_grant_and_revoke_role__owner_only(bank, product_owner, stranger, signer):
    with ape.reverts("ownable: not owner"):
        bank.grantRole(MANAGER_ROLE, stranger, sender=signer)
    receipt = bank.grantRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)
    assert bank.hasRole(DISTRIBUTOR_ROLE, stranger) is True
    grant = {"role": hexb(DISTRIBUTOR_ROLE), "account": stranger.address}
    assert events(receipt) == [("RoleGranted", {**grant, "sender": product_owner.address})]
    with ape.reverts("ownable: not owner"):
        bank.revokeRole(DISTRIBUTOR_ROLE, stranger, sender=stranger)
    receipt = bank.revokeRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)
    assert bank.hasRole(DISTRIBUTOR_ROLE, stranger) is False
    assert events(receipt) == [("RoleRevoked", {**grant, "sender": product_owner.address})]


def test_grant_role__unknown_role_or_zero_account(bank, product_owner, stranger):
    with ape.reverts("bank: unknown role"):
        bank.grantRole(random_bytes32(), stranger, sender=product_owner)
    with ape.reverts("bank: unknown role"):
        bank.revokeRole(random_bytes32(), stranger, sender=product_owner)
    with ape.reverts("bank: zero account"):
        bank.grantRole(MANAGER_ROLE, ZERO_ADDRESS, sender=product_owner)


def test_owner_may_revoke_the_backend_signer(bank, product_owner, signer, campaign_id, token):
    bank.revokeRole(MANAGER_ROLE, signer, sender=product_owner)
    with ape.reverts("bank: not manager"):
        bank.allocateCampaignBudget(campaign_id, token, 0, 100, sender=signer)


def test_ownership__two_step_transfer(bank, product_owner, stranger):
    bank.transferOwnership(stranger, sender=product_owner)
    assert bank.owner() == product_owner.address
    assert bank.pendingOwner() == stranger.address
    with ape.reverts("ownable: not pending owner"):
        bank.acceptOwnership(sender=product_owner)
    bank.acceptOwnership(sender=stranger)
    assert bank.owner() == stranger.address
    with ape.reverts("ownable: not owner"):
        bank.pause(sender=product_owner)


def test_pause_and_unpause__owner_only(bank, product_owner, signer):
    with ape.reverts("ownable: not owner"):
        bank.pause(sender=signer)
    with ape.reverts("bank: not paused"):
        bank.unpause(sender=product_owner)
    receipt = bank.pause(sender=product_owner)
    assert bank.paused() is True
    assert events(receipt) == [("Paused", {"account": product_owner.address})]
    with ape.reverts("bank: paused"):
        bank.pause(sender=product_owner)
    with ape.reverts("ownable: not owner"):
        bank.unpause(sender=signer)
    receipt = bank.unpause(sender=product_owner)
    assert bank.paused() is False
    assert events(receipt) == [("Unpaused", {"account": product_owner.address})]


def test_pause_and_epoch__one_never_moves_the_other(bank, product_owner, signer):
    bank.pause(sender=product_owner)
    bank.revokeRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)
    assert (bank.paused(), bank.distributorEpoch()) == (True, 1)
    bank.unpause(sender=product_owner)
    assert (bank.paused(), bank.distributorEpoch()) == (False, 1)
    bank.grantRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)
    bank.revokeRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)
    bank.pause(sender=product_owner)
    assert (bank.paused(), bank.distributorEpoch()) == (True, 2)
