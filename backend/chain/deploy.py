"""Deploy the contracts with web3.py: core (push-pull + factory), banks, test tokens.

`cascade chain deploy`, `cascade serve` on embedded defaults, the contract tests
and bench/gas.py all deploy through these functions, so there is one wiring.
"""

from __future__ import annotations

from typing import Any, TypedDict

from eth_utils import to_checksum_address
from web3 import Web3

from backend.chain.artifacts import load_artifact
from backend.chain.client import account, contract, created_address, send


class CoreAddresses(TypedDict):
    """Addresses the backend reads from PUSH_PULL_ADDRESS and BANK_FACTORY_ADDRESS."""

    push_pull: str
    bank_factory: str


def deploy_contract(w3: Web3, private_key: str, name: str, *args: Any) -> str:
    """Deploy contracts/<name>.vy with constructor `args`; returns its address."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send(w3, private_key, factory.constructor(*args))
    return created_address(receipt)


def deploy_blueprint(w3: Web3, private_key: str, name: str) -> str:
    """Deploy an ERC-5202 blueprint of contracts/<name>.vy (code that only factories use)."""
    artifact = load_artifact(name)
    receipt = send(w3, private_key, {"data": "0x" + artifact.blueprint_bytecode.hex()})
    return created_address(receipt)


def deploy_core(w3: Web3, deployer_key: str, signer_address: str | None = None) -> CoreAddresses:
    """Deploy MultiTokenPushPull and ProductBankFactory and wire them together.

    `signer_address` (default: the deployer) is the backend key the factory makes
    manager and distributor of every bank. The deployer owns both contracts.
    """
    signer = to_checksum_address(signer_address or account(deployer_key).address)
    push_pull = deploy_contract(w3, deployer_key, "MultiTokenPushPull")
    blueprint = deploy_blueprint(w3, deployer_key, "ProductBank")
    initcode_hash = load_artifact("ProductBank").initcode_hash
    bank_factory = deploy_contract(
        w3, deployer_key, "ProductBankFactory", push_pull, blueprint, initcode_hash, signer
    )
    send(
        w3,
        deployer_key,
        contract(w3, "MultiTokenPushPull", push_pull).functions.setFactory(bank_factory),
    )
    return {"push_pull": push_pull, "bank_factory": bank_factory}


def deploy_bank(
    w3: Web3, key: str, bank_factory: str, product_id: bytes, product_owner: str
) -> str:
    """Deploy the bank of `product_id` through the factory; `key`: factory owner or signer."""
    factory = contract(w3, "ProductBankFactory", bank_factory)
    send(w3, key, factory.functions.deployBank(product_id, to_checksum_address(product_owner)))
    return str(factory.functions.bankOf(product_id).call())


def deploy_test_token(
    w3: Web3,
    key: str,
    name: str,
    symbol: str,
    decimals: int = 18,
    kind: str = "MockERC20",
) -> str:
    """Deploy a test token (MockERC20, NoBoolToken, FeeOnTransferToken, ReentrantToken)."""
    if kind not in {"MockERC20", "NoBoolToken", "FeeOnTransferToken", "ReentrantToken"}:
        raise ValueError(f"unknown test token kind {kind!r}")
    return deploy_contract(w3, key, kind, name, symbol, decimals)
