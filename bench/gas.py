"""Gas benchmark of a signed push and of claims, against a floor of EVM costs.

Usage: .venv/bin/python bench/gas.py [--json]

Starts its own anvil, deploys the contracts with backend.chain, pushes batches
through ProductBank.pushRewards (the production path: signature, nonce, capped
budget, approve, MultiTokenPushPull credit) to fresh users and to the same users
again (already credited), and measures pullReward (1 token) and pullRewards
(5 tokens). The floor per reward is what the EVM charges at the very least for
what a reward must do: one cold storage write of the user's pending amount, the
RewardAdded log as declared, and the reward's calldata bytes. With --json the
last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_abi import encode
from web3 import Web3

from backend.chain import (
    account,
    contract,
    deploy_bank,
    deploy_core,
    deploy_test_token,
    load_artifact,
    send,
)
from backend.core.config import ANVIL_DEV_KEYS
from backend.runtime.anvil import EmbeddedAnvil
from backend.settlement import eip712

BATCH_SIZES = (1, 10, 50, 100, 250, 500)
TX_GAS_LIMIT = 29_000_000

# EVM costs (Berlin/London/Cancun schedules).
SSTORE_COLD_ZERO_TO_NONZERO = 22_100  # 20,000 set + 2,100 cold slot access
SSTORE_COLD_NONZERO_TO_NONZERO = 5_000  # 2,900 reset + 2,100 cold slot access
LOG_BASE = 375
LOG_PER_TOPIC = 375
LOG_PER_BYTE = 8
CALLDATA_ZERO_BYTE = 4
CALLDATA_NONZERO_BYTE = 16

# Targets from issue 3 (benchmarks, not tests).
TARGET_FRESH_100 = 27_000
TARGET_CREDITED = 9_000
TARGET_BLOCK = 15_000_000
TARGET_RATIO = 1.15


def reward_added_log_cost() -> int:
    """LOG cost of RewardAdded as declared in the ABI: topic0 + indexed args, data bytes."""
    abi = load_artifact("MultiTokenPushPull").abi
    (event,) = [e for e in abi if e.get("type") == "event" and e["name"] == "RewardAdded"]
    topics = 1 + sum(1 for i in event["inputs"] if i["indexed"])
    data_bytes = 32 * sum(1 for i in event["inputs"] if not i["indexed"])
    return LOG_BASE + LOG_PER_TOPIC * topics + LOG_PER_BYTE * data_bytes


def calldata_cost(rewards: list[tuple[str, int]]) -> int:
    """Calldata gas of the rewards' ABI words (user, amount): 4 per zero byte, 16 otherwise."""
    total = 0
    for user, amount in rewards:
        for byte in encode(["address", "uint256"], [user, amount]):
            total += CALLDATA_ZERO_BYTE if byte == 0 else CALLDATA_NONZERO_BYTE
    return total


class Bench:
    """One chain, one bank and six tokens; every push is signed like the backend signs."""

    def __init__(self, url: str):
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}))
        self.key = ANVIL_DEV_KEYS[0]
        self.me = account(self.key).address
        self.rng = random.Random(3)
        core = deploy_core(self.w3, self.key)
        self.push_pull = contract(self.w3, "MultiTokenPushPull", core["push_pull"])
        bank_address = deploy_bank(
            self.w3, self.key, core["bank_factory"], self.rng.randbytes(32), self.me
        )
        self.bank = contract(self.w3, "ProductBank", bank_address)
        self.campaign = self.rng.randbytes(32)
        self.tokens = [
            deploy_test_token(self.w3, self.key, f"Bench {i}", f"B{i}", 18) for i in range(6)
        ]
        for token in self.tokens:
            self._send(contract(self.w3, "MockERC20", token).functions.mint(bank_address, 10**40))
            # A capped budget, as most campaigns have: each push also updates it.
            self._send(self.bank.functions.allocateCampaignBudget(self.campaign, token, 0, 10**39))

    def _send(self, call: Any) -> Any:
        return send(self.w3, self.key, call, gas=TX_GAS_LIMIT)

    def new_users(self, count: int) -> list[str]:
        return [Web3.to_checksum_address(self.rng.randbytes(20)) for _ in range(count)]

    def amounts(self, count: int) -> list[int]:
        # Realistic 18-decimal amounts between 0.1 and 10 tokens.
        return [self.rng.randrange(10**17, 10**19) for _ in range(count)]

    def push(self, token: str, users: list[str]) -> tuple[int, list[tuple[str, int]]]:
        rewards = list(zip(users, self.amounts(len(users)), strict=True))
        typed = eip712.push_rewards_typed_data(
            chain_id=self.w3.eth.chain_id,
            bank_address=self.bank.address,
            campaign_id=self.campaign,
            token=token,
            rewards=rewards,
            nonce=self.rng.randbytes(32),
            deadline=int(time.time()) + 3600,
        )
        signature = eip712.sign_push(self.key, typed)
        call = self.bank.functions.pushRewards(*eip712.push_call_args(typed, signature))
        return int(self._send(call)["gasUsed"]), rewards

    def claim(self, user_key: str, tokens: list[str]) -> int:
        if len(tokens) == 1:
            call = self.push_pull.functions.pullReward(tokens[0])
        else:
            call = self.push_pull.functions.pullRewards(tokens)
        return int(send(self.w3, user_key, call, gas=TX_GAS_LIMIT)["gasUsed"])


def run() -> dict[str, Any]:
    anvil = EmbeddedAnvil()
    url = anvil.start()
    try:
        bench = Bench(url)
        log_cost = reward_added_log_cost()
        rows = []
        token = bench.tokens[0]
        for size in BATCH_SIZES:
            users = bench.new_users(size)
            for kind, storage in (
                ("fresh", SSTORE_COLD_ZERO_TO_NONZERO),
                ("credited", SSTORE_COLD_NONZERO_TO_NONZERO),
            ):
                gas, rewards = bench.push(token, users)
                floor = storage + log_cost + calldata_cost(rewards) / size
                per_reward = gas / size
                rows.append(
                    {
                        "kind": kind,
                        "batch": size,
                        "gas": gas,
                        "gas_per_reward": round(per_reward),
                        "floor_per_reward": round(floor),
                        "ratio": round(per_reward / floor, 3),
                    }
                )
        claims = bench_claims(bench)
    finally:
        anvil.stop()
    return {"log_cost": log_cost, "pushes": rows, "claims": claims, "targets": targets(rows)}


def bench_claims(bench: Bench) -> dict[str, int]:
    """A user with pending rewards in 1 token claims it; another claims 5 tokens at once."""
    one, five = ANVIL_DEV_KEYS[1], "0x" + "5" * 64
    one_address, five_address = account(one).address, account(five).address
    for address in (one_address, five_address):  # gas money for the claimers
        bench._send({"to": address, "value": 10**18})
    bench.push(bench.tokens[0], [one_address])
    for token in bench.tokens[1:6]:
        bench.push(token, [five_address])
    return {
        "claim_1_token": bench.claim(one, [bench.tokens[0]]),
        "claim_5_tokens": bench.claim(five, bench.tokens[1:6]),
    }


def targets(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    def row(kind: str, size: int) -> dict[str, Any]:
        return next(r for r in rows if r["kind"] == kind and r["batch"] == size)

    largest = max(r["gas"] for r in rows if r["batch"] == 500)
    checks = {
        "fresh_100_per_reward": (row("fresh", 100)["gas_per_reward"], TARGET_FRESH_100),
        "credited_100_per_reward": (row("credited", 100)["gas_per_reward"], TARGET_CREDITED),
        "credited_500_per_reward": (row("credited", 500)["gas_per_reward"], TARGET_CREDITED),
        "batch_500_total": (largest, TARGET_BLOCK),
        "fresh_100_ratio": (row("fresh", 100)["ratio"], TARGET_RATIO),
        "credited_100_ratio": (row("credited", 100)["ratio"], TARGET_RATIO),
        "fresh_500_ratio": (row("fresh", 500)["ratio"], TARGET_RATIO),
        "credited_500_ratio": (row("credited", 500)["ratio"], TARGET_RATIO),
    }
    return {
        name: {"value": value, "target": limit, "met": value <= limit}
        for name, (value, limit) in checks.items()
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"RewardAdded log as declared: {result['log_cost']} gas")
    header = f"{'users':<9}{'batch':>6}{'total gas':>12}{'gas/reward':>12}{'floor':>8}{'ratio':>7}"
    print(header)
    print("-" * len(header))
    for r in result["pushes"]:
        print(
            f"{r['kind']:<9}{r['batch']:>6}{r['gas']:>12,}{r['gas_per_reward']:>12,}"
            f"{r['floor_per_reward']:>8,}{r['ratio']:>7.3f}"
        )
    print()
    print(f"claim 1 token : {result['claims']['claim_1_token']:>8,} gas")
    print(f"claim 5 tokens: {result['claims']['claim_5_tokens']:>8,} gas")
    print()
    for name, check in result["targets"].items():
        mark = "met" if check["met"] else "NOT met"
        print(f"{name:<26} {check['value']:>12,} <= {check['target']:<12,} {mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    result = run()
    print_table(result)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
