"""Simulated crashes for in-process tests (the subprocess matrix uses a real SIGKILL), and a
recorder of the JSON-RPC requests the app sends (the `calls` fixture in conftest.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from eth_utils import keccak

from backend.settlement import faults
from backend.settlement.chain import ROLE_GRANTED

HAS_ROLE = "0x" + keccak(text="hasRole(bytes32,address)")[:4].hex()
EPOCH = "0x" + keccak(text="distributorEpoch()")[:4].hex()


class Calls:
    """Every JSON-RPC request the app's provider sends, by kind."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def clear(self) -> None:
        self.seen.clear()

    def count(self) -> Counter[str]:
        kinds: Counter[str] = Counter()
        for method, params in self.seen:
            if method == "eth_call":
                data = str(params[0].get("data") or params[0].get("input") or "")[:10]
                kinds[{HAS_ROLE: "hasRole", EPOCH: "distributorEpoch"}.get(data, "eth_call")] += 1
            elif method == "eth_getLogs" and ROLE_GRANTED in str(params[0].get("topics")):
                kinds["roleLogs"] += 1
            else:
                kinds[method] += 1
        return kinds

    def role_calls(self) -> int:
        counts = self.count()
        return counts["hasRole"] + counts["distributorEpoch"] + counts["roleLogs"]

    def blocks_read(self) -> Counter[int]:
        """How many times each numbered block was asked for (eth_getBlockByNumber)."""
        return Counter(
            int(params[0], 16)
            for method, params in self.seen
            if method == "eth_getBlockByNumber" and str(params[0]).startswith("0x")
        )


class SimulatedCrash(BaseException):
    """Like SIGKILL for the code under test: nothing catches a BaseException it does not expect."""


def crash_at(monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    def crash_point(name: str) -> None:
        if name == step:
            raise SimulatedCrash(step)

    monkeypatch.setattr(faults, "crash_point", crash_point)
