"""ProductBank funds: deposit (anyone) and withdraw (owner)."""

from __future__ import annotations

import ape

from tests.contracts.conftest import UNLIMITED, ZERO_ADDRESS, events, random_bytes32


def test_deposit__anyone_funds_the_bank(bank, token, funder):
    token.mint(funder, 1_000, sender=funder)
    token.approve(bank, 1_000, sender=funder)
    receipt = bank.deposit(token, 600, sender=funder)
    assert token.balanceOf(bank) == 600
    assert token.balanceOf(funder) == 400
    assert events(receipt) == [
        ("Transfer", {"sender": funder.address, "receiver": bank.address, "value": 600}),
        ("Deposited", {"token": token.address, "sender": funder.address, "amount": 600}),
    ]


def test_deposit__zero_amount_reverts(bank, token, funder):
    with ape.reverts("bank: zero amount"):
        bank.deposit(token, 0, sender=funder)


def test_deposit__fee_on_transfer_logs_what_arrived(bank, fee_token, funder):
    fee_token.mint(funder, 10_000, sender=funder)
    fee_token.approve(bank, 10_000, sender=funder)
    receipt = bank.deposit(fee_token, 10_000, sender=funder)
    assert fee_token.balanceOf(bank) == 9_900
    assert events(receipt)[-1] == (
        "Deposited",
        {"token": fee_token.address, "sender": funder.address, "amount": 9_900},
    )


def test_deposit__token_without_bool_return(bank, no_bool_token, funder):
    no_bool_token.mint(funder, 50, sender=funder)
    no_bool_token.approve(bank, 50, sender=funder)
    bank.deposit(no_bool_token, 50, sender=funder)
    assert no_bool_token.balanceOf(bank) == 50


def test_withdraw__owner_takes_any_balance(bank, token, product_owner, stranger):
    token.mint(bank, 1_000, sender=stranger)
    receipt = bank.withdraw(token, 1_000, stranger, sender=product_owner)
    assert token.balanceOf(stranger) == 1_000
    assert token.balanceOf(bank) == 0
    assert events(receipt) == [
        ("Transfer", {"sender": bank.address, "receiver": stranger.address, "value": 1_000}),
        ("Withdrawn", {"token": token.address, "to": stranger.address, "amount": 1_000}),
    ]


def test_withdraw__takes_the_balance_first_then_the_book(
    bank, signer, push_pull, token, sign_batch, product_owner, stranger, users
):
    campaign = random_bytes32()
    bank.allocateCampaignBudget(campaign, token, 0, UNLIMITED, sender=signer)
    token.mint(bank, 100, sender=stranger)
    bank.pushRewards(*sign_batch(bank, campaign, token, [(users[0], 30)]), sender=signer)
    token.mint(bank, 20, sender=stranger)  # balance 20, book 70
    with ape.reverts("bank: insufficient balance"):
        bank.withdraw(token, 91, stranger, sender=product_owner)
    receipt = bank.withdraw(token, 50, stranger, sender=product_owner)
    assert token.balanceOf(stranger) == 50
    assert (token.balanceOf(bank), push_pull.bookOf(bank, token)) == (0, 40)
    assert [name for name, _ in events(receipt)] == [
        "Transfer",  # push-pull -> stranger: 30 of the book
        "BookWithdrawn",
        "Transfer",  # bank -> stranger: its balance of 20
        "Withdrawn",
    ]
    # the users' pending rewards are out of the owner's reach
    with ape.reverts("bank: insufficient balance"):
        bank.withdraw(token, 41, stranger, sender=product_owner)
    bank.withdraw(token, 40, stranger, sender=product_owner)
    assert bank.availableFunds(token) == 0
    assert push_pull.getPendingAmount(token, users[0]) == 30
    assert token.balanceOf(push_pull) == 30


def test_fund_book__manager_moves_the_whole_balance(
    bank, signer, push_pull, token, product_owner, stranger
):
    token.mint(bank, 500, sender=stranger)
    with ape.reverts("bank: not manager"):
        bank.fundBook(token, sender=stranger)
    receipt = bank.fundBook(token, sender=signer)
    assert receipt.return_value == 500
    assert (token.balanceOf(bank), push_pull.bookOf(bank, token)) == (0, 500)
    assert token.allowance(bank, push_pull) == 0
    assert bank.fundBook(token, sender=product_owner).return_value == 0  # nothing left to move
    assert bank.availableFunds(token) == 500


def test_withdraw__reverts(bank, token, product_owner, signer, stranger):
    token.mint(bank, 1_000, sender=stranger)
    with ape.reverts("ownable: not owner"):
        bank.withdraw(token, 1, stranger, sender=signer)
    with ape.reverts("bank: insufficient balance"):
        bank.withdraw(token, 1_001, stranger, sender=product_owner)
    with ape.reverts("bank: zero amount"):
        bank.withdraw(token, 0, stranger, sender=product_owner)
    with ape.reverts("bank: zero recipient"):
        bank.withdraw(token, 1, ZERO_ADDRESS, sender=product_owner)


def test_withdraw__works_while_paused_and_with_no_bool_token(
    bank, no_bool_token, product_owner, stranger
):
    no_bool_token.mint(bank, 10, sender=stranger)
    bank.pause(sender=product_owner)
    bank.withdraw(no_bool_token, 10, product_owner, sender=product_owner)
    assert no_bool_token.balanceOf(product_owner) == 10


def test_withdraw__reentrant_token_cannot_reenter(bank, reentrant_token, product_owner):
    reentrant_token.mint(bank, 100, sender=product_owner)
    again = bank.withdraw.as_transaction(reentrant_token, 50, product_owner).data
    reentrant_token.setHook(bank, again, sender=product_owner)
    bank.withdraw(reentrant_token, 50, product_owner, sender=product_owner)
    assert reentrant_token.reentryAttempts() == 1
    assert reentrant_token.lastReentrySucceeded() is False
    assert reentrant_token.balanceOf(bank) == 50


def test_deposit__token_returns_false__reverts(bank, false_token, funder):
    false_token.mint(funder, 50, sender=funder)
    false_token.approve(bank, 50, sender=funder)
    false_token.setPaused(True, sender=funder)
    with ape.reverts("bank: transfer failed"):
        bank.deposit(false_token, 50, sender=funder)
    assert false_token.balanceOf(bank) == 0


def test_withdraw__token_returns_false__reverts_and_keeps_funds(
    bank, false_token, product_owner, stranger
):
    false_token.mint(bank, 100, sender=stranger)
    false_token.setBlocked(stranger, True, sender=stranger)
    with ape.reverts("bank: transfer failed"):
        bank.withdraw(false_token, 100, stranger, sender=product_owner)
    assert false_token.balanceOf(bank) == 100
    bank.withdraw(false_token, 100, product_owner, sender=product_owner)
    assert false_token.balanceOf(product_owner) == 100
