"""The typed data a batch signs: amounts are whole base units from 1 to 2**256 - 1, never 0."""

from __future__ import annotations

import pytest
from eth_account import Account

from backend.settlement.eip712 import push_digest, push_rewards_typed_data, sign_push

BANK = "0x" + "11" * 20
TOKEN = "0x" + "22" * 20
USER = "0x" + "33" * 20


def _typed(amount: int) -> dict:
    return push_rewards_typed_data(
        chain_id=31337,
        bank_address=BANK,
        campaign_id=b"\x01" * 32,
        token=TOKEN,
        rewards=[(USER, amount)],
        nonce=b"\x02" * 32,
        deadline=2**32,
    )


@pytest.mark.parametrize("amount", [1, 2**256 - 1])
def test_typed_data__amount_on_its_limit__signed_as_given(amount):
    assert [r["amount"] for r in _typed(amount)["rewards"]] == [amount]


@pytest.mark.parametrize("amount", [0, -1, 2**256])
def test_typed_data__amount_outside_uint256_or_zero__refused(amount):
    with pytest.raises(ValueError, match="reward amount"):
        _typed(amount)


def test_push_digest__is_the_hash_the_signature_covers():
    account = Account.create()
    typed = _typed(5)

    signature = sign_push(account.key, typed)

    recovered = Account._recover_hash(push_digest(typed), signature=signature)
    assert recovered == account.address
    assert push_digest(_typed(6)) != push_digest(typed)
