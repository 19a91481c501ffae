"""ProductBank.pushRewards: success, every revert, budgets, replay."""

from __future__ import annotations

import ape
from ape import chain

from tests.contracts.conftest import FUNDS, UNLIMITED, events, hexb, random_bytes32, words


def test_push__pays_batch_into_push_pull(
    funded_bank, push_pull, token, campaign_id, sign_batch, users, stranger
):
    bank = funded_bank
    args = sign_batch(bank, campaign_id, token, [(users[0], 5), (users[1], 7)])
    receipt = bank.pushRewards(*args, sender=stranger)  # anyone may relay a signed batch
    assert push_pull.getPendingAmount(token, users[0]) == 5
    assert push_pull.getPendingAmount(token, users[1]) == 7
    # the first push moved the bank's whole balance into its book, then paid from it
    assert token.balanceOf(bank) == 0
    assert token.balanceOf(push_pull) == FUNDS
    assert push_pull.bookOf(bank, token) == FUNDS - 12
    assert bank.availableFunds(token) == FUNDS - 12
    assert token.allowance(bank, push_pull) == 0
    assert bank.isNonceUsed(args[3]) is True
    added = {"token": token.address, "emitter": bank.address}
    assert events(receipt) == [
        ("Approval", {"owner": bank.address, "spender": push_pull.address, "value": FUNDS}),
        ("Transfer", {"sender": bank.address, "receiver": push_pull.address, "value": FUNDS}),
        ("BookFunded", {"pusher": bank.address, "token": token.address, "amount": FUNDS}),
        ("RewardAdded", {**added, "user": users[0].address, "amount": 5}),
        ("RewardAdded", {**added, "user": users[1].address, "amount": 7}),
        (
            "RewardsPushed",
            {
                "campaignId": hexb(campaign_id),
                "token": token.address,
                "nonce": hexb(args[3]),
                "total": 12,
                "count": 2,
            },
        ),
    ]


def test_push__later_pushes_are_paid_from_the_book_without_a_token_transfer(
    funded_bank, push_pull, token, campaign_id, sign_batch, users
):
    bank = funded_bank
    bank.pushRewards(*sign_batch(bank, campaign_id, token, [(users[0], 5)]), sender=users[2])
    token.mint(bank, 40, sender=users[2])  # a plain transfer after the book was funded
    receipt = bank.pushRewards(
        *sign_batch(bank, campaign_id, token, [(users[1], 7)]), sender=users[2]
    )
    assert [name for name, _ in events(receipt)] == ["RewardAdded", "RewardsPushed"]
    assert push_pull.bookOf(bank, token) == FUNDS - 12
    assert token.balanceOf(bank) == 40
    assert bank.availableFunds(token) == FUNDS - 12 + 40


def test_push__short_book_takes_the_banks_new_balance_then_refuses_what_it_cannot_cover(
    bank, signer, push_pull, token, sign_batch, users
):
    campaign = random_bytes32()
    bank.allocateCampaignBudget(campaign, token, 0, UNLIMITED, sender=signer)
    token.mint(bank, 10, sender=signer)
    bank.pushRewards(*sign_batch(bank, campaign, token, [(users[0], 8)]), sender=signer)
    assert (push_pull.bookOf(bank, token), token.balanceOf(bank)) == (2, 0)
    token.mint(bank, 5, sender=signer)
    bank.pushRewards(*sign_batch(bank, campaign, token, [(users[0], 6)]), sender=signer)
    assert (push_pull.bookOf(bank, token), token.balanceOf(bank)) == (1, 0)
    args = sign_batch(bank, campaign, token, [(users[1], 2)])
    with ape.reverts("bank: insufficient balance"):
        bank.pushRewards(*args, sender=signer)
    assert bank.nonceState(args[3]) == 0
    assert push_pull.getPendingAmount(token, users[0]) == 14
    assert push_pull.getTotalPending(token) == 14
    assert token.balanceOf(push_pull) == 15


def test_push__duplicate_users_add_up(
    funded_bank, push_pull, token, campaign_id, sign_batch, users
):
    rewards = [(users[0], 5), (users[1], 1), (users[0], 6), (users[0], 1)]
    funded_bank.pushRewards(*sign_batch(funded_bank, campaign_id, token, rewards), sender=users[2])
    assert push_pull.getPendingAmount(token, users[0]) == 12
    assert push_pull.getTotalPending(token) == 13


def test_push__nonce_replay_rejected(funded_bank, token, campaign_id, sign_batch, users):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    funded_bank.pushRewards(*args, sender=users[0])
    with ape.reverts("bank: nonce used"):
        funded_bank.pushRewards(*args, sender=users[0])
    # A fresh signature over the same nonce is refused too.
    again = sign_batch(funded_bank, campaign_id, token, [(users[1], 1)], nonce=args[3])
    with ape.reverts("bank: nonce used"):
        funded_bank.pushRewards(*again, sender=users[0])


def test_push__deadline(funded_bank, token, campaign_id, sign_batch, users):
    late = sign_batch(
        funded_bank, campaign_id, token, [(users[0], 5)], deadline=chain.pending_timestamp - 1
    )
    with ape.reverts("bank: deadline passed"):
        funded_bank.pushRewards(*late, sender=users[0])
    deadline = chain.pending_timestamp + 100
    on_time = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)], deadline=deadline)
    chain.pending_timestamp = deadline  # the last second still pays
    funded_bank.pushRewards(*on_time, sender=users[0])


def test_push__paused_bank(funded_bank, product_owner, token, campaign_id, sign_batch, users):
    args = sign_batch(funded_bank, campaign_id, token, [(users[0], 5)])
    funded_bank.pause(sender=product_owner)
    with ape.reverts("bank: paused"):
        funded_bank.pushRewards(*args, sender=users[0])
    funded_bank.unpause(sender=product_owner)
    funded_bank.pushRewards(*args, sender=users[0])


def test_push__empty_batch_and_zero_amount(funded_bank, token, campaign_id, sign_batch, users):
    empty = (campaign_id, token.address, [], random_bytes32(), chain.pending_timestamp + 60, b"")
    with ape.reverts("bank: empty batch"):
        funded_bank.pushRewards(*empty, sender=users[0])
    campaign, token_address, _, nonce, deadline, signature = sign_batch(
        funded_bank, campaign_id, token, [(users[0], 5)]
    )
    zero = words([(users[0].address, 5), (users[1].address, 0)])
    with ape.reverts("bank: zero amount"):
        funded_bank.pushRewards(
            campaign, token_address, zero, nonce, deadline, signature, sender=users[0]
        )


def test_push__inactive_and_deactivated_campaign(funded_bank, signer, token, sign_batch, users):
    unknown = random_bytes32()
    with ape.reverts("bank: campaign inactive"):
        funded_bank.pushRewards(
            *sign_batch(funded_bank, unknown, token, [(users[0], 1)]), sender=signer
        )
    funded_bank.allocateCampaignBudget(unknown, token, 0, UNLIMITED, sender=signer)
    args = sign_batch(funded_bank, unknown, token, [(users[0], 1)])
    funded_bank.deactivateCampaign(unknown, sender=signer)
    with ape.reverts("bank: campaign deactivated"):
        funded_bank.pushRewards(*args, sender=signer)


def test_push__budget_decrements_and_exhausts(
    funded_bank, signer, push_pull, token, sign_batch, users
):
    campaign = random_bytes32()
    funded_bank.allocateCampaignBudget(campaign, token, 0, 100, sender=signer)
    funded_bank.pushRewards(
        *sign_batch(funded_bank, campaign, token, [(users[0], 60)]), sender=signer
    )
    assert funded_bank.getCampaignBudget(campaign, token) == 40
    with ape.reverts("bank: budget exceeded"):
        funded_bank.pushRewards(
            *sign_batch(funded_bank, campaign, token, [(users[0], 30), (users[1], 11)]),
            sender=signer,
        )
    funded_bank.pushRewards(
        *sign_batch(funded_bank, campaign, token, [(users[1], 40)]), sender=signer
    )
    assert funded_bank.getCampaignBudget(campaign, token) == 0
    assert funded_bank.isCampaignActive(campaign, token) is True
    with ape.reverts("bank: budget exceeded"):
        funded_bank.pushRewards(
            *sign_batch(funded_bank, campaign, token, [(users[0], 1)]), sender=signer
        )
    assert push_pull.getTotalPending(token) == 100


def test_push__largest_words_add_up_without_wrapping(
    bank, signer, push_pull, token, sign_batch, users, stranger
):
    # The bank and MultiTokenPushPull sum a batch unchecked: 500 amounts below 2**96
    # cannot wrap. The largest amount a word carries, three times, adds up exactly.
    campaign = random_bytes32()
    largest = 2**96 - 1
    bank.allocateCampaignBudget(campaign, token, 0, 3 * largest, sender=signer)
    token.mint(bank, 3 * largest, sender=stranger)
    args = sign_batch(bank, campaign, token, [(users[0], largest), (users[1], 2 * largest)])
    assert args[2] == words([(users[0], largest), (users[1], largest), (users[1], largest)])
    bank.pushRewards(*args, sender=signer)
    assert push_pull.getPendingAmount(token, users[0]) == largest
    assert push_pull.getPendingAmount(token, users[1]) == 2 * largest
    assert push_pull.getTotalPending(token) == 3 * largest
    assert bank.getCampaignBudget(campaign, token) == 0


def test_push__insufficient_balance(bank, signer, token, sign_batch, users, stranger):
    campaign = random_bytes32()
    bank.allocateCampaignBudget(campaign, token, 0, UNLIMITED, sender=signer)
    token.mint(bank, 10, sender=stranger)
    with ape.reverts("bank: insufficient balance"):
        bank.pushRewards(*sign_batch(bank, campaign, token, [(users[0], 11)]), sender=signer)
    bank.pushRewards(*sign_batch(bank, campaign, token, [(users[0], 10)]), sender=signer)
    assert token.balanceOf(bank) == 0


def test_push__fee_on_transfer_token_reverts(bank, signer, fee_token, sign_batch, users, stranger):
    campaign = random_bytes32()
    bank.allocateCampaignBudget(campaign, fee_token, 0, UNLIMITED, sender=signer)
    fee_token.mint(bank, 10**6, sender=stranger)
    with ape.reverts("pushpull: balance mismatch"):
        bank.pushRewards(
            *sign_batch(bank, campaign, fee_token, [(users[0], 10_000)]), sender=signer
        )


def test_push__token_without_bool_return(bank, signer, push_pull, no_bool_token, sign_batch, users):
    campaign = random_bytes32()
    bank.allocateCampaignBudget(campaign, no_bool_token, 0, UNLIMITED, sender=signer)
    no_bool_token.mint(bank, 100, sender=signer)
    bank.pushRewards(*sign_batch(bank, campaign, no_bool_token, [(users[0], 70)]), sender=signer)
    assert push_pull.getPendingAmount(no_bool_token, users[0]) == 70
    assert no_bool_token.allowance(bank, push_pull) == 0
    push_pull.pullReward(no_bool_token, sender=users[0])
    assert no_bool_token.balanceOf(users[0]) == 70


def test_push__approve_returns_false__reverts_and_changes_nothing(
    bank, signer, push_pull, false_token, sign_batch, users
):
    campaign = random_bytes32()
    bank.allocateCampaignBudget(campaign, false_token, 0, 100, sender=signer)
    false_token.mint(bank, 100, sender=signer)
    false_token.setBlocked(push_pull, True, sender=signer)  # refuses to approve it
    args = sign_batch(bank, campaign, false_token, [(users[0], 30)])
    with ape.reverts("bank: approve failed"):
        bank.pushRewards(*args, sender=signer)
    assert bank.nonceState(args[3]) == 0
    assert bank.getCampaignBudget(campaign, false_token) == 100
    assert push_pull.getPendingAmount(false_token, users[0]) == 0
    false_token.setBlocked(push_pull, False, sender=signer)
    bank.pushRewards(*args, sender=signer)
    assert push_pull.getPendingAmount(false_token, users[0]) == 30


def test_push__reentrant_token_cannot_reenter_bank(
    bank, signer, product_owner, reentrant_token, sign_batch, users
):
    campaign = random_bytes32()
    bank.allocateCampaignBudget(campaign, reentrant_token, 0, UNLIMITED, sender=signer)
    reentrant_token.mint(bank, 100, sender=signer)
    steal = bank.withdraw.as_transaction(reentrant_token, 100, product_owner).data
    reentrant_token.setHook(bank, steal, sender=signer)
    bank.pushRewards(*sign_batch(bank, campaign, reentrant_token, [(users[0], 30)]), sender=signer)
    assert reentrant_token.reentryAttempts() == 1
    assert reentrant_token.lastReentrySucceeded() is False
    assert reentrant_token.balanceOf(bank) == 0  # moved into the book, 30 of it pushed
    assert bank.availableFunds(reentrant_token) == 70


def test_push__bank_revoked_as_pusher_cannot_push(
    funded_bank, push_pull, deployer, token, campaign_id, sign_batch, users
):
    push_pull.revokePusher(funded_bank, sender=deployer)
    with ape.reverts("pushpull: not pusher"):
        funded_bank.pushRewards(
            *sign_batch(funded_bank, campaign_id, token, [(users[0], 1)]), sender=users[0]
        )


def test_push__max_batch_of_500_fits_and_501_does_not(
    funded_bank, push_pull, token, campaign_id, sign_batch, users
):
    rewards = [(f"0x{index + 1:040x}", index + 1) for index in range(500)]
    receipt = funded_bank.pushRewards(
        *sign_batch(funded_bank, campaign_id, token, rewards), sender=users[0]
    )
    assert receipt.gas_used < 15_000_000
    assert push_pull.getTotalPending(token) == 500 * 501 // 2
    campaign, token_address, _, nonce, deadline, signature = sign_batch(
        funded_bank, campaign_id, token, [(users[0], 1)]
    )
    too_many = words([(users[0].address, 1)] * 501)
    with ape.reverts():
        funded_bank.pushRewards(
            campaign, token_address, too_many, nonce, deadline, signature, sender=users[0]
        )


def test_push__an_amount_above_one_word_pays_in_full_as_several_rewards(
    funded_bank, push_pull, token, campaign_id, sign_batch, users
):
    amount = 2**96 + 5  # a word carries below 2**96: signed and sent as two rewards
    args = sign_batch(funded_bank, campaign_id, token, [(users[2], amount), (users[3], 1)])
    assert len(args[2]) == 3
    receipt = funded_bank.pushRewards(*args, sender=users[0])
    assert push_pull.getPendingAmount(token, users[2]) == amount
    assert push_pull.getPendingAmount(token, users[3]) == 1
    pushed = [event for name, event in events(receipt) if name == "RewardsPushed"]
    assert (pushed[0]["total"], pushed[0]["count"]) == (amount + 1, 3)
