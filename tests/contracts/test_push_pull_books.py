"""MultiTokenPushPull's books carry the pusher's standing: a push reads no isPusher.

A push reads its pusher's book anyway; the book's word also says whether the pusher is
revoked, so a bank's push skips a cold read (2,100 gas). A caller never authorised holds
no book (funding one is a pusher's right alone), and revocation marks every book the
pusher ever held, so the rule "only authorised pushers credit" holds as before.
"""

from __future__ import annotations

import ape
from ape import project

from tests.contracts.conftest import BOOK, fund_book, words


def test_revoked__every_book_refuses_to_push__withdraw_still_works__reauthorised_pays(
    push_pull, deployer, pusher, token, token_b, users
):
    push_pull.revokePusher(pusher, sender=deployer)
    for each in (token, token_b):
        with ape.reverts("pushpull: not pusher"):
            push_pull.pushFewRewards(each, words([(users[0], 1)]), sender=pusher)
        with ape.reverts("pushpull: not pusher"):
            push_pull.pushRewards(each, words([(users[0], 1)]), sender=pusher)
        assert push_pull.bookOf(pusher, each) == BOOK  # the mark is not part of the amount
    push_pull.withdrawBook(token, 10, users[1], sender=pusher)
    assert token.balanceOf(users[1]) == 10
    assert push_pull.bookOf(pusher, token) == BOOK - 10
    with ape.reverts("pushpull: not pusher"):
        fund_book(push_pull, pusher, token, 5)
    push_pull.authorisePusher(pusher, sender=deployer)
    push_pull.pushFewRewards(token_b, words([(users[0], 7)]), sender=pusher)
    push_pull.pushRewards(token, words([(users[0], 3)]), sender=pusher)
    assert push_pull.getPendingAmount(token, users[0]) == 3
    assert push_pull.getPendingAmount(token_b, users[0]) == 7
    assert push_pull.bookOf(pusher, token) == BOOK - 13


def test_never_authorised__holds_no_book_so_pays_nothing(push_pull, token, users):
    with ape.reverts("pushpull: book too low"):
        push_pull.pushFewRewards(token, words([(users[0], 1)]), sender=users[2])
    assert push_pull.getPendingAmount(token, users[0]) == 0


def test_emptied_then_refilled__still_marked_by_a_revocation(
    push_pull, deployer, pusher, token, users
):
    push_pull.withdrawBook(token, BOOK, users[1], sender=pusher)
    assert push_pull.bookOf(pusher, token) == 0
    fund_book(push_pull, pusher, token, 40)
    assert push_pull.bookOf(pusher, token) == 40
    push_pull.revokePusher(pusher, sender=deployer)
    with ape.reverts("pushpull: not pusher"):
        push_pull.pushFewRewards(token, words([(users[0], 1)]), sender=pusher)
    push_pull.authorisePusher(pusher, sender=deployer)
    push_pull.pushFewRewards(token, words([(users[0], 40)]), sender=pusher)
    assert push_pull.bookOf(pusher, token) == 0


def test_a_pusher_holds_books_in_at_most_64_tokens(push_pull, deployer, stranger):
    push_pull.authorisePusher(stranger, sender=deployer)
    tokens = [project.MockERC20.deploy(f"T{i}", f"T{i}", 18, sender=deployer) for i in range(65)]
    for each in tokens[:64]:
        fund_book(push_pull, stranger, each, 1)
    with ape.reverts("pushpull: too many tokens"):
        fund_book(push_pull, stranger, tokens[64], 1)
    fund_book(push_pull, stranger, tokens[0], 1)  # a listed token refills
    assert push_pull.bookOf(stranger, tokens[0]) == 2
    # revocation reaches the 64th as well as the first
    push_pull.revokePusher(stranger, sender=deployer)
    with ape.reverts("pushpull: not pusher"):
        push_pull.pushFewRewards(tokens[63], words([(deployer, 1)]), sender=stranger)


def test_a_book_stays_below_its_marks(push_pull, deployer, stranger, token):
    push_pull.authorisePusher(stranger, sender=deployer)
    fund_book(push_pull, stranger, token, 2**254 - 1)
    with ape.reverts("pushpull: book too large"):
        fund_book(push_pull, stranger, token, 1)
    assert push_pull.bookOf(stranger, token) == 2**254 - 1
