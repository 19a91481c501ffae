"""The engine as a function of plain values: a batch, snapshots, chains, limits -> payouts.

No database here: every money rule of evaluation is decided by `engine.evaluate`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.campaigns import engine, snapshots
from backend.campaigns.engine import EvaluationInput, Limits
from backend.campaigns.snapshots import CampaignRule, period_start
from tests.factories import wallet

E18 = 10**18
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PRODUCT = "0x" + "ab" * 32
TOKEN = "0x" + "11" * 20
SECRET = "pure-secret"


def rule(**overrides: Any) -> CampaignRule:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "product_id": PRODUCT,
        "trigger": "webshop.open",
        "token": TOKEN,
        "reward_type": "fixed",
        "reward_config": {"amount": str(10 * E18)},
        "user_bps": 5_000,
        "decay_bps": 8_000,
        "max_depth": 5,
        "requires_referral": False,
        "max_rewards_per_user": None,
        "budget_cap": 0,
        "used_budget": 0,
        "budget_period": "total",
        "period_cap": 0,
        "lockup_seconds": 0,
        "starts_at": None,
        "ends_at": None,
        "status": "active",
        "status_reason": None,
        "chain_refused": False,
        "version": 1,
        "token_decimals": 18,
    }
    row.update(overrides)
    row["reward_config"] = json.dumps(row["reward_config"])  # selected as its JSON text
    return CampaignRule.from_row([row[name] for name in snapshots.FIELDS])


def item(
    interaction_id: int, who: str | None = None, kind: str = "webshop.open"
) -> EvaluationInput:
    return EvaluationInput(interaction_id, PRODUCT, who or wallet(), kind)


def run(items, rules, chains=None, limits=None, already=None) -> engine.Outcome:
    return engine.evaluate(
        items,
        {r.id: r for r in rules},
        chains or {},
        limits or Limits(),
        secret=SECRET,
        now=NOW,
        already=already,
    )


def test_evaluate__three_interactions__one_summed_charge_and_a_row_each():
    campaign = rule()

    outcome = run([item(1), item(2), item(3)], [campaign])

    assert [(p.interaction_id, p.level, p.amount) for p in outcome.payouts] == [
        (1, 0, 10 * E18),
        (2, 0, 10 * E18),
        (3, 0, 10 * E18),
    ]
    [change] = outcome.campaigns
    assert (change.campaign_id, change.charged, change.status) == (campaign.id, 30 * E18, "active")


def test_evaluate__chain_of_three__splits_exactly_down_the_chain():
    user, r1, r2, r3 = wallet(), wallet(), wallet(), wallet()

    outcome = run([item(7, user)], [rule()], chains={7: (r1, r2, r3)})

    # B=10, U=50%, D=80%: 5, 4, 0.8, 0.2
    assert [(p.wallet, p.level, p.amount) for p in outcome.payouts] == [
        (user, 0, 5 * E18),
        (r1, 1, 4 * E18),
        (r2, 2, 8 * E18 // 10),
        (r3, 3, 2 * E18 // 10),
    ]
    assert outcome.campaigns[0].charged == 10 * E18


def test_evaluate__cap_fits_one_and_a_half__pays_one_whole_reward_then_closes():
    campaign = rule(budget_cap=15 * E18)

    outcome = run([item(1), item(2)], [campaign], chains={1: (wallet(),), 2: (wallet(),)})

    assert {p.interaction_id for p in outcome.payouts} == {1}
    assert sum(p.amount for p in outcome.payouts) == 10 * E18
    [change] = outcome.campaigns
    assert (change.charged, change.status) == (10 * E18, "budget_exhausted")


def test_evaluate__per_user_limit_with_prior_count__pays_up_to_the_limit():
    campaign = rule(max_rewards_per_user=3)
    user = wallet()
    limits = Limits(user_counts={(campaign.id, user): 1})

    outcome = run([item(i, user) for i in range(1, 6)], [campaign], limits=limits)

    assert [p.interaction_id for p in outcome.payouts] == [1, 2]
    assert outcome.users[(campaign.id, user)] == (2, 20 * E18)


def test_evaluate__daily_period_cap__stops_for_the_day_stays_active():
    campaign = rule(budget_period="daily", period_cap=25 * E18)
    start = period_start("daily", NOW)
    limits = Limits(period_used={(campaign.id, start): 5 * E18})

    outcome = run([item(i) for i in range(1, 5)], [campaign], limits=limits)

    assert len(outcome.payouts) == 2
    assert outcome.periods == {(campaign.id, start): 20 * E18}
    assert outcome.campaigns[0].status == "active"


def test_evaluate__past_ends_at__expires_and_pays_nothing():
    campaign = rule(ends_at=NOW - timedelta(seconds=1))

    outcome = run([item(1)], [campaign])

    assert outcome.payouts == []
    [change] = outcome.campaigns
    assert (change.charged, change.status, change.reason) == (0, "expired", "ends_at passed")


def test_evaluate__requires_referral_without_chain__pays_nothing():
    outcome = run([item(1)], [rule(requires_referral=True)])

    assert outcome.payouts == [] and outcome.campaigns == []


def test_evaluate__already_rewarded_campaign__skipped_other_campaign_pays():
    first, second = rule(), rule()

    outcome = run([item(1)], [first, second], already={1: {first.id}})

    assert [p.campaign_id for p in outcome.payouts] == [second.id]


def test_evaluate__other_trigger_or_product__pays_nothing():
    campaign = rule(trigger="purchase.completed")
    elsewhere = rule(product_id="0x" + "cd" * 32)

    outcome = run([item(1)], [campaign, elsewhere])

    assert outcome.payouts == []


def test_evaluate__percent_of_purchase__converts_to_token_decimals():
    campaign = rule(
        trigger="purchase.completed",
        reward_type="percent_of_purchase",
        reward_config={"bps": 1_000},
        token_decimals=6,
    )
    purchase = EvaluationInput(
        1, PRODUCT, wallet(), "purchase.completed", order_amount_e18=25 * E18
    )

    outcome = run([purchase], [campaign])

    assert [p.amount for p in outcome.payouts] == [2_500_000]  # 10% of 25.00, 6 decimals


@settings(max_examples=60, deadline=None)
@given(
    cap=st.integers(0, 200),
    amounts=st.lists(st.integers(1, 30), min_size=1, max_size=25),
    depths=st.lists(st.integers(0, 5), min_size=25, max_size=25),
)
def test_evaluate__any_batch__charge_equals_rows_and_never_exceeds_the_cap(cap, amounts, depths):
    campaigns = [rule(reward_config={"amount": str(a)}, budget_cap=cap) for a in amounts[:3]]
    items = [item(i + 1) for i in range(len(amounts))]
    chains = {i + 1: tuple(wallet() for _ in range(depths[i])) for i in range(len(amounts))}

    outcome = run(items, campaigns, chains=chains)

    for campaign in campaigns:
        paid = sum(p.amount for p in outcome.payouts if p.campaign_id == campaign.id)
        charged = sum(c.charged for c in outcome.campaigns if c.campaign_id == campaign.id)
        assert paid == charged
        assert cap == 0 or paid <= cap
        per_interaction: dict[int, int] = {}
        for p in outcome.payouts:
            if p.campaign_id == campaign.id:
                per_interaction[p.interaction_id] = (
                    per_interaction.get(p.interaction_id, 0) + p.amount
                )
        assert set(per_interaction.values()) <= {int(campaign.config.amount)}  # whole or nothing


def test_evaluate__first_reward_of_the_batch_does_not_fit__campaign_closed_nothing_charged():
    campaign = rule(budget_cap=15 * E18, used_budget=6 * E18)  # 9 left, a reward costs 10

    outcome = run([item(1)], [campaign], chains={1: (wallet(),)})

    assert outcome.payouts == []
    [change] = outcome.campaigns  # the closing is written even though nothing was charged
    assert (change.charged, change.status) == (0, "budget_exhausted")
