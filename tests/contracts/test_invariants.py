"""Hypothesis stateful test: random deposit / allocate / push / claim / withdraw.

After every step, per token: balanceOf(pushPull) >= totalPending == sum(pending),
and a capped campaign has never paid more than its budget.
"""

from __future__ import annotations

import ape
from ape import chain
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.contracts.conftest import random_bytes32

amounts = st.integers(min_value=1, max_value=10**4)


def test_accounting_invariants(
    deploy_bank, push_pull, token, no_bool_token, sign_batch, signer, product_owner, funder, users
):
    tokens = [token, no_bool_token]
    successful_pushes: list[int] = []
    wallets = users[:3]

    class Accounting(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = chain.snapshot()
            self.bank = deploy_bank()
            self.campaign = random_bytes32()
            # per token index: None = unlimited, else the budget last allocated
            self.budget: dict[int, int | None] = {}
            self.paid_since_allocation = {index: 0 for index in range(len(tokens))}
            self.pushes = 0

        def teardown(self) -> None:
            successful_pushes.append(self.pushes)
            chain.restore(self.snapshot)

        @initialize(
            budgets=st.lists(st.integers(0, 10**6), min_size=2, max_size=2),
            funds=st.lists(st.integers(10**5, 10**6), min_size=2, max_size=2),
        )
        def fund_and_allocate(self, budgets: list[int], funds: list[int]) -> None:
            for index, (budget, amount) in enumerate(zip(budgets, funds, strict=True)):
                self.allocate(index, budget)
                self.deposit(index, amount)

        @rule(index=st.integers(0, 1), amount=amounts)
        def deposit(self, index: int, amount: int) -> None:
            tokens[index].mint(funder, amount, sender=funder)
            tokens[index].approve(self.bank, amount, sender=funder)
            self.bank.deposit(tokens[index], amount, sender=funder)

        @rule(index=st.integers(0, 1), budget=st.integers(0, 10**6))
        def allocate(self, index: int, budget: int) -> None:
            self.bank.allocateCampaignBudget(self.campaign, tokens[index], budget, sender=signer)
            self.budget[index] = budget or None
            self.paid_since_allocation[index] = 0

        @rule(
            index=st.integers(0, 1),
            rewards=st.lists(st.tuples(st.integers(0, 2), amounts), min_size=1, max_size=6),
        )
        def push(self, index: int, rewards: list[tuple[int, int]]) -> None:
            each = tokens[index]
            total = sum(amount for _, amount in rewards)
            args = sign_batch(
                self.bank, self.campaign, each, [(wallets[u], amount) for u, amount in rewards]
            )
            budget = self.budget[index]
            spent = self.paid_since_allocation[index]
            if budget is not None and spent + total > budget:
                with ape.reverts("bank: budget exceeded"):
                    self.bank.pushRewards(*args, sender=signer)
            elif each.balanceOf(self.bank) < total:
                with ape.reverts("bank: insufficient balance"):
                    self.bank.pushRewards(*args, sender=signer)
            else:
                before = [push_pull.getPendingAmount(each, w) for w in wallets]
                self.bank.pushRewards(*args, sender=signer)
                self.paid_since_allocation[index] += total
                self.pushes += 1
                for u, wallet in enumerate(wallets):
                    credited = sum(amount for user, amount in rewards if user == u)
                    assert push_pull.getPendingAmount(each, wallet) == before[u] + credited

        @rule(user=st.integers(0, 2), which=st.sampled_from([[0], [1], [0, 1]]))
        def claim(self, user: int, which: list[int]) -> None:
            wallet = wallets[user]
            chosen = [tokens[i] for i in which]
            pending = [push_pull.getPendingAmount(t, wallet) for t in chosen]
            held = [t.balanceOf(wallet) for t in chosen]
            if len(chosen) == 1:
                push_pull.pullReward(chosen[0], sender=wallet)
            else:
                push_pull.pullRewardsFor(wallet, chosen, sender=funder)
            for t, owed, had in zip(chosen, pending, held, strict=True):
                assert t.balanceOf(wallet) == had + owed
                assert push_pull.getPendingAmount(t, wallet) == 0

        @rule(index=st.integers(0, 1), share=st.integers(1, 100))
        def withdraw(self, index: int, share: int) -> None:
            each = tokens[index]
            amount = each.balanceOf(self.bank) * share // 100
            if amount:
                self.bank.withdraw(each, amount, product_owner, sender=product_owner)

        @invariant()
        def push_pull_is_solvent_and_consistent(self) -> None:
            for each in tokens:
                total = push_pull.getTotalPending(each)
                assert total == sum(push_pull.getPendingAmount(each, w) for w in wallets)
                assert each.balanceOf(push_pull) >= total

        @invariant()
        def bank_never_pays_beyond_budget(self) -> None:
            for index, budget in self.budget.items():
                remaining = self.bank.getCampaignBudget(self.campaign, tokens[index])
                if budget is None:
                    assert remaining == 2**256 - 1
                else:
                    assert self.paid_since_allocation[index] <= budget
                    assert remaining == budget - self.paid_since_allocation[index]

    run_state_machine_as_test(
        Accounting,
        settings=settings(
            max_examples=8,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    # The run must have exercised paying pushes, not only reverts.
    assert sum(successful_pushes) >= 3, successful_pushes
