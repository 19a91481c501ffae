"""ProductBank's packed nonce states: 128 nonces of 2 bits per storage word.

Consecutive nonces (the backend's salt << 128 | sequence) share a word, so a push
rewrites a non-zero word instead of setting a fresh slot; each nonce's state stays
its own: unused -> paid or unused -> cancelled, never back, whatever its neighbours do.
"""

from __future__ import annotations

import secrets

import ape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.contracts.conftest import events, hexb

UNUSED, PAID, CANCELLED = 0, 1, 2
# Offsets around a word boundary: 120..127 live in one word, 128..135 in the next.
OFFSETS = range(120, 136)


def nonce_at(salt: int, sequence: int) -> bytes:
    """The nonce the backend signs a bank's `sequence`-th batch under."""
    return (salt << 128 | sequence).to_bytes(32, "big")


def new_salt() -> int:
    return secrets.randbits(128)


def test_push__consecutive_nonces_share_a_word__the_second_costs_15k_less(
    funded_bank, signer, token, campaign_id, sign_batch, users
):
    bank, salt = funded_bank, new_salt()
    # Credit the user first, so every measured push rewrites the same non-zero pending slot.
    bank.pushRewards(*sign_batch(bank, campaign_id, token, [(users[0], 5)]), sender=signer)

    def push(sequence: int) -> int:
        args = sign_batch(bank, campaign_id, token, [(users[0], 5)], nonce=nonce_at(salt, sequence))
        return int(bank.pushRewards(*args, sender=signer).gas_used)

    first, second, next_word = push(0), push(1), push(128)

    assert first - second >= 15_000  # a fresh slot (22,100) against a rewrite (5,000)
    assert abs(next_word - first) < 1_000  # sequence 128 starts the next word
    for sequence in (0, 1, 128):
        assert bank.nonceState(nonce_at(salt, sequence)) == PAID
    for sequence in (2, 127, 129):
        assert bank.nonceState(nonce_at(salt, sequence)) == UNUSED


def test_cancel__a_paid_neighbour_in_the_same_word__only_the_unused_one_is_cancelled(
    funded_bank, signer, token, campaign_id, sign_batch, users
):
    bank, salt = funded_bank, new_salt()
    paid, neighbour, after = (nonce_at(salt, sequence) for sequence in (5, 6, 7))
    bank.pushRewards(
        *sign_batch(bank, campaign_id, token, [(users[0], 5)], nonce=paid), sender=signer
    )

    receipt = bank.cancelNonces([paid, neighbour, neighbour], sender=signer)

    assert events(receipt) == [
        ("NonceCancelled", {"nonce": hexb(neighbour), "sender": signer.address})
    ]
    assert [bank.nonceState(n) for n in (paid, neighbour, after)] == [PAID, CANCELLED, UNUSED]
    with ape.reverts("bank: nonce used"):
        bank.pushRewards(
            *sign_batch(bank, campaign_id, token, [(users[0], 5)], nonce=neighbour),
            sender=signer,
        )
    with ape.reverts("bank: nonce used"):
        bank.pushRewards(
            *sign_batch(bank, campaign_id, token, [(users[0], 5)], nonce=paid), sender=signer
        )
    bank.pushRewards(
        *sign_batch(bank, campaign_id, token, [(users[0], 5)], nonce=after), sender=signer
    )
    assert [bank.nonceState(n) for n in (paid, neighbour, after)] == [PAID, CANCELLED, PAID]


def test_nonce__lowest_and_highest_of_their_words__pay_and_cancel_on_their_own(
    funded_bank, signer, token, campaign_id, sign_batch, users
):
    bank = funded_bank
    top, zero = b"\xff" * 32, b"\x00" * 32  # bits 254..255 of the last word; bits 0..1 of word 0
    below_top = (2**256 - 2).to_bytes(32, "big")
    bank.pushRewards(
        *sign_batch(bank, campaign_id, token, [(users[0], 5)], nonce=top), sender=signer
    )
    bank.cancelNonces([zero, below_top], sender=signer)

    assert bank.nonceState(top) == PAID
    assert bank.nonceState(below_top) == CANCELLED
    assert bank.nonceState(zero) == CANCELLED
    assert bank.nonceState((1).to_bytes(32, "big")) == UNUSED
    assert bank.isNonceUsed(top) is True
    assert bank.isNonceUsed((2**256 - 3).to_bytes(32, "big")) is False


operations = st.lists(
    st.tuples(
        st.sampled_from(["push", "cancel"]),
        st.lists(st.sampled_from(OFFSETS), min_size=1, max_size=3),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_nonce_states__pushes_and_cancels_in_two_words__each_nonce_keeps_its_own_state(
    funded_bank, signer, token, campaign_id, sign_batch, users, steps
):
    bank, salt = funded_bank, new_salt()
    model = dict.fromkeys(OFFSETS, UNUSED)
    for kind, offsets in steps:
        if kind == "push":
            offset = offsets[0]
            args = sign_batch(
                bank, campaign_id, token, [(users[0], 1)], nonce=nonce_at(salt, offset)
            )
            if model[offset] == UNUSED:
                receipt = bank.pushRewards(*args, sender=signer)
                assert events(receipt)[-1][0] == "RewardsPushed"
                model[offset] = PAID
            else:
                with ape.reverts("bank: nonce used"):
                    bank.pushRewards(*args, sender=signer)
        else:
            receipt = bank.cancelNonces([nonce_at(salt, o) for o in offsets], sender=signer)
            expected = []
            for offset in offsets:
                if model[offset] == UNUSED:
                    model[offset] = CANCELLED
                    expected.append(
                        (
                            "NonceCancelled",
                            {"nonce": hexb(nonce_at(salt, offset)), "sender": signer.address},
                        )
                    )
            assert events(receipt) == expected
        assert {o: bank.nonceState(nonce_at(salt, o)) for o in OFFSETS} == model
