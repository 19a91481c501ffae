"""A small web3 client: connect, bind contracts, send signed transactions.

Reverts surface as `ChainRevert` carrying the contract's revert string and its
machine code from `reverts.py`, so callers branch on codes, not on web3's
exception zoo.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

from backend.chain.artifacts import load_artifact
from backend.chain.reverts import classify

DEFAULT_TIMEOUT_S = 120.0


class ChainRevert(Exception):
    """A transaction (or its gas estimate) reverted; `code` is None for unknown reasons."""

    def __init__(self, reason: str, tx_hash: bytes | None = None):
        self.reason = reason
        self.code = classify(reason)
        self.tx_hash = tx_hash
        super().__init__(f"{reason} ({self.code})" if self.code else reason)


def connect(rpc_url: str, timeout_s: float = 30.0) -> Web3:
    """A Web3 over HTTP; fails fast if the node does not answer."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
    if not w3.is_connected():
        raise ConnectionError(f"no JSON-RPC node answers at {rpc_url}")
    return w3


def account(private_key: str | bytes) -> LocalAccount:
    """The local account of a private key (never leaves the process)."""
    return Account.from_key(private_key)


def contract(w3: Web3, name: str, address: str) -> Contract:
    """A web3 contract bound to `address` with the ABI compiled from contracts/<name>.vy."""
    artifact = load_artifact(name)
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)


def send(
    w3: Web3,
    private_key: str | bytes,
    call: ContractFunction | ContractConstructor | dict[str, Any],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **overrides: Any,
) -> TxReceipt:
    """Sign and send a contract call (or raw tx params), wait for the receipt.

    Raises ChainRevert when the gas estimate or the mined transaction reverts.
    """
    sender = account(private_key)
    params: dict[str, Any] = {"from": sender.address, **overrides}
    try:
        if isinstance(call, dict):
            tx: dict[str, Any] = {**call, **params}
            tx.setdefault("gas", w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        else:
            tx = dict(call.build_transaction(params))  # type: ignore[arg-type]
    except ContractLogicError as exc:
        raise ChainRevert(_reason(exc)) from exc
    tx.setdefault("chainId", w3.eth.chain_id)
    tx.setdefault("nonce", w3.eth.get_transaction_count(sender.address, "pending"))
    if "gasPrice" not in tx and "maxFeePerGas" not in tx:
        tx.update(_fees(w3))
    signed = sender.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout_s)
    if receipt["status"] != 1:
        raise ChainRevert(_replay_reason(w3, tx, receipt), bytes(tx_hash))
    return receipt


def created_address(receipt: TxReceipt) -> str:
    """The checksummed address a deployment receipt created."""
    address = receipt.get("contractAddress")
    if address is None:
        raise RuntimeError("the transaction deployed no contract")
    return str(Web3.to_checksum_address(address))


def _fees(w3: Web3) -> dict[str, int]:
    # EIP-1559 when the node has a base fee; a tip of 1 gwei at most (0 on anvil).
    latest = w3.eth.get_block("latest")
    base_fee = latest.get("baseFeePerGas")
    if base_fee is None:
        return {"gasPrice": w3.eth.gas_price}
    tip = min(w3.eth.max_priority_fee, 10**9)
    return {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}


def _reason(exc: ContractLogicError) -> str:
    message = exc.message or str(exc)
    return message.removeprefix("execution reverted: ").strip()


def _replay_reason(w3: Web3, tx: dict[str, Any], receipt: TxReceipt) -> str:
    # A mined revert has no reason in its receipt: replay it at its block to read it.
    call = {key: tx[key] for key in ("from", "to", "data", "value") if key in tx}
    try:
        w3.eth.call(call, receipt["blockNumber"])  # type: ignore[arg-type]
    except ContractLogicError as exc:
        return _reason(exc)
    return "transaction reverted"
