"""What the push job asks the chain, over the app's AsyncWeb3 (one event loop with the app).

Thin on purpose: every decision lives in the modules that call these helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractLogicError, TransactionNotFound

from backend.chain.artifacts import load_artifact

DISTRIBUTOR_ROLE = keccak(text="DISTRIBUTOR_ROLE")
# ProductBank.nonceState
NONCE_UNUSED, NONCE_PAID, NONCE_CANCELLED = 0, 1, 2


@dataclass(frozen=True)
class PushEvent:
    """A RewardsPushed log that paid a batch nonce."""

    tx_hash: str
    block_number: int
    block_hash: str


class ChainReader:
    def __init__(self, w3: Any):
        self.w3 = w3
        self._bank_abi = load_artifact("ProductBank").abi

    def bank(self, address: str) -> Any:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=self._bank_abi)

    async def chain_id(self) -> int:
        return int(await self.w3.eth.chain_id)

    async def head(self) -> int:
        return int(await self.w3.eth.block_number)

    async def block(self, number: int | str) -> Any:
        return await self.w3.eth.get_block(number)

    async def account_nonce(self, address: str, block: str = "latest") -> int:
        return int(await self.w3.eth.get_transaction_count(address, block))

    async def is_distributor(self, bank: str, account: str) -> bool:
        call = self.bank(bank).functions.hasRole(DISTRIBUTOR_ROLE, account)
        return bool(await call.call())

    async def is_nonce_used(self, bank: str, nonce: str, block: int | str) -> bool:
        call = self.bank(bank).functions.isNonceUsed(bytes.fromhex(nonce[2:]))
        return bool(await call.call(block_identifier=block))

    async def nonce_state(self, bank: str, nonce: str, block: int | str) -> int:
        """NONCE_UNUSED, NONCE_PAID or NONCE_CANCELLED on the bank at `block`."""
        call = self.bank(bank).functions.nonceState(bytes.fromhex(nonce[2:]))
        return int(await call.call(block_identifier=block))

    async def distributor_epoch(self, bank: str, block: int | str = "latest") -> int:
        """The epoch a batch signature must be made for (bumped by every revocation)."""
        call = self.bank(bank).functions.distributorEpoch()
        return int(await call.call(block_identifier=block))

    async def receipt(self, tx_hash: str) -> Any | None:
        try:
            return await self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    async def is_known(self, tx_hash: str) -> bool:
        """Whether the node still has the transaction (mempool or chain)."""
        try:
            await self.w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            return False
        return True

    async def fees(self) -> tuple[int, int]:
        """(max_fee_per_gas, max_priority_fee_per_gas) for a transaction sent now."""
        latest = await self.w3.eth.get_block("latest")
        tip = int(await self.w3.eth.max_priority_fee)
        return 2 * int(latest["baseFeePerGas"]) + tip, tip

    async def simulate(self, tx: dict[str, Any], block: int | str = "latest") -> str | None:
        """The revert reason of `tx` at `block`, or None when it would succeed."""
        call = {key: tx[key] for key in ("from", "to", "data", "value") if key in tx}
        try:
            await self.w3.eth.call(call, block)
        except ContractLogicError as exc:
            message = exc.message or str(exc)
            return message.removeprefix("execution reverted: ").strip() or "reverted"
        return None

    async def estimate_gas(self, tx: dict[str, Any]) -> int:
        call = {key: tx[key] for key in ("from", "to", "data", "value") if key in tx}
        return int(await self.w3.eth.estimate_gas(call))

    async def send_raw(self, raw: bytes) -> str | None:
        """Broadcast; None on success or "already known", else the node's complaint."""
        try:
            await self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:  # the node's JSON-RPC error, a timeout, a reset
            text = str(exc)
            if "already" in text.lower() and ("known" in text or "imported" in text):
                return None
            return text[:300]
        return None

    async def find_push(
        self, bank: str, campaign_id: str, token: str, nonce: str, from_block: int, to_block: int
    ) -> PushEvent | None:
        """The RewardsPushed log of `nonce` in [from_block, to_block], if any."""
        event = self.bank(bank).events.RewardsPushed()
        logs = await event.get_logs(
            from_block=from_block,
            to_block=to_block,
            argument_filters={"campaignId": bytes.fromhex(campaign_id[2:]), "token": token},
        )
        wanted = bytes.fromhex(nonce[2:])
        for entry in logs:
            if bytes(entry["args"]["nonce"]) == wanted:
                return PushEvent(
                    tx_hash=_hex(entry["transactionHash"]),
                    block_number=int(entry["blockNumber"]),
                    block_hash=_hex(entry["blockHash"]),
                )
        return None


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text
