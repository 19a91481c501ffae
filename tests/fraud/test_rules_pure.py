"""The fraud rules as plain values: what each rule matches, and what it leaves alone."""

from __future__ import annotations

from backend.fraud.rules import (
    DEFAULT_RULES,
    HOLD,
    REJECT,
    Evidence,
    Rule,
    Signals,
    Subject,
    compile_rules,
    judge,
)

P = "0x" + "11" * 32
A, B, C = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20


def subject(iid: int, wallet: str, referrer: str | None, *payouts, **kw) -> Subject:
    return Subject(
        iid,
        P,
        wallet,
        referrer,
        kw.get("type", "referral.referred"),
        kw.get("order_amount"),
        tuple(payouts) or ((wallet, 5),),
    )


def test_judge__referee_shares_a_device_with_its_referrer__held_with_the_reason():
    evidence = Evidence(
        signals={
            (P, A): Signals(devices=frozenset({"d1"})),
            (P, B): Signals(devices=frozenset({"d1", "d2"})),
        }
    )

    verdicts = judge([subject(1, B, A)], {P: list(DEFAULT_RULES)}, evidence)

    assert verdicts[1].action == HOLD
    assert verdicts[1].reasons == ("shared_device",)


def test_judge__different_devices_and_no_referrer__nothing_matches():
    evidence = Evidence(
        signals={
            (P, A): Signals(devices=frozenset({"d1"}), ips=frozenset({"ip"})),
            (P, B): Signals(devices=frozenset({"d2"}), ips=frozenset({"ip"})),
        }
    )
    # a shared IP alone is not a default rule (offices and carriers share addresses)
    assert judge([subject(1, B, A), subject(2, A, None)], {P: list(DEFAULT_RULES)}, evidence) == {}


def test_judge__shared_ip_rule_enabled__holds_on_the_ip():
    evidence = Evidence(
        signals={(P, A): Signals(ips=frozenset({"ip"})), (P, B): Signals(ips=frozenset({"ip"}))}
    )
    rules = {P: [Rule("shared_ip", HOLD, "same_network")]}
    assert judge([subject(1, B, A)], rules, evidence)[1].reasons == ("same_network",)


def test_judge__referrer_over_its_hourly_referrals__held_at_11_not_at_10():
    rules = {P: [Rule("referral_velocity", HOLD, "velocity", {"max_per_hour": 10})]}
    at_limit = Evidence(referred={(P, A): (10, 10)})
    over = Evidence(referred={(P, A): (11, 11)})
    assert judge([subject(1, B, A)], rules, at_limit) == {}
    assert judge([subject(1, B, A)], rules, over)[1].action == HOLD


def test_judge__wallet_earnings_accumulate_over_the_batch__only_the_crossing_reward_held():
    rules = {
        P: [Rule("wallet_earnings", HOLD, "big_earner", {"max_amount": "100", "period": "day"})]
    }
    evidence = Evidence(earned={(P, B, 86_400): 60})
    first = subject(1, B, None, (B, 40))  # 60 + 40 = 100: not more than the limit
    second = subject(2, B, None, (B, 1))  # 101
    verdicts = judge([first, second], rules, evidence)
    assert 1 not in verdicts
    assert verdicts[2].reasons == ("big_earner",)


def test_judge__purchase_below_the_minimum__rejected():
    rules = {P: [Rule("min_purchase", REJECT, "small_order", {"min_amount": "1000"})]}
    small = subject(1, B, None, type="purchase.completed", order_amount=999)
    enough = subject(2, B, None, type="purchase.completed", order_amount=1000)
    verdicts = judge([small, enough], rules, Evidence())
    assert verdicts == {1: verdicts[1]}
    assert verdicts[1].action == REJECT


def test_judge__denied_referrer_wallet__rejected_and_reject_wins_over_hold():
    rules = {
        P: [
            Rule("deny_list", REJECT, "denied", {"wallets": [C.upper().replace("0X", "0x")]}),
            Rule("shared_device", HOLD, "shared_device"),
        ]
    }
    evidence = Evidence(
        signals={
            (P, A): Signals(devices=frozenset({"d"})),
            (P, C): Signals(devices=frozenset({"d"})),
        }
    )
    verdict = judge([subject(1, A, C, (A, 5), (C, 5))], rules, evidence)[1]
    assert verdict.action == REJECT
    assert verdict.reasons == ("denied", "shared_device")


def test_judge__denied_device_hash__rejected():
    rules = {P: [Rule("deny_list", REJECT, "denied", {"devices": ["h1"]})]}
    evidence = Evidence(signals={(P, B): Signals(devices=frozenset({"h1"}))})
    assert judge([subject(1, B, None)], rules, evidence)[1].action == REJECT


def test_judge__product_without_rules__nothing_judged():
    evidence = Evidence(
        signals={
            (P, A): Signals(devices=frozenset({"d"})),
            (P, B): Signals(devices=frozenset({"d"})),
        }
    )
    assert judge([subject(1, B, A)], {}, evidence) == {}


def test_compile_rules__rules_that_can_never_match__left_out():
    rules = [
        Rule("deny_list", REJECT, "denied", {"wallets": [], "ips": [], "devices": []}),
        Rule("referral_velocity", HOLD, "velocity", {}),
        Rule("wallet_earnings", HOLD, "big", {"period": "day"}),
        Rule("min_purchase", REJECT, "small", {"min_amount": "not a number"}),
        Rule("shared_device", HOLD, "shared_device"),
    ]
    assert [c.rule.kind for c in compile_rules(rules)] == ["shared_device"]
