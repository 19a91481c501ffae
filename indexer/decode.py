"""Decode raw logs with the contracts' compiled ABIs into rows for chain_events.

Topic hashes and argument layouts come from backend.chain.artifacts (the ABI
the contracts were compiled to), never from hand-written constants, so a
changed event signature cannot silently drift: a log whose topics or data do
not fit the compiled ABI is a fatal mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, to_checksum_address

from backend.chain.artifacts import load_contract
from indexer.errors import FatalIndexerError

# Which events are indexed from which contract. Bank: everything it emits.
PUSH_PULL_EVENTS = ("RewardAdded", "RewardClaimed")
FACTORY_EVENTS = ("BankDeployed",)
BALANCE_EVENTS = frozenset(PUSH_PULL_EVENTS)
# The argument that names the wallet a row belongs to, per event.
_WALLET_ARG = {
    "RewardAdded": "user",
    "RewardClaimed": "user",
    "Deposited": "sender",
    "Withdrawn": "to",
    "RoleGranted": "account",
    "RoleRevoked": "account",
    "Paused": "account",
    "Unpaused": "account",
    "BankDeployed": "owner",
}
_AMOUNT_ARGS = ("amount", "total", "budget")
_STATIC_WORD_TYPES = ("address", "bytes32", "bool")


@dataclass(frozen=True)
class EventSpec:
    name: str
    topic0: str
    indexed: tuple[tuple[str, str], ...]  # (name, abi type) in topic order
    data: tuple[tuple[str, str], ...]  # (name, abi type) in data order

    @property
    def data_is_words(self) -> bool:
        """Every data field is one static 32-byte word: decode by slicing, fast."""
        return all(_is_word(kind) for _, kind in self.data)


@dataclass
class EventRow:
    """One decoded log, shaped like a chain_events row."""

    block_number: int
    block_hash: str
    block_timestamp: int
    tx_hash: str
    log_index: int
    address: str
    event: str
    token: str | None
    wallet: str | None
    amount: int | None
    args: dict[str, Any] = field(default_factory=dict)

    def args_json(self) -> str:
        return json.dumps(self.args, separators=(",", ":"))


class Decoder:
    """Event specs of the three contracts, by (contract kind, topic0)."""

    def __init__(self) -> None:
        self.push_pull = _specs("MultiTokenPushPull", PUSH_PULL_EVENTS)
        self.factory = _specs("ProductBankFactory", FACTORY_EVENTS)
        self.bank = _specs("ProductBank", None)

    def topics(self) -> list[str]:
        """topic0 filter for eth_getLogs: every event any of the contracts is read for."""
        return sorted({*self.push_pull, *self.factory, *self.bank})

    def bank_created(self, log: dict[str, Any]) -> str | None:
        """The bank address if `log` is the factory's BankDeployed, else None."""
        spec = self.factory.get(log["topics"][0]) if log.get("topics") else None
        if spec is None:
            return None
        return self.decode(log, spec, 0).args["bank"]

    def decode_all(
        self,
        logs: Iterable[dict[str, Any]],
        *,
        push_pull: str,
        factory: str,
        banks: set[str],
        timestamps: dict[int, int],
    ) -> list[EventRow]:
        """Decode logs of our contracts; logs of unknown emitters are ignored."""
        push_pull_lower, factory_lower = push_pull.lower(), factory.lower()
        banks_lower = {bank.lower() for bank in banks}
        rows = []
        for log in logs:
            emitter = log["address"].lower()
            if emitter == push_pull_lower:
                table = self.push_pull
            elif emitter == factory_lower:
                table = self.factory
            elif emitter in banks_lower:
                table = self.bank
            else:
                continue
            spec = table.get(log["topics"][0]) if log["topics"] else None
            if spec is None:  # the topic filter is a union: another contract's event
                continue
            number = int(log["blockNumber"], 16)
            stamp = log.get("blockTimestamp")
            timestamp = int(stamp, 16) if stamp else timestamps[number]
            rows.append(self.decode(log, spec, timestamp))
        return rows

    def decode(self, log: dict[str, Any], spec: EventSpec, timestamp: int) -> EventRow:
        topics = log["topics"]
        data = log["data"]
        if len(topics) != len(spec.indexed) + 1:
            raise FatalIndexerError(
                f"{spec.name} log {log['transactionHash']} has {len(topics) - 1} indexed "
                f"arguments, the ABI says {len(spec.indexed)}: redeploy or recompile contracts/"
            )
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(spec.indexed, topics[1:], strict=True):
            args[name] = _word(kind, topic[2:])
        try:
            if spec.data_is_words:
                payload = data[2:]
                for i, (name, kind) in enumerate(spec.data):
                    args[name] = _word(kind, payload[64 * i : 64 * i + 64])
            elif spec.data:
                values = abi_decode([kind for _, kind in spec.data], bytes.fromhex(data[2:]))
                args.update(
                    {name: _plain(v) for (name, _), v in zip(spec.data, values, strict=True)}
                )
        except (ValueError, IndexError) as exc:
            raise FatalIndexerError(
                f"{spec.name} log {log['transactionHash']} does not decode with the compiled "
                f"ABI ({exc}): the deployed contracts differ from contracts/"
            ) from exc
        wallet_arg = _WALLET_ARG.get(spec.name)
        amount = next((args[name] for name in _AMOUNT_ARGS if name in args), None)
        return EventRow(
            block_number=int(log["blockNumber"], 16),
            block_hash=log["blockHash"],
            block_timestamp=timestamp,
            tx_hash=log["transactionHash"],
            log_index=int(log["logIndex"], 16),
            address=checksum(log["address"]),
            event=spec.name,
            token=args.get("token"),
            wallet=args.get(wallet_arg) if wallet_arg else None,
            amount=amount,
            args={
                k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                for k, v in args.items()
            },
        )


@lru_cache(maxsize=262_144)
def checksum(address: str) -> str:
    """Checksummed address; cached because the same wallets and tokens repeat."""
    return str(to_checksum_address(address))


def _specs(contract: str, names: Sequence[str] | None) -> dict[str, EventSpec]:
    abi, _ = load_contract(contract)
    specs = {}
    for entry in abi:
        if entry.get("type") != "event" or (names is not None and entry["name"] not in names):
            continue
        topic0 = "0x" + event_abi_to_log_topic(entry).hex()  # type: ignore[arg-type]
        specs[topic0] = EventSpec(
            name=entry["name"],
            topic0=topic0,
            indexed=tuple((i["name"], i["type"]) for i in entry["inputs"] if i["indexed"]),
            data=tuple((i["name"], i["type"]) for i in entry["inputs"] if not i["indexed"]),
        )
    missing = set(names or ()) - {spec.name for spec in specs.values()}
    if missing:
        raise FatalIndexerError(
            f"{contract} ABI has no event {sorted(missing)}: contracts/ changed"
        )
    return specs


def _is_word(kind: str) -> bool:
    return kind in _STATIC_WORD_TYPES or (kind.startswith(("uint", "int")) and "[" not in kind)


def _word(kind: str, word: str) -> Any:
    """One 32-byte word (64 hex chars, no 0x) of a static ABI type."""
    if len(word) != 64:
        raise ValueError(f"expected a 32-byte word, got {len(word) // 2} bytes")
    if kind == "address":
        return checksum("0x" + word[24:])
    if kind.startswith("uint"):
        return int(word, 16)
    if kind.startswith("int"):
        value = int(word, 16)
        return value - 2**256 if value >= 2**255 else value
    if kind == "bool":
        return int(word, 16) != 0
    return "0x" + word.lower()  # bytes32, and indexed dynamic values (their hash)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
