"""ProductBank constructor: the parameters it reads back from its deployer."""

from __future__ import annotations

import ape
from ape import project

from tests.contracts.conftest import ZERO_ADDRESS, random_bytes32


def test_constructor__refuses_unusable_params(
    deployer, signer, product_owner, stranger, push_pull, bank_blueprint
):
    stub = project.BankDeployer.deploy(sender=deployer)
    product_id = random_bytes32()

    receipt = stub.deploy(
        bank_blueprint, (product_id, product_owner, signer, push_pull), sender=deployer
    )
    bank = project.ProductBank.at(receipt.return_value)
    assert bank.pushPull() == push_pull.address
    assert bank.owner() == product_owner.address

    for owner, pusher in (
        (ZERO_ADDRESS, push_pull.address),
        (product_owner.address, ZERO_ADDRESS),
        # An address without code: pushRewards pays through a raw call, which
        # would succeed there without crediting anyone.
        (product_owner.address, stranger.address),
    ):
        with ape.reverts("bank: no deploy params"):
            stub.deploy(bank_blueprint, (product_id, owner, signer, pusher), sender=deployer)
