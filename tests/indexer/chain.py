"""A small driver for the real contracts on the test anvil: banks, pushes, claims.

Pushes are signed with the backend's own EIP-712 code; claims use
pullRewardsFor from the deployer, so test wallets need no gas.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from web3 import Web3

from backend.chain import contract, deploy_bank, deploy_core, deploy_test_token, send
from backend.core.config import ANVIL_DEV_KEYS
from backend.runtime.anvil import rpc_call
from backend.settlement import eip712

KEY = ANVIL_DEV_KEYS[0]
FUNDS = 10**30


@dataclass
class Chain:
    w3: Web3
    rpc_url: str
    push_pull: str
    bank_factory: str
    token: str
    bank: str
    campaign: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @property
    def deployer(self) -> str:
        return str(Account.from_key(KEY).address)

    @classmethod
    def deploy(cls, w3: Web3, rpc_url: str) -> Chain:
        core = deploy_core(w3, KEY)
        token = deploy_test_token(w3, KEY, "Test Euro", "EURe")
        send(
            w3,
            KEY,
            contract(w3, "MockERC20", token).functions.mint(Account.from_key(KEY).address, FUNDS),
        )
        chain = cls(w3, rpc_url, core["push_pull"], core["bank_factory"], token, "")
        chain.bank = chain.new_bank()
        return chain

    def new_bank(self) -> str:
        """Deploy, fund and activate a bank (its own product id) for `self.campaign`."""
        bank = deploy_bank(self.w3, KEY, self.bank_factory, secrets.token_bytes(32), self.deployer)
        erc20 = contract(self.w3, "MockERC20", self.token)
        send(self.w3, KEY, erc20.functions.approve(bank, FUNDS // 10))
        product_bank = contract(self.w3, "ProductBank", bank)
        send(self.w3, KEY, product_bank.functions.deposit(self.token, FUNDS // 10))
        send(
            self.w3,
            KEY,
            product_bank.functions.allocateCampaignBudget(self.campaign, self.token, 0, 2**256 - 1),
        )
        return bank

    def push(self, rewards: Sequence[tuple[str, int]], *, bank: str | None = None) -> Any:
        return send(self.w3, KEY, self._push_call(rewards, bank or self.bank))

    def push_many(self, batches: Sequence[Sequence[tuple[str, int]]]) -> None:
        """One push transaction per batch, sent without waiting in between (one block each)."""
        sender = Account.from_key(KEY)
        nonce = self.w3.eth.get_transaction_count(sender.address, "pending")
        fees = {"maxFeePerGas": 10**11, "maxPriorityFeePerGas": 0, "chainId": 31337}
        tx_hash = None
        for i, rewards in enumerate(batches):
            tx = self._push_call(rewards, self.bank).build_transaction(
                {"from": sender.address, "nonce": nonce + i, "gas": 3_000_000, **fees}
            )
            tx_hash = self.w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
        if tx_hash is not None:
            assert self.w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.01)["status"]

    def _push_call(self, rewards: Sequence[tuple[str, int]], bank: str) -> Any:
        typed = eip712.push_rewards_typed_data(
            chain_id=self.w3.eth.chain_id,
            bank_address=bank,
            campaign_id=self.campaign,
            token=self.token,
            rewards=rewards,
            nonce=eip712.new_nonce(),
            deadline=int(time.time()) + 3600 * 24 * 365,
        )
        args = eip712.push_call_args(typed, eip712.sign_push(KEY, typed))
        return contract(self.w3, "ProductBank", bank).functions.pushRewards(*args)

    def claim(self, wallet: str) -> Any:
        push_pull = contract(self.w3, "MultiTokenPushPull", self.push_pull)
        return send(self.w3, KEY, push_pull.functions.pullRewardsFor(wallet, [self.token]))

    def pending(self, wallet: str, token: str | None = None) -> int:
        push_pull = contract(self.w3, "MultiTokenPushPull", self.push_pull)
        return int(push_pull.functions.getPendingAmount(token or self.token, wallet).call())

    def logs(self) -> list[dict[str, Any]]:
        """Every log of our contracts on the canonical chain, raw."""
        addresses = [self.push_pull, self.bank_factory, *self.banks()]
        return list(
            rpc_call(
                self.rpc_url,
                "eth_getLogs",
                [{"fromBlock": "0x0", "toBlock": "latest", "address": addresses}],
            )
        )

    def banks(self) -> list[str]:
        factory = contract(self.w3, "ProductBankFactory", self.bank_factory)
        created = factory.events.BankDeployed().get_logs(from_block=0)
        return [entry["args"]["bank"] for entry in created]

    def block_hash(self, number: int) -> str:
        return str(rpc_call(self.rpc_url, "eth_getBlockByNumber", [hex(number), False])["hash"])

    def head(self) -> int:
        return int(self.w3.eth.block_number)
