"""MultiTokenPushPull: pushers, pushes, pulls, views, and every revert."""

from __future__ import annotations

import ape
from ape import project

from tests.contracts.conftest import BOOK, ZERO_ADDRESS, events, fund_book, words


def test_deploy__owner_is_deployer_and_nobody_pushes(deployer, stranger):
    fresh = project.MultiTokenPushPull.deploy(sender=deployer)
    assert fresh.owner() == deployer.address
    assert fresh.isPusher(stranger) is False
    assert fresh.factory() == ZERO_ADDRESS


def test_authorise_pusher__owner_or_factory_only(push_pull, deployer, stranger, users):
    with ape.reverts("pushpull: not authoriser"):
        push_pull.authorisePusher(users[0], sender=stranger)
    receipt = push_pull.authorisePusher(users[0], sender=deployer)
    assert push_pull.isPusher(users[0]) is True
    assert events(receipt) == [
        ("PusherAuthorised", {"pusher": users[0].address, "authorisedBy": deployer.address})
    ]
    with ape.reverts("pushpull: zero pusher"):
        push_pull.authorisePusher(ZERO_ADDRESS, sender=deployer)


def test_authorise_pusher__registered_factory_may(push_pull, deployer, stranger, users):
    receipt = push_pull.setFactory(stranger, sender=deployer)
    assert events(receipt) == [("FactorySet", {"factory": stranger.address})]
    push_pull.authorisePusher(users[0], sender=stranger)
    assert push_pull.isPusher(users[0]) is True
    with ape.reverts("ownable: not owner"):
        push_pull.setFactory(users[1], sender=stranger)


def test_revoke_pusher__owner_only_and_revoked_cannot_push(
    push_pull, deployer, pusher, token, users
):
    with ape.reverts("ownable: not owner"):
        push_pull.revokePusher(pusher, sender=pusher)
    receipt = push_pull.revokePusher(pusher, sender=deployer)
    assert events(receipt) == [("PusherRevoked", {"pusher": pusher.address})]
    with ape.reverts("pushpull: not pusher"):
        push_pull.pushRewards(token, words([(users[0], 1)]), sender=pusher)


def test_push__credits_users_out_of_the_pushers_book(push_pull, pusher, token, users):
    receipt = push_pull.pushRewards(
        token, words([(users[0], 5), (users[1], 7), (users[0], 3)]), sender=pusher
    )
    assert push_pull.getPendingAmount(token, users[0]) == 8  # duplicates add up
    assert push_pull.getPendingAmount(token, users[1]) == 7
    assert push_pull.getTotalPending(token) == 15
    assert push_pull.bookOf(pusher, token) == BOOK - 15
    assert token.balanceOf(push_pull) == BOOK  # no token moved
    added = {"token": token.address, "emitter": pusher.address}
    assert events(receipt) == [
        ("RewardAdded", {**added, "user": users[0].address, "amount": 5}),
        ("RewardAdded", {**added, "user": users[1].address, "amount": 7}),
        ("RewardAdded", {**added, "user": users[0].address, "amount": 3}),
    ]


def test_push__more_than_the_book_reverts(push_pull, pusher, token, users, deployer):
    with ape.reverts("pushpull: book too low"):
        push_pull.pushRewards(token, words([(users[0], BOOK), (users[1], 1)]), sender=pusher)
    # another pusher's book is not this one's
    push_pull.authorisePusher(deployer, sender=deployer)
    with ape.reverts("pushpull: book too low"):
        push_pull.pushRewards(token, words([(users[0], 1)]), sender=deployer)
    push_pull.pushRewards(token, words([(users[0], BOOK)]), sender=pusher)
    assert push_pull.bookOf(pusher, token) == 0
    assert push_pull.getTotalPending(token) == BOOK


def test_fund_book__pusher_only_exact_amount(push_pull, pusher, token, users):
    token.mint(users[0], 50, sender=users[0])
    token.approve(push_pull, 50, sender=users[0])
    with ape.reverts("pushpull: not pusher"):
        push_pull.fundBook(token, 50, sender=users[0])
    with ape.reverts("pushpull: zero amount"):
        push_pull.fundBook(token, 0, sender=pusher)
    receipt = fund_book(push_pull, pusher, token, 50)
    assert push_pull.bookOf(pusher, token) == BOOK + 50
    assert token.allowance(pusher, push_pull) == 0
    assert events(receipt)[-1] == (
        "BookFunded",
        {"pusher": pusher.address, "token": token.address, "amount": 50},
    )


def test_withdraw_book__own_book_only_even_when_revoked(push_pull, pusher, deployer, token, users):
    push_pull.pushRewards(token, words([(users[0], 100)]), sender=pusher)
    with ape.reverts("pushpull: book too low"):
        push_pull.withdrawBook(token, 1, users[1], sender=users[1])  # holds no book
    with ape.reverts("pushpull: book too low"):
        push_pull.withdrawBook(token, BOOK - 99, users[1], sender=pusher)  # 100 were pushed
    with ape.reverts("pushpull: zero recipient"):
        push_pull.withdrawBook(token, 1, ZERO_ADDRESS, sender=pusher)
    with ape.reverts("pushpull: zero amount"):
        push_pull.withdrawBook(token, 0, users[1], sender=pusher)
    push_pull.revokePusher(pusher, sender=deployer)
    receipt = push_pull.withdrawBook(token, BOOK - 100, users[1], sender=pusher)
    assert token.balanceOf(users[1]) == BOOK - 100
    assert push_pull.bookOf(pusher, token) == 0
    assert token.balanceOf(push_pull) == push_pull.getTotalPending(token) == 100
    assert events(receipt)[-1] == (
        "BookWithdrawn",
        {
            "pusher": pusher.address,
            "token": token.address,
            "amount": BOOK - 100,
            "to": users[1].address,
        },
    )


def test_push__rejects_bad_batches(push_pull, pusher, token, users, stranger):
    with ape.reverts("pushpull: empty batch"):
        push_pull.pushRewards(token, words([]), sender=pusher)
    with ape.reverts("pushpull: zero user"):
        push_pull.pushRewards(token, words([(ZERO_ADDRESS, 1)]), sender=pusher)
    with ape.reverts("pushpull: zero amount"):
        push_pull.pushRewards(token, words([(users[0], 1), (users[1], 0)]), sender=pusher)
    with ape.reverts("pushpull: book too low"):  # never authorised: holds no book
        push_pull.pushRewards(token, words([(users[0], 1)]), sender=users[0])


def test_fund_book__fee_on_transfer_token_reverts(push_pull, pusher, fee_token):
    with ape.reverts("pushpull: balance mismatch"):
        fund_book(push_pull, pusher, fee_token, 10_000)
    assert push_pull.bookOf(pusher, fee_token) == 0


def test_push_and_pull__token_without_bool_return(push_pull, pusher, no_bool_token, users):
    fund_book(push_pull, pusher, no_bool_token, 100)
    push_pull.pushRewards(no_bool_token, words([(users[0], 40)]), sender=pusher)
    push_pull.pullReward(no_bool_token, sender=users[0])
    assert no_bool_token.balanceOf(users[0]) == 40
    assert push_pull.getTotalPending(no_bool_token) == 0


def test_pull_reward__pays_user_and_clears_pending(push_pull, pusher, token, users):
    push_pull.pushRewards(token, words([(users[0], 5), (users[1], 7)]), sender=pusher)
    receipt = push_pull.pullReward(token, sender=users[0])
    assert receipt.return_value == 5
    assert token.balanceOf(users[0]) == 5
    assert push_pull.getPendingAmount(token, users[0]) == 0
    assert push_pull.getTotalPending(token) == 7
    assert events(receipt) == [
        ("Transfer", {"sender": push_pull.address, "receiver": users[0].address, "value": 5}),
        (
            "RewardClaimed",
            {"token": token.address, "user": users[0].address, "amount": 5, "to": users[0].address},
        ),
    ]


def test_pull_reward__nothing_pending_is_a_no_op(push_pull, token, users):
    receipt = push_pull.pullReward(token, sender=users[0])
    assert receipt.return_value == 0
    assert events(receipt) == []


def test_pull_rewards__many_tokens_skip_zero_balances(
    push_pull, pusher, token, token_b, no_bool_token, users
):
    push_pull.pushRewards(token, words([(users[0], 5)]), sender=pusher)
    push_pull.pushRewards(token_b, words([(users[0], 9)]), sender=pusher)
    tokens = [token, no_bool_token, token_b]
    assert push_pull.getPendingAmounts(tokens, users[0]) == [5, 0, 9]
    receipt = push_pull.pullRewards(tokens, sender=users[0])
    assert receipt.return_value == [5, 0, 9]
    assert (token.balanceOf(users[0]), token_b.balanceOf(users[0])) == (5, 9)
    assert push_pull.getPendingAmounts(tokens, users[0]) == [0, 0, 0]
    assert [name for name, _ in events(receipt)] == [
        "Transfer",
        "RewardClaimed",
        "Transfer",
        "RewardClaimed",
    ]


def test_pull_rewards_for__anyone_triggers_tokens_go_to_user(
    push_pull, pusher, token, token_b, users, stranger
):
    push_pull.pushRewards(token, words([(users[0], 5)]), sender=pusher)
    push_pull.pushRewards(token_b, words([(users[0], 9)]), sender=pusher)
    stranger_before = token.balanceOf(stranger)
    receipt = push_pull.pullRewardsFor(users[0], [token, token_b], sender=users[1])
    assert (token.balanceOf(users[0]), token_b.balanceOf(users[0])) == (5, 9)
    assert token.balanceOf(stranger) == stranger_before
    claimed = {"token": token_b.address, "user": users[0].address, "amount": 9}
    assert ("RewardClaimed", {**claimed, "to": users[0].address}) in events(receipt)


def claim_words(tokens, pairs):
    """pullRewardsForMany's claims: (user, token) as tokenIndex << 160 | user."""
    return [tokens.index(token) << 160 | int(user.address, 16) for user, token in pairs]


def test_pull_rewards_for_many__each_user_paid_own_pending_once(
    push_pull, pusher, token, token_b, users, stranger
):
    push_pull.pushRewards(token, words([(users[0], 5), (users[1], 7)]), sender=pusher)
    push_pull.pushRewards(token_b, words([(users[0], 9)]), sender=pusher)
    tokens = [token, token_b]
    pairs = [
        (users[0], token),
        (users[1], token),
        (users[0], token_b),
        (users[0], token),  # named twice: the second finds nothing pending
        (users[2], token),  # nothing pending: skipped
    ]
    before = token.balanceOf(stranger), token_b.balanceOf(stranger)
    receipt = push_pull.pullRewardsForMany(tokens, claim_words(tokens, pairs), sender=stranger)
    assert receipt.return_value == 3
    assert (token.balanceOf(users[0]), token_b.balanceOf(users[0])) == (5, 9)
    assert (token.balanceOf(users[1]), token.balanceOf(users[2])) == (7, 0)
    assert (token.balanceOf(stranger), token_b.balanceOf(stranger)) == before
    assert push_pull.getTotalPending(token) == push_pull.getTotalPending(token_b) == 0
    claimed = [fields for name, fields in events(receipt) if name == "RewardClaimed"]
    assert claimed == [
        {"token": token.address, "user": users[0].address, "amount": 5, "to": users[0].address},
        {"token": token.address, "user": users[1].address, "amount": 7, "to": users[1].address},
        {"token": token_b.address, "user": users[0].address, "amount": 9, "to": users[0].address},
    ]


def test_pull_rewards_for_many__token_index_out_of_range__reverts_and_pays_nobody(
    push_pull, pusher, token, users, stranger
):
    push_pull.pushRewards(token, words([(users[0], 5)]), sender=pusher)
    claims = [int(users[0].address, 16), 1 << 160 | int(users[0].address, 16)]
    with ape.reverts("pushpull: bad token index"):
        push_pull.pullRewardsForMany([token], claims, sender=stranger)
    assert push_pull.getPendingAmount(token, users[0]) == 5
    assert push_pull.pullRewardsForMany([token], [], sender=stranger).return_value == 0


def test_pull_rewards_for_many__more_than_128_claims__refused(push_pull, token, users, stranger):
    claims = [int(users[0].address, 16)] * 129
    with ape.reverts():
        push_pull.pullRewardsForMany([token], claims, sender=stranger)


def test_pull__reentrant_token_cannot_reenter(push_pull, deployer, reentrant_token, users):
    push_pull.authorisePusher(deployer, sender=deployer)
    fund_book(push_pull, deployer, reentrant_token, 100)
    push_pull.pushRewards(reentrant_token, words([(users[0], 60)]), sender=deployer)
    # On transfer the token calls pullReward(token) again, as the receiving user would.
    reentrant_token.setHook(
        push_pull, push_pull.pullReward.as_transaction(reentrant_token).data, sender=deployer
    )
    push_pull.pullReward(reentrant_token, sender=users[0])
    assert reentrant_token.reentryAttempts() == 1
    assert reentrant_token.lastReentrySucceeded() is False
    assert reentrant_token.balanceOf(users[0]) == 60
    assert push_pull.getTotalPending(reentrant_token) == 0


def test_fund_book__reentrant_token_cannot_reenter(push_pull, deployer, reentrant_token, users):
    push_pull.authorisePusher(deployer, sender=deployer)
    fund_book(push_pull, deployer, reentrant_token, 10)
    # while its transferFrom runs, the token tries to push out of the book being funded
    hook = push_pull.pushRewards.as_transaction(reentrant_token, words([(users[1], 1)])).data
    reentrant_token.setHook(push_pull, hook, sender=deployer)
    fund_book(push_pull, deployer, reentrant_token, 100)
    assert reentrant_token.reentryAttempts() >= 1
    assert reentrant_token.lastReentrySucceeded() is False
    assert push_pull.getPendingAmount(reentrant_token, users[1]) == 0
    assert push_pull.bookOf(deployer, reentrant_token) == 110


def test_ownership__two_step_transfer(push_pull, deployer, stranger):
    with ape.reverts("ownable: not owner"):
        push_pull.transferOwnership(stranger, sender=stranger)
    receipt = push_pull.transferOwnership(stranger, sender=deployer)
    assert events(receipt) == [
        (
            "OwnershipTransferStarted",
            {"previousOwner": deployer.address, "newOwner": stranger.address},
        )
    ]
    assert push_pull.owner() == deployer.address
    with ape.reverts("ownable: not pending owner"):
        push_pull.acceptOwnership(sender=deployer)
    receipt = push_pull.acceptOwnership(sender=stranger)
    assert push_pull.owner() == stranger.address
    assert push_pull.pendingOwner() == ZERO_ADDRESS
    assert events(receipt) == [
        ("OwnershipTransferred", {"previousOwner": deployer.address, "newOwner": stranger.address})
    ]
