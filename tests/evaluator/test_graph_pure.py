"""Referral decisions and chains as plain functions: arrival order decides, nothing loops."""

from __future__ import annotations

from backend.referrals import graph
from backend.referrals.graph import Claim, Graph
from tests.factories import wallet


def test_decide__two_claims_for_one_wallet__the_first_to_arrive_wins():
    user, first, second = wallet(), wallet(), wallet()
    found = Graph({})

    decisions = graph.decide(found, [Claim(9, user, second), Claim(4, user, first)])

    assert decisions == {4: None, 9: graph.ALREADY_REFERRED}
    assert found.chain(user) == (first,)


def test_decide__stored_referrer__already_referred():
    user = wallet()

    decisions = graph.decide(Graph({user: wallet()}), [Claim(1, user, wallet())])

    assert decisions == {1: graph.ALREADY_REFERRED}


def test_decide__cycle_through_stored_and_new_edges__refused():
    a, b, c = wallet(), wallet(), wallet()
    found = Graph({b: a})  # stored: a referred b

    decisions = graph.decide(found, [Claim(1, c, b), Claim(2, a, c)])  # c <- b, then a <- c

    assert decisions == {1: None, 2: graph.REFERRAL_CYCLE}
    assert found.chain(a) == ()


def test_decide__self_referral__refused():
    user = wallet()

    assert graph.decide(Graph({}), [Claim(1, user, user)]) == {1: graph.SELF_REFERRAL}


def test_chain__sees_only_edges_that_arrived_before_it():
    user, referrer, upstream = wallet(), wallet(), wallet()
    found = Graph({referrer: upstream})
    graph.decide(found, [Claim(5, user, referrer)])

    assert found.chain(user, before=3) == ()  # a purchase that arrived before the referral
    assert found.chain(user, before=5) == (referrer, upstream)  # the referral itself
    assert found.chain(user, before=8) == (referrer, upstream)  # a purchase after it
    assert found.chain(user, before=8, depth=1) == (referrer,)


def test_chain__loop_written_behind_the_service__terminates():
    a, b = wallet(), wallet()

    assert Graph({a: b, b: a}).chain(a) == (b,)
