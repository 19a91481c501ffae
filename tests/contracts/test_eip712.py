"""EIP-712 cross-check: the backend's signing path and the contract agree.

contracts/eip712_vector.json is a fixed vector (typed data, digest, signature)
produced by backend.settlement.eip712 for other languages to verify against;
regenerate it with CASCADE_WRITE_EIP712_VECTOR=1 after a deliberate type change.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ape import chain
from eth_account import Account
from eth_utils import keccak

from backend.core.config import ANVIL_DEV_KEYS
from backend.settlement import eip712
from tests.contracts.conftest import DISTRIBUTOR_ROLE, REPO_ROOT, hexb

VECTOR_PATH = REPO_ROOT / "contracts" / "eip712_vector.json"
REWARD_TYPE = "Reward(address user,uint256 amount)"
PUSH_TYPE = (
    "PushRewards(bytes32 campaignId,address token,bytes32 rewardsHash,bytes32 nonce,"
    "uint256 deadline,uint256 epoch)"
)


def build_vector() -> dict[str, Any]:
    key = ANVIL_DEV_KEYS[1]  # anvil's public dev key: a test vector, never a secret
    typed = eip712.push_rewards_typed_data(
        chain_id=31337,
        bank_address="0xcccccccccccccccccccccccccccccccccccccccc",
        campaign_id=keccak(text="cascade:campaign:1"),
        token="0x5fbdb2315678afecb367f032d93f642f64180aa3",
        rewards=[
            ("0x70997970c51812dc3a010c7d01b50e0d17dc79c8", 10**18),
            ("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc", 250_000),
            ("0x70997970c51812dc3a010c7d01b50e0d17dc79c8", 1),
        ],
        nonce=keccak(text="cascade:nonce:1"),
        deadline=1_767_225_600,
        epoch=2,  # non-zero, so a signer that leaves the epoch out cannot match
    )
    message = eip712.signable(typed)
    return {
        "description": (
            "EIP-712 PushRewards batch for Cascade's ProductBank (uint256 values as decimal "
            "strings; epoch is the bank's distributorEpoch()). rewardsHash is a hash chain "
            "over typedData.rewards: h0 = 32 zero bytes, hi = keccak256(h(i-1) || "
            "keccak256('Reward(address user,uint256 amount)') || user padded to 32 bytes || "
            "amount as uint256), rewardsHash = hn (rewardsChain lists h1..hn). "
            "digest = keccak256(0x1901 || "
            "domainSeparator || structHash); signature = r || s || v (v in {27, 28}, low s)."
        ),
        "typedData": _decimal_strings(typed),
        "encodeType": {"PushRewards": PUSH_TYPE, "Reward": REWARD_TYPE},
        "typeHash": {
            "PushRewards": hexb(keccak(text=PUSH_TYPE)),
            "Reward": hexb(keccak(text=REWARD_TYPE)),
        },
        "rewardsChain": _chain(typed["rewards"]),
        "domainSeparator": hexb(message.header),
        "structHash": hexb(message.body),
        "digest": hexb(eip712.push_digest(typed)),
        "privateKey": key,
        "signer": Account.from_key(key).address,
        "signature": hexb(eip712.sign_push(key, typed)),
    }


def _chain(rewards: list[dict[str, Any]]) -> list[str]:
    # each link by hand (not through eip712.rewards_hash): the vector's own check
    links, link = [], bytes(32)
    for reward in rewards:
        link = keccak(
            link
            + keccak(text=REWARD_TYPE)
            + bytes.fromhex(reward["user"][2:]).rjust(32, b"\0")
            + reward["amount"].to_bytes(32, "big")
        )
        links.append(hexb(link))
    return links


def _decimal_strings(typed: dict[str, Any]) -> dict[str, Any]:
    # uint256 values as decimal strings (the project's JSON rule: JavaScript's
    # JSON.parse would round 10**18); eth-account signs either form identically.
    out = json.loads(json.dumps(typed))
    out["domain"]["chainId"] = str(out["domain"]["chainId"])
    out["message"]["deadline"] = str(out["message"]["deadline"])
    out["message"]["epoch"] = str(out["message"]["epoch"])
    for reward in out["rewards"]:
        reward["amount"] = str(reward["amount"])
    return out


def test_vector__committed_file_matches_backend_signer():
    vector = build_vector()
    if os.environ.get("CASCADE_WRITE_EIP712_VECTOR") == "1":
        VECTOR_PATH.write_text(json.dumps(vector, indent=2) + "\n")
    assert json.loads(VECTOR_PATH.read_text()) == vector


def test_vector__rewards_hash_is_the_last_link_of_the_chain():
    vector = json.loads(VECTOR_PATH.read_text())
    assert len(vector["rewardsChain"]) == len(vector["typedData"]["rewards"]) == 3
    assert vector["typedData"]["message"]["rewardsHash"] == vector["rewardsChain"][-1]
    rewards = [(r["user"], int(r["amount"])) for r in vector["typedData"]["rewards"]]
    assert hexb(eip712.rewards_hash(rewards)) == vector["rewardsChain"][-1]
    # order and every amount are committed to
    assert eip712.rewards_hash(rewards[::-1]) != eip712.rewards_hash(rewards)
    assert eip712.rewards_hash(rewards[:2]) != eip712.rewards_hash(rewards)


def test_vector__signature_recovers_the_signer():
    vector = json.loads(VECTOR_PATH.read_text())
    signature = bytes.fromhex(vector["signature"][2:])
    assert eip712.recover_push_signer(vector["typedData"], signature) == vector["signer"]
    assert eip712.push_digest(vector["typedData"]) == bytes.fromhex(vector["digest"][2:])
    assert (
        Account._recover_hash(bytes.fromhex(vector["digest"][2:]), signature=signature)
        == (vector["signer"])
    )


def test_contract_digest_equals_eth_account_digest(funded_bank, token, campaign_id, users):
    typed = eip712.push_rewards_typed_data(
        chain_id=chain.chain_id,
        bank_address=funded_bank.address,
        campaign_id=campaign_id,
        token=token.address,
        rewards=[(users[0].address, 5), (users[1].address, 2**96 - 1), (users[0].address, 1)],
        nonce=eip712.new_nonce(),
        deadline=chain.pending_timestamp + 3600,
    )
    args = eip712.push_call_args(typed, b"")
    assert funded_bank.pushDigest(*args[:5]) == eip712.push_digest(typed)
    assert funded_bank.DOMAIN_SEPARATOR() == eip712.signable(typed).header


def test_contract_digest__uses_the_current_distributor_epoch(
    funded_bank, product_owner, stranger, token, campaign_id, users
):
    funded_bank.grantRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)
    funded_bank.revokeRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)
    assert funded_bank.distributorEpoch() == 1
    fields = {
        "chain_id": chain.chain_id,
        "bank_address": funded_bank.address,
        "campaign_id": campaign_id,
        "token": token.address,
        "rewards": [(users[0].address, 5)],
        "nonce": eip712.new_nonce(),
        "deadline": chain.pending_timestamp + 3600,
    }
    now = eip712.push_rewards_typed_data(**fields, epoch=1)
    args = eip712.push_call_args(now, b"")
    assert funded_bank.pushDigest(*args[:5]) == eip712.push_digest(now)
    assert eip712.push_digest(eip712.push_rewards_typed_data(**fields)) != eip712.push_digest(now)


def test_backend_signature_is_accepted(funded_bank, push_pull, signer, token, campaign_id, users):
    typed = eip712.push_rewards_typed_data(
        chain_id=chain.chain_id,
        bank_address=funded_bank.address,
        campaign_id=campaign_id,
        token=token.address,
        rewards=[(users[0].address, 5), (users[1].address, 9)],
        nonce=eip712.new_nonce(),
        deadline=chain.pending_timestamp + 3600,
    )
    signature = eip712.sign_push(signer.private_key, typed)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert eip712.recover_push_signer(typed, signature) == signer.address
    funded_bank.pushRewards(*eip712.push_call_args(typed, signature), sender=users[2])
    assert push_pull.getPendingAmount(token, users[1]) == 9


def test_typed_data__rejects_non_int_amounts_and_bad_sizes():
    base = {
        "chain_id": 1,
        "bank_address": "0x" + "11" * 20,
        "campaign_id": b"\x01" * 32,
        "token": "0x" + "22" * 20,
        "nonce": b"\x02" * 32,
        "deadline": 1,
    }
    user = "0x" + "33" * 20
    for rewards in ([(user, 1.5)], [(user, 0)], [(user, True)], [], [(user, 1)] * 501):
        try:
            eip712.push_rewards_typed_data(**base, rewards=rewards)
        except ValueError:
            continue
        raise AssertionError(f"accepted {rewards[:1]}")
    for bad in ({"campaign_id": b"\x01" * 31}, {"nonce": "0x" + "00" * 32}, {"epoch": -1}):
        try:
            eip712.push_rewards_typed_data(**{**base, **bad}, rewards=[(user, 1)])
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")
