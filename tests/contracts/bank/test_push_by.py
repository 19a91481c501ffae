"""ProductBank.pushFewRewardsBy: a batch sent by a distributor itself, with no signature.

The push job sends its batches from its own key, a distributor of every bank it pays,
so the signature only repeats what the sender already proves. The sender replaces it,
and the epoch the signature's digest bound becomes an argument the bank checks. Every
other rule is the signed push's, and a nonce pays once through any of the three
functions. Through pushMany the bank takes the factory's word for the sender, which
the factory checks against its own caller.
"""

from __future__ import annotations

from typing import Any

import ape
import pytest
from ape import chain

from backend.settlement import eip712
from backend.settlement.bundles import Part, encode_parts
from tests.contracts.conftest import (
    DISTRIBUTOR_ROLE,
    UNLIMITED,
    events,
    random_bytes32,
    words,
)

SIGNED = ("pushFewRewards", "pushRewards")


def _by(
    bank: Any,
    distributor: Any,
    campaign: bytes,
    token: Any,
    rewards: list[tuple[Any, int]],
    *,
    nonce: bytes | None = None,
    deadline: int | None = None,
    epoch: int | None = None,
) -> tuple[Any, ...]:
    """pushFewRewardsBy arguments: the batch, its sender and the epoch it is made for."""
    return (
        distributor,
        campaign,
        token,
        words(rewards),
        nonce or random_bytes32(),
        chain.pending_timestamp + 3600 if deadline is None else deadline,
        bank.distributorEpoch() if epoch is None else epoch,
    )


def test_push_by__pays_exactly_as_the_signed_push(
    funded_bank, signer, push_pull, token, campaign_id, sign_batch, users
):
    bank = funded_bank
    bank.fundBook(token, sender=signer)
    shapes = []
    for unsigned, user in ((False, users[0]), (True, users[1])):
        pending = push_pull.getPendingAmount(token, user)
        shared = push_pull.getPendingAmount(token, users[2])
        book = push_pull.bookOf(bank, token)
        rewards = [(user, 5), (users[2], 7), (user, 1)]
        if unsigned:
            args = _by(bank, signer, campaign_id, token, rewards)
            receipt = bank.pushFewRewardsBy(*args, sender=signer)
            nonce = args[4]
        else:
            args = sign_batch(bank, campaign_id, token, rewards)
            receipt = bank.pushFewRewards(*args, sender=signer)
            nonce = args[3]
        assert push_pull.getPendingAmount(token, user) - pending == 6
        assert push_pull.getPendingAmount(token, users[2]) - shared == 7
        assert push_pull.bookOf(bank, token) == book - 13
        assert bank.nonceState(nonce) == 1
        shapes.append(
            [
                (name, {k: v for k, v in event.items() if k not in ("user", "nonce")})
                for name, event in events(receipt)
            ]
        )
    assert [name for name, _ in shapes[1]] == ["RewardAdded"] * 3 + ["RewardsPushed"]
    assert shapes[0] == shapes[1]


@pytest.mark.parametrize("first", ("pushFewRewardsBy", *SIGNED))
def test_push_by__a_nonce_pays_once_through_any_function(
    funded_bank, signer, token, campaign_id, sign_batch, users, first
):
    nonce = random_bytes32()
    signed = sign_batch(funded_bank, campaign_id, token, [(users[0], 3)], nonce=nonce)
    unsigned = _by(funded_bank, signer, campaign_id, token, [(users[0], 3)], nonce=nonce)
    calls = {"pushFewRewardsBy": unsigned, **{name: signed for name in SIGNED}}
    getattr(funded_bank, first)(*calls[first], sender=signer)
    for function, args in calls.items():
        with ape.reverts("bank: nonce used"):
            getattr(funded_bank, function)(*args, sender=signer)


def test_push_by__only_a_distributor_sending_it_pays(
    funded_bank, signer, product_owner, push_pull, token, campaign_id, users, stranger
):
    bank = funded_bank
    # someone else naming the distributor, or naming themselves
    with ape.reverts("bank: not distributor"):
        bank.pushFewRewardsBy(
            *_by(bank, signer, campaign_id, token, [(users[0], 1)]), sender=stranger
        )
    with ape.reverts("bank: not distributor"):
        bank.pushFewRewardsBy(
            *_by(bank, stranger, campaign_id, token, [(users[0], 1)]), sender=stranger
        )
    # a second distributor (not the one the status word holds) reads its role
    bank.grantRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)
    bank.pushFewRewardsBy(
        *_by(bank, stranger, campaign_id, token, [(users[0], 2)]), sender=stranger
    )
    assert push_pull.getPendingAmount(token, users[0]) == 2
    # revoked: refused, and the epoch it bumped refuses what was made before
    stale = _by(bank, signer, campaign_id, token, [(users[0], 4)])
    bank.revokeRole(DISTRIBUTOR_ROLE, stranger, sender=product_owner)
    with ape.reverts("bank: not distributor"):
        bank.pushFewRewardsBy(
            *_by(bank, stranger, campaign_id, token, [(users[0], 1)]), sender=stranger
        )
    assert bank.distributorEpoch() == stale[6] + 1
    with ape.reverts("bank: wrong epoch"):
        bank.pushFewRewardsBy(*stale, sender=signer)
    # an epoch the bank has not reached (a reorg took a revocation back) is refused too
    ahead = _by(bank, signer, campaign_id, token, [(users[0], 4)], epoch=stale[6] + 2)
    with ape.reverts("bank: wrong epoch"):
        bank.pushFewRewardsBy(*ahead, sender=signer)
    fresh = _by(bank, signer, campaign_id, token, [(users[0], 4)], nonce=stale[4])
    bank.pushFewRewardsBy(*fresh, sender=signer)  # the same nonce, made for the new epoch
    assert push_pull.getPendingAmount(token, users[0]) == 6


def test_push_by__refuses_what_the_signed_push_refuses_for_the_same_reason(
    funded_bank, signer, product_owner, push_pull, token, users
):
    bank = funded_bank
    live = random_bytes32()
    bank.allocateCampaignBudget(live, token, 0, 10, sender=signer)
    gone = random_bytes32()
    bank.allocateCampaignBudget(gone, token, 0, UNLIMITED, sender=signer)
    bank.deactivateCampaign(gone, sender=signer)
    used = _by(bank, signer, live, token, [(users[0], 1)])
    bank.pushFewRewardsBy(*used, sender=signer)
    one = [(users[0], 1)]
    cases = [
        ("bank: nonce used", used),
        ("bank: campaign deactivated", _by(bank, signer, gone, token, one)),
        ("bank: campaign inactive", _by(bank, signer, random_bytes32(), token, one)),
        ("bank: budget exceeded", _by(bank, signer, live, token, [(users[0], 10)])),
        (
            "bank: deadline passed",
            _by(bank, signer, live, token, one, deadline=chain.pending_timestamp - 1),
        ),
        ("bank: zero amount", _by(bank, signer, live, token, [(users[0], 0)])),
        ("bank: empty batch", _by(bank, signer, live, token, [])),
    ]
    pending = push_pull.getTotalPending(token)
    for reason, args in cases:
        with ape.reverts(reason):
            bank.pushFewRewardsBy(*args, sender=signer)
    bank.pause(sender=product_owner)
    with ape.reverts("bank: paused"):
        bank.pushFewRewardsBy(*_by(bank, signer, live, token, one), sender=signer)
    assert push_pull.getTotalPending(token) == pending
    assert bank.getCampaignBudget(live, token) == 9
    too_many = [(f"0x{index + 1:040x}", 1) for index in range(65)]
    bank.unpause(sender=product_owner)
    with ape.reverts():
        bank.pushFewRewardsBy(*_by(bank, signer, live, token, too_many), sender=signer)


def test_push_by__costs_at_least_4000_gas_less_than_the_signed_push(
    funded_bank, signer, token, campaign_id, sign_batch, users
):
    # consecutive nonces of one word, to an already credited user: only the function differs
    salt = int.from_bytes(random_bytes32()[:16], "big")
    nonces = [eip712.sequence_nonce(salt, sequence) for sequence in range(3)]
    funded_bank.pushFewRewards(
        *sign_batch(funded_bank, campaign_id, token, [(users[4], 1)], nonce=nonces[0]),
        sender=signer,
    )
    signed = funded_bank.pushFewRewards(
        *sign_batch(funded_bank, campaign_id, token, [(users[4], 1)], nonce=nonces[1]),
        sender=signer,
    ).gas_used
    unsigned = funded_bank.pushFewRewardsBy(
        *_by(funded_bank, signer, campaign_id, token, [(users[4], 1)], nonce=nonces[2]),
        sender=signer,
    ).gas_used
    assert signed - unsigned >= 4_000, (signed, unsigned)


# pushMany: the factory vouches for the sender


@pytest.fixture
def two_banks(funded_banks):
    return funded_banks(2)


def _part(product_id: bytes, bank: Any, function: str, args: tuple[Any, ...]) -> Part:
    return Part(
        "0x" + product_id.hex(), 300_000, bytes(getattr(bank, function).encode_input(*args))
    )


def test_push_many__unsigned_parts_pay_when_their_distributor_sends_the_bundle(
    factory, two_banks, push_pull, signer, token, campaign_id, sign_batch, users
):
    (first_id, first), (second_id, second) = two_banks
    unsigned = _by(first, signer, campaign_id, token, [(users[0], 11)])
    signed = sign_batch(second, campaign_id, token, [(users[1], 12)])
    parts = [
        _part(first_id, first, "pushFewRewardsBy", unsigned),
        _part(second_id, second, "pushFewRewards", signed),
    ]
    receipt = factory.pushMany(encode_parts(parts), sender=signer)
    assert receipt.return_value == 0b11
    assert push_pull.getPendingAmount(token, users[0]) == 11
    assert push_pull.getPendingAmount(token, users[1]) == 12
    assert first.nonceState(unsigned[4]) == 1


def test_push_many__an_unsigned_part_naming_someone_else_reverts_the_bundle(
    factory, two_banks, push_pull, signer, token, campaign_id, users, stranger
):
    (first_id, first), _ = two_banks
    # the distributor's batch, sent by a stranger through the factory: the bank would
    # believe the factory, so the factory refuses
    theirs = _by(first, signer, campaign_id, token, [(users[0], 11)])
    with ape.reverts("factory: not the sender"):
        factory.pushMany(
            encode_parts([_part(first_id, first, "pushFewRewardsBy", theirs)]), sender=stranger
        )
    # a stranger naming themselves passes the factory and is refused by the bank
    own = _by(first, stranger, campaign_id, token, [(users[0], 11)])
    receipt = factory.pushMany(
        encode_parts([_part(first_id, first, "pushFewRewardsBy", own)]), sender=stranger
    )
    assert receipt.return_value == 0
    assert push_pull.getPendingAmount(token, users[0]) == 0
    assert first.nonceState(own[4]) == 0
    # a part too short to name anyone
    selector = bytes(first.pushFewRewardsBy.encode_input(*own))[:4]
    with ape.reverts("factory: not the sender"):
        factory.pushMany(
            encode_parts([Part("0x" + first_id.hex(), 300_000, selector)]), sender=signer
        )
