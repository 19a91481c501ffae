"""The distributor key: loaded once from config, signs batches and transactions.

SIGNER_KEY (raw, dev) or SIGNER_KEYSTORE + SIGNER_PASSWORD (encrypted, production)
through Settings.effective_signer_key(); the key never leaves this object. Batch
typed data comes from backend.settlement.eip712, the definition the contract
tests use too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from backend.core.config import Settings
from backend.settlement import eip712


@dataclass(frozen=True)
class SignedBatch:
    nonce: str  # 0x bytes32
    deadline: int
    signature: str  # 0x, 65 bytes
    payload: list[dict[str, str]]  # [{"user", "amount"}], amounts as decimal strings


@dataclass(frozen=True)
class Signer:
    account: LocalAccount = field(repr=False)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def sign_batch(
        self,
        *,
        chain_id: int,
        bank: str,
        chain_campaign_id: str,
        token: str,
        rewards: list[tuple[str, int]],
        deadline: int,
        epoch: int = 0,
        nonce: bytes | None = None,
    ) -> SignedBatch:
        """Sign one batch for the bank's distributorEpoch `epoch`.

        The push job passes the bank's next counted nonce (settlement.batch_nonces), so
        its batches share nonce words; without one, a fresh random nonce (a fresh word).
        """
        if nonce is None:
            nonce = eip712.new_nonce()
        typed = eip712.push_rewards_typed_data(
            chain_id=chain_id,
            bank_address=bank,
            campaign_id=bytes.fromhex(chain_campaign_id[2:]),
            token=token,
            rewards=rewards,
            nonce=nonce,
            deadline=deadline,
            epoch=epoch,
        )
        signature = eip712.sign_push(self.account.key, typed)
        return SignedBatch(
            nonce="0x" + nonce.hex(),
            deadline=deadline,
            signature="0x" + signature.hex(),
            payload=[{"user": r["user"], "amount": str(r["amount"])} for r in typed["rewards"]],
        )

    def sign_transaction(self, tx: dict[str, Any]) -> tuple[bytes, str]:
        """(raw bytes, 0x hash) of a signed transaction."""
        signed = self.account.sign_transaction(tx)
        return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()


def load_signer(settings: Settings) -> Signer:
    """The configured signer; raises ConfigError when no key is configured."""
    return Signer(Account.from_key(settings.effective_signer_key()))


def push_calldata(bank_contract: Any, batch: Any, sender: str | None) -> bytes:
    """ABI-encoded ProductBank push of a stored batch (exact signed payload).

    `sender` sends it: the push job's own key, a distributor of the bank, so a batch of
    at most 64 rewards goes without its signature (pushFewRewardsBy, ~4,700 gas less; the
    bank checks the sender and the batch's epoch instead). Without a sender, or above 64
    rewards, the signed batch (eip712.push_function), which anyone may send.
    """
    rewards = eip712.reward_words((item["user"], int(item["amount"])) for item in batch.payload)
    campaign = bytes.fromhex(batch.chain_campaign_id[2:])
    nonce = bytes.fromhex(batch.nonce[2:])
    function = eip712.push_function(len(rewards), signed=sender is None)
    if function == eip712.UNSIGNED_PUSH:
        args = [sender, campaign, batch.token, rewards, nonce, batch.deadline, batch.epoch]
    else:
        args = [
            campaign,
            batch.token,
            rewards,
            nonce,
            batch.deadline,
            bytes.fromhex(batch.signature[2:]),
        ]
    return bytes.fromhex(str(bank_contract.encode_abi(function, args=args))[2:])
