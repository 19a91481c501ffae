"""MultiTokenPushPull against hostile tokens, and claims paid to another address.

A token that answers false, or takes more than it sends, must never clear a
pending balance it did not pay, nor leave balanceOf(pushPull) < totalPending.
"""

from __future__ import annotations

import ape
import pytest

from tests.contracts.conftest import ZERO_ADDRESS, events, fund_book, words


@pytest.fixture
def pusher(push_pull, deployer, stranger):
    """An EOA authorised as pusher (tokens are minted and approved per test)."""
    push_pull.authorisePusher(stranger, sender=deployer)
    return stranger


def _push(push_pull, pusher, token, rewards):
    fund_book(push_pull, pusher, token, sum(amount for _, amount in rewards))
    push_pull.pushRewards(token, words(rewards), sender=pusher)


def test_pull_for__token_returns_false__victim_keeps_pending(
    push_pull, pusher, false_token, users, stranger
):
    victim = users[0]
    _push(push_pull, pusher, false_token, [(victim, 50)])
    false_token.setBlocked(victim, True, sender=stranger)  # e.g. a blocklisted recipient

    with ape.reverts("pushpull: transfer failed"):
        push_pull.pullRewardsFor(victim, [false_token], sender=stranger)

    assert push_pull.getPendingAmount(false_token, victim) == 50
    assert push_pull.getTotalPending(false_token) == 50
    assert false_token.balanceOf(push_pull) == 50
    # Once the token lets it through, the same claim pays in full.
    false_token.setBlocked(victim, False, sender=stranger)
    push_pull.pullRewardsFor(victim, [false_token], sender=stranger)
    assert false_token.balanceOf(victim) == 50
    assert push_pull.getTotalPending(false_token) == 0


def test_pull_for_many__one_users_transfer_fails__whole_batch_reverts_and_all_keep_pending(
    push_pull, pusher, false_token, users, stranger
):
    _push(push_pull, pusher, false_token, [(users[0], 50), (users[1], 20)])
    false_token.setBlocked(users[1], True, sender=stranger)
    claims = [int(users[0].address, 16), int(users[1].address, 16)]
    with ape.reverts("pushpull: transfer failed"):
        push_pull.pullRewardsForMany([false_token], claims, sender=stranger)
    assert push_pull.getPendingAmount(false_token, users[0]) == 50
    assert push_pull.getPendingAmount(false_token, users[1]) == 20
    assert push_pull.getTotalPending(false_token) == 70


def test_pull__paused_token_returns_false__pending_kept(push_pull, pusher, false_token, users):
    _push(push_pull, pusher, false_token, [(users[0], 8)])
    false_token.setPaused(True, sender=users[0])
    with ape.reverts("pushpull: transfer failed"):
        push_pull.pullReward(false_token, sender=users[0])
    assert push_pull.getPendingAmount(false_token, users[0]) == 8


def test_fund_book__transfer_from_returns_false__reverts(push_pull, pusher, false_token):
    false_token.mint(pusher, 100, sender=pusher)
    false_token.approve(push_pull, 100, sender=pusher)
    false_token.setPaused(True, sender=pusher)
    with ape.reverts("pushpull: transfer failed"):
        push_pull.fundBook(false_token, 100, sender=pusher)
    assert push_pull.bookOf(pusher, false_token) == 0


def test_withdraw_book__token_returns_false__book_kept(push_pull, pusher, false_token, users):
    fund_book(push_pull, pusher, false_token, 100)
    false_token.setBlocked(users[0], True, sender=pusher)
    with ape.reverts("pushpull: transfer failed"):
        push_pull.withdrawBook(false_token, 40, users[0], sender=pusher)
    assert push_pull.bookOf(pusher, false_token) == 100


def test_pull__token_charging_the_sender__reverts_and_stays_solvent(
    push_pull, pusher, sender_fee_token, users
):
    # Pushing works (this contract receives exactly the total, the pusher pays the fee) ...
    sender_fee_token.mint(pusher, 10**6, sender=pusher)  # the sender's fee comes from here
    _push(push_pull, pusher, sender_fee_token, [(users[0], 100), (users[1], 100)])
    assert sender_fee_token.balanceOf(push_pull) == 200
    # ... but paying out would take 101 from this contract for 100 of pending.
    with ape.reverts("pushpull: balance mismatch"):
        push_pull.pullReward(sender_fee_token, sender=users[0])
    assert push_pull.getTotalPending(sender_fee_token) == 200
    assert sender_fee_token.balanceOf(push_pull) == 200
    assert push_pull.getPendingAmount(sender_fee_token, users[0]) == 100


def test_pull_rewards_to__pays_the_callers_own_pending_to_another_address(
    push_pull, pusher, token, token_b, users
):
    user, recipient = users[0], users[3]
    _push(push_pull, pusher, token, [(user, 5), (users[1], 4)])
    _push(push_pull, pusher, token_b, [(user, 9)])
    before = (token.balanceOf(user), token_b.balanceOf(user))

    receipt = push_pull.pullRewardsTo([token, token_b], recipient, sender=user)

    assert receipt.return_value == [5, 9]
    assert (token.balanceOf(recipient), token_b.balanceOf(recipient)) == (5, 9)
    assert (token.balanceOf(user), token_b.balanceOf(user)) == before
    assert push_pull.getPendingAmounts([token, token_b], user) == [0, 0]
    assert push_pull.getPendingAmount(token, users[1]) == 4
    assert push_pull.getTotalPending(token) == 4
    claimed = {"user": user.address, "to": recipient.address}
    assert events(receipt) == [
        ("Transfer", {"sender": push_pull.address, "receiver": recipient.address, "value": 5}),
        ("RewardClaimed", {"token": token.address, **claimed, "amount": 5}),
        ("Transfer", {"sender": push_pull.address, "receiver": recipient.address, "value": 9}),
        ("RewardClaimed", {"token": token_b.address, **claimed, "amount": 9}),
    ]


def test_pull_rewards_to__cannot_move_anyone_elses_rewards(
    push_pull, pusher, token, users, stranger
):
    _push(push_pull, pusher, token, [(users[0], 5)])
    receipt = push_pull.pullRewardsTo([token], stranger, sender=users[1])
    assert receipt.return_value == [0]
    assert events(receipt) == []
    assert push_pull.getPendingAmount(token, users[0]) == 5


def test_pull_rewards_to__zero_recipient_reverts(push_pull, pusher, token, users):
    _push(push_pull, pusher, token, [(users[0], 5)])
    with ape.reverts("pushpull: zero recipient"):
        push_pull.pullRewardsTo([token], ZERO_ADDRESS, sender=users[0])
    assert push_pull.getPendingAmount(token, users[0]) == 5


def test_pull_rewards_to__blocked_recipient_keeps_pending(
    push_pull, pusher, false_token, users, stranger
):
    _push(push_pull, pusher, false_token, [(users[0], 7)])
    false_token.setBlocked(stranger, True, sender=stranger)
    with ape.reverts("pushpull: transfer failed"):
        push_pull.pullRewardsTo([false_token], stranger, sender=users[0])
    assert push_pull.getPendingAmount(false_token, users[0]) == 7
