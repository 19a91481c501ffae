"""What the push job asks the chain, over the app's AsyncWeb3 (one event loop with the app).

Thin on purpose: every decision lives in the modules that call these helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address
from web3.exceptions import BlockNotFound, ContractLogicError, TransactionNotFound

from backend.chain.artifacts import load_artifact

DISTRIBUTOR_ROLE = keccak(text="DISTRIBUTOR_ROLE")
ROLE_GRANTED = "0x" + keccak(text="RoleGranted(bytes32,address,address)").hex()
ROLE_REVOKED = "0x" + keccak(text="RoleRevoked(bytes32,address,address)").hex()
# blocks per eth_getLogs request: within what public RPC providers accept
LOG_SPAN = 5_000
# ProductBank.nonceState
NONCE_UNUSED, NONCE_PAID, NONCE_CANCELLED = 0, 1, 2


@dataclass(frozen=True)
class PushEvent:
    """A RewardsPushed log that paid a batch nonce."""

    tx_hash: str
    block_number: int
    block_hash: str
    total: int  # what the paid batch summed to, and its number of (user, amount) pairs:
    count: int  # a batch that shares a nonce with ours but not these is not ours


@dataclass(frozen=True)
class RoleEvent:
    """A RoleGranted/RoleRevoked log of DISTRIBUTOR_ROLE, from any contract (filter by bank)."""

    bank: str
    account: str
    granted: bool
    block_number: int
    log_index: int


class ChainReader:
    def __init__(self, w3: Any):
        self.w3 = w3
        self._bank_abi = load_artifact("ProductBank").abi
        self._factory_abi = load_artifact("ProductBankFactory").abi
        self._initcode_hashes: dict[str, str] = {}
        # this cycle's distributorEpoch per bank, from the role view (backend.settlement.roles)
        self.epochs: dict[str, int] = {}

    def bank(self, address: str) -> Any:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=self._bank_abi)

    def factory(self, address: str) -> Any:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=self._factory_abi)

    async def bank_initcode_hash(self, factory: str) -> str:
        """The factory's bankInitcodeHash (an immutable: read once per reader)."""
        cached = self._initcode_hashes.get(factory)
        if cached is None:
            value = await self.factory(factory).functions.bankInitcodeHash().call()
            cached = self._initcode_hashes[factory] = _hex(value)
        return cached

    async def chain_id(self) -> int:
        return int(await self.w3.eth.chain_id)

    async def head(self) -> int:
        return int(await self.w3.eth.block_number)

    async def block(self, number: int | str) -> Any:
        return await self.w3.eth.get_block(number)

    async def account_nonce(self, address: str, block: str = "latest") -> int:
        return int(await self.w3.eth.get_transaction_count(address, block))

    async def block_hash(self, number: int) -> str | None:
        """The hash of block `number` on the node's chain now; None when it has no such block."""
        try:
            block = await self.w3.eth.get_block(number)
        except BlockNotFound:
            return None
        return _hex(block["hash"])

    async def is_distributor(self, bank: str, account: str, block: int | str = "latest") -> bool:
        call = self.bank(bank).functions.hasRole(DISTRIBUTOR_ROLE, account)
        return bool(await call.call(block_identifier=block))

    async def role_events(self, from_block: int, to_block: int) -> list[RoleEvent]:
        """Every distributor grant and revocation in [from_block, to_block], in chain order.

        Filtered by topics only, not by address: one request per LOG_SPAN blocks however
        many banks there are (the caller keeps the logs of the banks it knows).
        """
        role = "0x" + DISTRIBUTOR_ROLE.hex()
        found: list[RoleEvent] = []
        for start in range(from_block, to_block + 1, LOG_SPAN):
            logs = await self.w3.eth.get_logs(
                {
                    "fromBlock": start,
                    "toBlock": min(start + LOG_SPAN - 1, to_block),
                    "topics": [[ROLE_GRANTED, ROLE_REVOKED], role],
                }
            )
            for entry in logs:
                topics = [_hex(topic) for topic in entry["topics"]]
                if len(topics) != 4 or entry.get("removed"):
                    continue
                found.append(
                    RoleEvent(
                        bank=to_checksum_address(entry["address"]),
                        account=to_checksum_address("0x" + topics[2][-40:]),
                        granted=topics[0] == ROLE_GRANTED,
                        block_number=int(entry["blockNumber"]),
                        log_index=int(entry["logIndex"]),
                    )
                )
        found.sort(key=lambda event: (event.block_number, event.log_index))
        return found

    async def signing_epoch(self, bank: str) -> int:
        """The epoch to sign `bank`'s batches for: this cycle's role view, else the chain's."""
        known = self.epochs.get(bank)
        return known if known is not None else await self.distributor_epoch(bank)

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
                    total=int(entry["args"]["total"]),
                    count=int(entry["args"]["count"]),
                )
        return None


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text
