"""The one definition of the EIP-712 batch a ProductBank pays: domain, types, signing.

The backend signer and the contract tests both use this module, and the JSON
vector in contracts/eip712_vector.json is generated from it, so the Python
signer, the contract and other languages cannot drift apart. The EIP-712 hash
itself is eth-account's `encode_typed_data`.

The rewards are one `bytes32 rewardsHash`, a hash chain over the batch
(`rewards_hash`): h_0 = 32 zero bytes, h_i = keccak256(h_(i-1) || typeHash(Reward)
|| user_i || amount_i) with the words ABI-encoded and typeHash(Reward) =
keccak256("Reward(address user,uint256 amount)"); rewardsHash = h_n. It commits to
every reward and their order as a `Reward[]` member would, with one keccak per
reward, and the bank computes it without buffering struct hashes (~12,000 gas less
a push: ProductBank.vy). The typed-data dict also carries the batch itself under the
top-level key "rewards", outside what is signed, for the call that pays it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import is_address, keccak, to_checksum_address

DOMAIN_NAME = "Cascade.ProductBank"
DOMAIN_VERSION = "1"
PRIMARY_TYPE = "PushRewards"

# Field order is part of the signed type string: it must match ProductBank.vy.
TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "PushRewards": [
        {"name": "campaignId", "type": "bytes32"},
        {"name": "token", "type": "address"},
        # hash chain over the batch: one link per reward (rewards_hash)
        {"name": "rewardsHash", "type": "bytes32"},
        {"name": "nonce", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
        # the bank's distributorEpoch: a revocation bumps it and kills older signatures
        {"name": "epoch", "type": "uint256"},
    ],
}
# The type hash in each link of the rewardsHash chain.
REWARD_TYPEHASH = keccak(text="Reward(address user,uint256 amount)")

MAX_BATCH = 500  # ProductBank's DynArray bound
# ProductBank.pushFewRewards' bound: the same batch, signature and rules as pushRewards,
# with memory for 64 words instead of 500 (~3,400 gas less a push, bank and push-pull).
MAX_FEW = 64

UINT256_MAX = 2**256 - 1
# A reward travels on-chain as one word, amount << 160 | user (ProductBank and
# MultiTokenPushPull take DynArray[uint256]): an amount is below 2**96. A larger
# amount is signed and sent as several rewards of the same user, which add up.
AMOUNT_SHIFT = 160
MAX_WORD_AMOUNT = 2**96 - 1


SALT_BITS = 128  # a nonce is salt << 128 | sequence: the bank's nonce word is nonce >> 7


# ProductBank.pushFewRewardsBy: a batch of at most MAX_FEW rewards sent by a distributor
# itself, with no signature (the bank checks the sender and the epoch instead).
UNSIGNED_PUSH = "pushFewRewardsBy"


def push_function(count: int, *, signed: bool = True) -> str:
    """The ProductBank function that pays a batch of `count` rewards most cheaply.

    `signed=False`: the sender is a distributor of the bank, so a batch that fits
    MAX_FEW needs no signature.
    """
    if count > MAX_FEW:
        return "pushRewards"
    return "pushFewRewards" if signed else UNSIGNED_PUSH


def new_nonce() -> bytes:
    """A fresh random bytes32 batch nonce: never reused, but it costs the bank a fresh word.

    The push job numbers a bank's batches with sequence_nonce instead (settlement.batch_nonces).
    """
    return secrets.token_bytes(32)


def new_salt() -> int:
    """A random 128-bit salt: the top half of every nonce one nonce counter hands out."""
    return secrets.randbits(SALT_BITS)


def sequence_nonce(salt: int, sequence: int) -> bytes:
    """The bytes32 nonce salt << 128 | sequence.

    ProductBank keeps 128 nonce states per storage word (word = nonce >> 7), so
    consecutive sequences of one salt share a word: 127 pushes in 128 rewrite it.
    """
    if not 0 <= salt < 2**SALT_BITS:
        raise ValueError(f"salt must be a {SALT_BITS}-bit int, got {salt!r}")
    if not 0 <= sequence < 2**SALT_BITS:
        raise ValueError(f"sequence must be a {SALT_BITS}-bit int, got {sequence!r}")
    return (salt << SALT_BITS | sequence).to_bytes(32, "big")


def domain(chain_id: int, bank_address: str) -> dict[str, Any]:
    """The domain of one bank on one chain: a signature is valid for that bank only."""
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": _uint(chain_id, "chain_id"),
        "verifyingContract": _address(bank_address, "bank_address"),
    }


def rewards_hash(rewards: Iterable[tuple[str, int]]) -> bytes:
    """The hash chain PushRewards.rewardsHash signs, as ProductBank.pushRewards computes it."""
    chain = bytes(32)
    for user, amount in rewards:
        chain = keccak(
            chain
            + REWARD_TYPEHASH
            + bytes(12)
            + bytes.fromhex(_address(user, "reward user")[2:])
            + _amount(amount).to_bytes(32, "big")
        )
    return chain


def push_rewards_typed_data(
    *,
    chain_id: int,
    bank_address: str,
    campaign_id: bytes,
    token: str,
    rewards: Iterable[tuple[str, int]],
    nonce: bytes,
    deadline: int,
    epoch: int = 0,
) -> dict[str, Any]:
    """The full typed-data dict for one batch; JSON-serialisable (bytes32 as 0x-hex).

    Rewards are (user, amount) pairs with integer amounts > 0; a user may repeat.
    `epoch` is the bank's current distributorEpoch (0 until a distributor is
    revoked): the bank only accepts signatures made for its current epoch. The
    message signs their hash chain; the list itself is under the key "rewards".
    """
    pairs = [
        (_address(user, "reward user"), part)
        for user, amount in rewards
        for part in _word_amounts(_amount(amount))
    ]
    reward_list = [{"user": user, "amount": amount} for user, amount in pairs]
    if not reward_list:
        raise ValueError("a batch needs at least one reward")
    if len(reward_list) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} rewards, got {len(reward_list)}")
    return {
        "types": TYPES,
        "primaryType": PRIMARY_TYPE,
        "domain": domain(chain_id, bank_address),
        "message": {
            "campaignId": _bytes32_hex(campaign_id, "campaign_id"),
            "token": _address(token, "token"),
            "rewardsHash": "0x" + rewards_hash(pairs).hex(),
            "nonce": _bytes32_hex(nonce, "nonce"),
            "deadline": _uint(deadline, "deadline"),
            "epoch": _uint(epoch, "epoch"),
        },
        "rewards": reward_list,  # what rewardsHash commits to; not a typed-data field
    }


def signable(typed_data: dict[str, Any]) -> SignableMessage:
    """The EIP-191 v1 message eth-account builds from the typed data."""
    return encode_typed_data(full_message=typed_data)


def push_digest(typed_data: dict[str, Any]) -> bytes:
    """The 32-byte digest that is signed (what ProductBank.pushDigest returns)."""
    message = signable(typed_data)
    return keccak(b"\x19" + message.version + message.header + message.body)


def sign_push(private_key: str | bytes, typed_data: dict[str, Any]) -> bytes:
    """Sign a batch: 65 bytes r || s || v with v in {27, 28} and low s, as the bank requires."""
    signed = Account.sign_message(signable(typed_data), private_key=private_key)
    return bytes(signed.signature)


def recover_push_signer(typed_data: dict[str, Any], signature: bytes) -> str:
    """The checksummed address that signed the batch (to check a stored signature)."""
    return str(Account.recover_message(signable(typed_data), signature=signature))


def reward_words(rewards: Iterable[tuple[str, int]]) -> list[int]:
    """The rewards as ProductBank.pushRewards takes them: amount << 160 | user per reward.

    Each amount must be below 2**96 (push_rewards_typed_data splits larger ones).
    """
    words = []
    for user, amount in rewards:
        if not 0 < amount <= MAX_WORD_AMOUNT:
            raise ValueError(f"a reward word carries an amount in 1..2**96-1, got {amount!r}")
        words.append(amount << AMOUNT_SHIFT | int(_address(user, "reward user"), 16))
    return words


def rewards_for_call(typed_data: dict[str, Any]) -> list[int]:
    """The signed rewards as ProductBank.pushRewards takes them (reward_words)."""
    return reward_words((r["user"], r["amount"]) for r in typed_data["rewards"])


def push_call_args(
    typed_data: dict[str, Any], signature: bytes
) -> tuple[bytes, str, list[int], bytes, int, bytes]:
    """Arguments of ProductBank.pushRewards for a signed batch, in order.

    The epoch is not among them: the bank adds its current one to the digest.
    """
    message = typed_data["message"]
    return (
        bytes.fromhex(message["campaignId"][2:]),
        message["token"],
        rewards_for_call(typed_data),
        bytes.fromhex(message["nonce"][2:]),
        message["deadline"],
        bytes(signature),
    )


def _address(value: str, what: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"{what} must be a 20-byte hex address, got {value!r}")
    return str(to_checksum_address(value))


def _uint(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
        raise ValueError(f"{what} must be an int in uint256 range, got {value!r}")
    return value


def _amount(value: int) -> int:
    if _uint(value, "reward amount") == 0:
        raise ValueError("reward amount must be > 0")
    return value


def _word_amounts(amount: int) -> list[int]:
    """`amount` as parts below 2**96, the largest first: what one reward word can carry."""
    if amount > MAX_WORD_AMOUNT * MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} rewards, and {amount} needs more")
    parts = [MAX_WORD_AMOUNT] * (amount // MAX_WORD_AMOUNT)
    if amount % MAX_WORD_AMOUNT:
        parts.append(amount % MAX_WORD_AMOUNT)
    return parts


def _bytes32_hex(value: bytes | Sequence[int], what: str) -> str:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {value!r}")
    return "0x" + bytes(value).hex()
