"""The typed data a batch signs: amounts are whole base units, never 0; one reward word carries
below 2**96, a larger amount is signed as several rewards of the same user."""

from __future__ import annotations

import pytest
from eth_account import Account

from backend.settlement.eip712 import (
    push_digest,
    push_rewards_typed_data,
    rewards_for_call,
    sign_push,
)

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


@pytest.mark.parametrize("amount", [1, 2**96 - 1])
def test_typed_data__amount_one_word_carries__signed_as_given(amount):
    assert [r["amount"] for r in _typed(amount)["rewards"]] == [amount]


@pytest.mark.parametrize(
    ("amount", "parts"),
    [
        (2**96, [2**96 - 1, 1]),
        (3 * (2**96 - 1), [2**96 - 1] * 3),
        (500 * (2**96 - 1), [2**96 - 1] * 500),
    ],
)
def test_typed_data__amount_above_a_word__signed_as_several_rewards_of_the_user(amount, parts):
    typed = _typed(amount)
    assert [r["amount"] for r in typed["rewards"]] == parts
    assert {r["user"] for r in typed["rewards"]} == {USER}
    words = rewards_for_call(typed)
    assert [w >> 160 for w in words] == parts
    assert {w & (2**160 - 1) for w in words} == {int(USER, 16)}


@pytest.mark.parametrize("amount", [0, -1, 2**256])
def test_typed_data__amount_outside_uint256_or_zero__refused(amount):
    with pytest.raises(ValueError, match="reward amount"):
        _typed(amount)


@pytest.mark.parametrize("amount", [500 * (2**96 - 1) + 1, 2**256 - 1])
def test_typed_data__amount_needing_more_than_a_batch_of_words__refused_at_once(amount):
    with pytest.raises(ValueError, match="at most 500 rewards"):
        _typed(amount)


def test_push_digest__is_the_hash_the_signature_covers():
    account = Account.create()
    typed = _typed(5)

    signature = sign_push(account.key, typed)

    recovered = Account._recover_hash(push_digest(typed), signature=signature)
    assert recovered == account.address
    assert push_digest(_typed(6)) != push_digest(typed)
