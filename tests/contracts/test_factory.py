"""ProductBankFactory: deterministic banks, roles, pusher authorisation."""

from __future__ import annotations

import ape
from ape import project

from tests.contracts.conftest import (
    DISTRIBUTOR_ROLE,
    MANAGER_ROLE,
    ZERO_ADDRESS,
    events,
    hexb,
    random_bytes32,
)


def test_deploy_bank__at_predicted_address_with_roles_and_pusher(
    factory, push_pull, signer, product_owner
):
    product_id = random_bytes32()
    predicted = factory.predictBankAddress(product_id)
    receipt = factory.deployBank(product_id, product_owner, sender=signer)
    assert receipt.return_value == predicted
    assert factory.bankOf(product_id) == predicted
    bank = project.ProductBank.at(predicted)
    assert bank.productId() == product_id
    assert bank.owner() == product_owner.address
    assert bank.hasRole(MANAGER_ROLE, signer) and bank.hasRole(DISTRIBUTOR_ROLE, signer)
    assert push_pull.isPusher(bank) is True
    assert events(receipt) == [
        (
            "OwnershipTransferred",
            {"previousOwner": ZERO_ADDRESS, "newOwner": product_owner.address},
        ),
        (
            "RoleGranted",
            {"role": hexb(MANAGER_ROLE), "account": signer.address, "sender": factory.address},
        ),
        (
            "RoleGranted",
            {"role": hexb(DISTRIBUTOR_ROLE), "account": signer.address, "sender": factory.address},
        ),
        ("PusherAuthorised", {"pusher": predicted, "authorisedBy": factory.address}),
        (
            "BankDeployed",
            {
                "productId": hexb(product_id),
                "bank": predicted,
                "owner": product_owner.address,
                "signer": signer.address,
            },
        ),
    ]
    assert factory.bankParams() == (b"\x00" * 32, ZERO_ADDRESS, ZERO_ADDRESS, ZERO_ADDRESS)


def test_prediction_depends_on_product_id_only(factory, deployer, signer, product_owner, stranger):
    product_id = random_bytes32()
    predicted = factory.predictBankAddress(product_id)
    assert factory.predictBankAddress(random_bytes32()) != predicted
    factory.deployBank(product_id, stranger, sender=deployer)  # another owner, same address
    assert factory.bankOf(product_id) == predicted


def test_deploy_bank__second_deploy_of_a_product_reverts(factory, signer, product_owner, stranger):
    product_id = random_bytes32()
    factory.deployBank(product_id, product_owner, sender=signer)
    with ape.reverts("factory: bank exists"):
        factory.deployBank(product_id, stranger, sender=signer)


def test_deploy_bank__reverts(factory, stranger, signer, product_owner):
    with ape.reverts("factory: not authorised"):
        factory.deployBank(random_bytes32(), product_owner, sender=stranger)
    with ape.reverts("factory: empty product id"):
        factory.deployBank(b"\x00" * 32, product_owner, sender=signer)
    with ape.reverts("factory: zero owner"):
        factory.deployBank(random_bytes32(), ZERO_ADDRESS, sender=signer)


def test_deploy_bank__unregistered_factory_cannot_authorise(
    deployer, signer, push_pull, bank_blueprint, bank_initcode_hash, product_owner
):
    lone = project.ProductBankFactory.deploy(
        push_pull, bank_blueprint, bank_initcode_hash, signer, sender=deployer
    )
    with ape.reverts("pushpull: not authoriser"):
        lone.deployBank(random_bytes32(), product_owner, sender=signer)


def test_wrong_initcode_hash__deploy_reverts(
    deployer, signer, push_pull, bank_blueprint, product_owner
):
    wrong = project.ProductBankFactory.deploy(
        push_pull, bank_blueprint, random_bytes32(), signer, sender=deployer
    )
    push_pull.setFactory(wrong, sender=deployer)
    with ape.reverts("factory: initcode hash mismatch"):
        wrong.deployBank(random_bytes32(), product_owner, sender=signer)


def test_constructor__reverts(deployer, signer, push_pull, bank_blueprint, bank_initcode_hash):
    with ape.reverts("factory: zero push pull"):
        project.ProductBankFactory.deploy(
            ZERO_ADDRESS, bank_blueprint, bank_initcode_hash, signer, sender=deployer
        )
    with ape.reverts("factory: no blueprint"):
        project.ProductBankFactory.deploy(
            push_pull, signer, bank_initcode_hash, signer, sender=deployer
        )
    with ape.reverts("factory: zero signer"):
        project.ProductBankFactory.deploy(
            push_pull, bank_blueprint, bank_initcode_hash, ZERO_ADDRESS, sender=deployer
        )


def test_bank_cannot_be_deployed_outside_the_factory(deployer, push_pull):
    # The constructor reads its parameters from the deployer: an EOA has none.
    with ape.reverts():
        project.ProductBank.deploy(sender=deployer)
    lone = project.ProductBankFactory.deploy(
        push_pull, push_pull, b"\x01" * 32, deployer, sender=deployer
    )
    assert lone.bankParams()[1] == ZERO_ADDRESS


def test_set_signer__owner_only_applies_to_new_banks(
    factory, deployer, signer, stranger, product_owner
):
    with ape.reverts("ownable: not owner"):
        factory.setSigner(stranger, sender=signer)
    with ape.reverts("factory: zero signer"):
        factory.setSigner(ZERO_ADDRESS, sender=deployer)
    receipt = factory.setSigner(stranger, sender=deployer)
    assert events(receipt) == [
        ("SignerChanged", {"previousSigner": signer.address, "newSigner": stranger.address})
    ]
    product_id = random_bytes32()
    factory.deployBank(product_id, product_owner, sender=stranger)
    bank = project.ProductBank.at(factory.bankOf(product_id))
    assert bank.hasRole(DISTRIBUTOR_ROLE, stranger) is True
    assert bank.hasRole(DISTRIBUTOR_ROLE, signer) is False
    with ape.reverts("factory: not authorised"):
        factory.deployBank(random_bytes32(), product_owner, sender=signer)
