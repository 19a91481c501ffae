"""Deploy the contracts with web3.py: core (push-pull, bank and account factories), banks, tokens.

`cascade chain deploy`, `cascade serve` on embedded defaults, the contract tests
and bench/gas.py all deploy through these functions, so there is one wiring.
"""

from __future__ import annotations

from typing import Any, TypedDict

from eth_utils import to_checksum_address
from web3 import Web3

from backend.chain.artifacts import load_artifact
from backend.chain.client import account, contract, created_address, send

P256_PRECOMPILE = "0x0000000000000000000000000000000000000100"
# sha256(message) ‖ r ‖ s ‖ x ‖ y of a valid P-256 signature: PasskeyAccount's probe.
P256_PROBE_INPUT = bytes.fromhex(
    "34a1f8f2ff0e33a42a1ec2328bd331181f9f5394d50b65bba298f03f3edbb068"
    "8a2b9553f1f7ba7054f16e004473f39ef15c0d4f81ff8a2741352183d5f58ee3"
    "37d61e302f81a8ef6facd32daf67513ac775db3a1be50bd0e44481bf91568a33"
    "aa57df66c35edda5c66c59896c1e0bd968cd12b7437865c7bb3d6ddca4e56a07"
    "9faac4766ba4eeae2a19a14146545efb7c316d1a304ccae1e94445a3d873686b"
)
NO_P256_PRECOMPILE = (
    "chain has no P-256 precompile at 0x100 (RIP-7212 / EIP-7951); "
    "use a chain with it, e.g. anvil --hardfork osaka"
)


def has_p256_precompile(w3: Web3) -> bool:
    """Whether the chain verifies P-256 at 0x100 (passkey accounts cannot work without it)."""
    answer = w3.eth.call({"to": P256_PRECOMPILE, "data": P256_PROBE_INPUT})  # type: ignore[typeddict-item]
    return len(answer) == 32 and int.from_bytes(answer, "big") == 1


class CoreAddresses(TypedDict):
    """Addresses the backend reads from PUSH_PULL_ADDRESS, BANK_FACTORY_ADDRESS and
    ACCOUNT_FACTORY_ADDRESS."""

    push_pull: str
    bank_factory: str
    account_factory: str


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


def deploy_account_factory(w3: Web3, deployer_key: str) -> str:
    """Deploy PasskeyAccountFactory, which deploys the PasskeyAccount implementation.

    The factory takes a blueprint of the account and creates the one
    implementation itself, so the implementation knows its factory. Nobody owns it.
    """
    blueprint = deploy_blueprint(w3, deployer_key, "PasskeyAccount")
    return deploy_contract(w3, deployer_key, "PasskeyAccountFactory", blueprint)


def deploy_core(w3: Web3, deployer_key: str, signer_address: str | None = None) -> CoreAddresses:
    """Deploy MultiTokenPushPull, ProductBankFactory and PasskeyAccountFactory.

    `signer_address` (default: the deployer) is the backend key the bank factory
    makes manager and distributor of every bank. The deployer owns the push-pull
    and the bank factory; the account factory has no owner.
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
    account_factory = deploy_account_factory(w3, deployer_key)
    return {
        "push_pull": push_pull,
        "bank_factory": bank_factory,
        "account_factory": account_factory,
    }


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
