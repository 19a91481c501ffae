"""ProductBank.pushFewRewards: pushRewards' batch, signature and rules with a bound of 64.

The backend sends a batch of at most 64 rewards through it (eip712.push_function): the
same signed batch pays the same way through either function, is refused for the same
reason by both, and its nonce pays once whichever function it goes through.
"""

from __future__ import annotations

from typing import Any

import ape
import pytest
from ape import chain

from backend.settlement import eip712
from tests.contracts.conftest import UNLIMITED, events, random_bytes32, words

BOTH = ("pushRewards", "pushFewRewards")


def test_push_few__pays_exactly_as_push_rewards(
    funded_bank, signer, push_pull, token, campaign_id, sign_batch, users, stranger
):
    bank = funded_bank
    bank.fundBook(token, sender=signer)  # both pushes pay from the book: the same events
    shapes = []
    for function, user in zip(BOTH, (users[0], users[1]), strict=True):
        pending = push_pull.getPendingAmount(token, user)
        shared = push_pull.getPendingAmount(token, users[2])
        book = push_pull.bookOf(bank, token)
        args = sign_batch(bank, campaign_id, token, [(user, 5), (users[2], 7), (user, 1)])
        receipt = getattr(bank, function)(*args, sender=stranger)
        assert push_pull.getPendingAmount(token, user) - pending == 6
        assert push_pull.getPendingAmount(token, users[2]) - shared == 7
        assert push_pull.bookOf(bank, token) == book - 13
        assert bank.nonceState(args[3]) == 1
        # the events, less the fields the two batches differ in
        shapes.append(
            [
                (name, {k: v for k, v in event.items() if k not in ("user", "nonce")})
                for name, event in events(receipt)
            ]
        )
    assert [name for name, _ in shapes[1]] == ["RewardAdded"] * 3 + ["RewardsPushed"]
    assert shapes[0] == shapes[1]


@pytest.mark.parametrize("first", BOTH)
def test_push_few__a_nonce_pays_once_through_either_function(
    funded_bank, token, campaign_id, sign_batch, users, first
):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 3)])
    getattr(funded_bank, first)(*args, sender=users[0])
    for function in BOTH:
        with ape.reverts("bank: nonce used"):
            getattr(funded_bank, function)(*args, sender=users[0])


def _refusals(bank: Any, signer: Any, token: Any, sign_batch: Any, users: Any) -> list[Any]:
    """(reason, args) pairs, each refused by the bank as it stands."""
    live = random_bytes32()
    bank.allocateCampaignBudget(live, token, 0, 10, sender=signer)
    gone = random_bytes32()
    bank.allocateCampaignBudget(gone, token, 0, UNLIMITED, sender=signer)
    gone_args = sign_batch(bank, gone, token, [(users[0], 1)])
    bank.deactivateCampaign(gone, sender=signer)
    used = sign_batch(bank, live, token, [(users[0], 1)])
    bank.pushFewRewards(*used, sender=signer)
    campaign, token_address, _, nonce, deadline, signature = sign_batch(
        bank, live, token, [(users[0], 1)]
    )
    stranger_key = "0x" + "11" * 32
    return [
        ("bank: nonce used", used),
        ("bank: campaign deactivated", gone_args),
        ("bank: campaign inactive", sign_batch(bank, random_bytes32(), token, [(users[0], 1)])),
        ("bank: budget exceeded", sign_batch(bank, live, token, [(users[0], 10)])),
        (
            "bank: deadline passed",
            sign_batch(bank, live, token, [(users[0], 1)], deadline=chain.pending_timestamp - 1),
        ),
        (
            "bank: not distributor",
            sign_batch(bank, live, token, [(users[0], 1)], key=stranger_key),
        ),
        (
            "bank: zero amount",
            (campaign, token_address, words([(users[0], 0)]), nonce, deadline, signature),
        ),
        ("bank: empty batch", (campaign, token_address, [], nonce, deadline, signature)),
        (
            "bank: bad signature",
            (campaign, token_address, words([(users[0], 1)]), nonce, deadline, b"\x01" * 64),
        ),
    ]


def test_push_few__refuses_what_push_rewards_refuses_for_the_same_reason(
    funded_bank, signer, push_pull, token, sign_batch, users
):
    cases = _refusals(funded_bank, signer, token, sign_batch, users)
    pending = push_pull.getTotalPending(token)
    for reason, args in cases:
        for function in BOTH:
            with ape.reverts(reason):
                getattr(funded_bank, function)(*args, sender=users[0])
    assert push_pull.getTotalPending(token) == pending


def test_push_few__paused_and_unfunded_banks_refuse_through_both(
    bank, signer, product_owner, token, sign_batch, users
):
    campaign = random_bytes32()
    bank.allocateCampaignBudget(campaign, token, 0, UNLIMITED, sender=signer)
    args = sign_batch(bank, campaign, token, [(users[0], 10**30)])
    for function in BOTH:
        with ape.reverts("bank: insufficient balance"):
            getattr(bank, function)(*args, sender=users[0])
    bank.pause(sender=product_owner)
    for function in BOTH:
        with ape.reverts("bank: paused"):
            getattr(bank, function)(*args, sender=users[0])
    bank.unpause(sender=product_owner)


def test_push_few__64_rewards_fit_and_65_do_not(
    funded_bank, push_pull, token, campaign_id, sign_batch, users
):
    rewards = [(f"0x{index + 1:040x}", index + 1) for index in range(64)]
    before = push_pull.getTotalPending(token)
    funded_bank.pushFewRewards(
        *sign_batch(funded_bank, campaign_id, token, rewards), sender=users[0]
    )
    assert push_pull.getTotalPending(token) - before == 64 * 65 // 2
    too_many = [(f"0x{index + 1:040x}", 1) for index in range(65)]
    args = sign_batch(funded_bank, campaign_id, token, too_many)
    with ape.reverts():
        funded_bank.pushFewRewards(*args, sender=users[0])
    funded_bank.pushRewards(*args, sender=users[0])  # the same signed batch, the larger bound
    assert eip712.push_function(64) == "pushFewRewards"
    assert eip712.push_function(65) == "pushRewards"


def test_push_few__a_one_reward_push_costs_at_least_3000_gas_less(
    funded_bank, token, campaign_id, sign_batch, users
):
    # consecutive nonces of one word, to an already credited user: only the function differs
    salt = int.from_bytes(random_bytes32()[:16], "big")
    funded_bank.pushRewards(
        *sign_batch(funded_bank, campaign_id, token, [(users[4], 1)], nonce=_nonce(salt, 0)),
        sender=users[0],
    )
    gas = {}
    for sequence, function in enumerate(BOTH, start=1):
        args = sign_batch(
            funded_bank, campaign_id, token, [(users[4], 1)], nonce=_nonce(salt, sequence)
        )
        gas[function] = getattr(funded_bank, function)(*args, sender=users[0]).gas_used
    assert gas["pushRewards"] - gas["pushFewRewards"] >= 3_000, gas


def _nonce(salt: int, sequence: int) -> bytes:
    return eip712.sequence_nonce(salt, sequence)


def test_push_pull_few__credits_from_the_book_and_checks_the_pusher(
    push_pull, deployer, token, users, stranger
):
    push_pull.authorisePusher(stranger, sender=deployer)
    token.mint(stranger, 100, sender=stranger)
    token.approve(push_pull, 100, sender=stranger)
    push_pull.fundBook(token, 100, sender=stranger)
    push_pull.pushFewRewards(token, words([(users[3], 30), (users[4], 20)]), sender=stranger)
    assert push_pull.getPendingAmount(token, users[3]) == 30
    assert push_pull.bookOf(stranger, token) == 50
    with ape.reverts("pushpull: book too low"):
        push_pull.pushFewRewards(token, words([(users[3], 51)]), sender=stranger)
    with ape.reverts("pushpull: empty batch"):
        push_pull.pushFewRewards(token, [], sender=stranger)
    with ape.reverts("pushpull: zero user"):
        push_pull.pushFewRewards(token, [5 << 160], sender=stranger)
    push_pull.revokePusher(stranger, sender=deployer)
    with ape.reverts("pushpull: not pusher"):
        push_pull.pushFewRewards(token, words([(users[3], 1)]), sender=stranger)
