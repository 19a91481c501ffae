"""The demo's people: anvil's well-known development accounts (funded with test ETH)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

# anvil's default mnemonic: public, for local chains only.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ROLES = ("operator", "owner", "alice", "bob", "carol", "dave", "frank")


@dataclass(frozen=True)
class Person:
    name: str
    account: LocalAccount

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def key(self) -> str:
        return "0x" + bytes(self.account.key).hex()


def people() -> dict[str, Person]:
    """operator (index 0) signs and deploys; owner runs the shop; four shoppers; Frank,
    a friend the passkey shopper sends to."""
    Account.enable_unaudited_hdwallet_features()
    return {
        name: Person(
            name, Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        )
        for i, name in enumerate(ROLES)
    }
