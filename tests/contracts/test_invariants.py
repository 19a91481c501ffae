"""Hypothesis stateful test: random deposit / allocate / sign / push / cancel / revoke / claim.

A push goes signed (pushRewards) or unsigned by the distributor itself
(pushFewRewardsBy), at random; the bank may lose its pusher right on
MultiTokenPushPull (a push is refused, a withdrawal from its book still works)
and get it back.

After every step, per token: balanceOf(pushPull) >= totalPending + the bank's book,
totalPending == sum(pending), the bank's funds (balance + book) are what the model
deposited less what it pushed and withdrew,
a capped campaign has never paid more than its budget, and every nonce is in
the state the model says (unused, paid or cancelled, never back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ape
from ape import chain
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.contracts.conftest import DISTRIBUTOR_ROLE, UNLIMITED, random_bytes32

UNUSED, PAID, CANCELLED = 0, 1, 2
amounts = st.integers(min_value=1, max_value=10**4)
budgets = st.one_of(st.integers(0, 10**6), st.just(UNLIMITED))
rewards_lists = st.lists(st.tuples(st.integers(0, 2), amounts), min_size=1, max_size=6)


@dataclass
class Signed:
    """A batch signed and kept, as the backend keeps one in flight."""

    index: int
    rewards: list[tuple[int, int]]
    args: tuple[Any, ...]
    epoch: int

    @property
    def nonce(self) -> bytes:
        return bytes(self.args[3])

    @property
    def total(self) -> int:
        return sum(amount for _, amount in self.rewards)


def test_accounting_invariants(
    deploy_bank,
    push_pull,
    token,
    no_bool_token,
    sign_batch,
    signer,
    product_owner,
    funder,
    users,
    deployer,
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
            self.epoch = 0
            self.revoked = False  # the bank's pusher right on MultiTokenPushPull
            self.kept: list[Signed] = []
            self.nonces: dict[bytes, int] = {}  # nonce -> expected nonceState
            self.funds = {
                index: 0 for index in range(len(tokens))
            }  # deposited - pushed - withdrawn

        def teardown(self) -> None:
            successful_pushes.append(self.pushes)
            chain.restore(self.snapshot)

        def remaining(self, index: int) -> int:
            budget = self.budget.get(index, 0)
            if budget is None:
                return UNLIMITED
            return budget - self.paid_since_allocation[index]

        @initialize(
            budgets=st.lists(budgets, min_size=2, max_size=2),
            funds=st.lists(st.integers(10**5, 10**6), min_size=2, max_size=2),
        )
        def fund_and_allocate(self, budgets: list[int], funds: list[int]) -> None:
            for index, (budget, amount) in enumerate(zip(budgets, funds, strict=True)):
                self.allocate(index, budget, stale_expectation=False)
                self.deposit(index, amount)

        @rule(index=st.integers(0, 1), amount=amounts)
        def deposit(self, index: int, amount: int) -> None:
            tokens[index].mint(funder, amount, sender=funder)
            tokens[index].approve(self.bank, amount, sender=funder)
            self.bank.deposit(tokens[index], amount, sender=funder)
            self.funds[index] += amount

        @rule(index=st.integers(0, 1), budget=budgets, stale_expectation=st.booleans())
        def allocate(self, index: int, budget: int, stale_expectation: bool) -> None:
            expected = self.remaining(index)
            if stale_expectation:  # what a manager read before a push landed
                with ape.reverts("bank: budget changed"):
                    self.bank.allocateCampaignBudget(
                        self.campaign, tokens[index], expected ^ 1, budget, sender=signer
                    )
                return
            self.bank.allocateCampaignBudget(
                self.campaign, tokens[index], expected, budget, sender=signer
            )
            self.budget[index] = None if budget == UNLIMITED else budget
            self.paid_since_allocation[index] = 0

        @rule(index=st.integers(0, 1), rewards=rewards_lists)
        def sign_and_keep(self, index: int, rewards: list[tuple[int, int]]) -> None:
            args = sign_batch(
                self.bank,
                self.campaign,
                tokens[index],
                [(wallets[u], amount) for u, amount in rewards],
            )
            kept = Signed(index, rewards, args, self.epoch)
            self.kept.append(kept)
            self.nonces[kept.nonce] = UNUSED

        @rule(index=st.integers(0, 1), rewards=rewards_lists, unsigned=st.booleans())
        def push(self, index: int, rewards: list[tuple[int, int]], unsigned: bool) -> None:
            self.sign_and_keep(index, rewards)
            self.send(self.kept[-1], unsigned)  # one that does not pay stays in flight

        @precondition(lambda self: self.kept)
        @rule(data=st.data(), unsigned=st.booleans())
        def push_kept(self, data: st.DataObject, unsigned: bool) -> None:
            self.send(data.draw(st.sampled_from(self.kept)), unsigned)

        # An argument and a name that sorts late: Hypothesis favours argument-free rules
        # and the first by name, and this one must not crowd out the pushes. The right
        # comes back within the step, so the pushes of later steps can still pay.
        @rule(withdraw_share=st.integers(0, 100))
        def toggle_pusher_right(self, withdraw_share: int) -> None:
            push_pull.revokePusher(self.bank, sender=deployer)
            self.revoked = True
            if self.kept:
                self.send(self.kept[0], unsigned=True)
            self.withdraw(0, withdraw_share)  # the book stays the bank's
            push_pull.authorisePusher(self.bank, sender=deployer)
            self.revoked = False
            assert push_pull.isPusher(self.bank)

        @precondition(lambda self: self.nonces)
        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            chosen = data.draw(st.lists(st.sampled_from(sorted(self.nonces)), max_size=4))
            self.bank.cancelNonces(chosen, sender=signer)
            for nonce in chosen:
                if self.nonces[nonce] == UNUSED:
                    self.nonces[nonce] = CANCELLED

        @rule()
        def revoke_and_regrant(self) -> None:
            self.bank.revokeRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)
            self.bank.grantRole(DISTRIBUTOR_ROLE, signer, sender=product_owner)
            self.epoch += 1
            if self.kept:  # what a leaked signature would try right after the revocation
                self.send(self.kept[0], unsigned=False)

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

        @rule(picks=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1)), max_size=6))
        def claim_many(self, picks: list[tuple[int, int]]) -> None:
            """A relayer's batch: any users and tokens, repeats included; each pair pays
            its pending amount once, to its user only."""
            pairs = sorted(set(picks))
            owed = {p: push_pull.getPendingAmount(tokens[p[1]], wallets[p[0]]) for p in pairs}
            held = {p: tokens[p[1]].balanceOf(wallets[p[0]]) for p in pairs}
            claims = [index << 160 | int(wallets[user].address, 16) for user, index in picks]
            receipt = push_pull.pullRewardsForMany(tokens, claims, sender=funder)
            assert receipt.return_value == sum(1 for p in pairs if owed[p])
            for user, index in pairs:
                assert (
                    tokens[index].balanceOf(wallets[user]) == held[user, index] + owed[user, index]
                )
                assert push_pull.getPendingAmount(tokens[index], wallets[user]) == 0

        @rule(index=st.integers(0, 1), share=st.integers(0, 100))
        def withdraw(self, index: int, share: int) -> None:
            each = tokens[index]
            amount = self.bank.availableFunds(each) * share // 100  # from the book too
            if amount:
                had = each.balanceOf(product_owner)
                self.bank.withdraw(each, amount, product_owner, sender=product_owner)
                assert each.balanceOf(product_owner) == had + amount
                self.funds[index] -= amount

        def send(self, kept: Signed, unsigned: bool) -> None:
            """Push a kept batch, signed or sent by the distributor itself, and check the
            bank's answer against the model."""
            each = tokens[kept.index]
            remaining = self.remaining(kept.index)
            if unsigned:  # the batch, its sender and the epoch it was made for
                function, args = self.bank.pushFewRewardsBy, (signer, *kept.args[:5], kept.epoch)
            else:
                function, args = self.bank.pushRewards, kept.args
            refusal = None
            if self.nonces[kept.nonce] != UNUSED:
                refusal = "bank: nonce used"
            elif kept.index not in self.budget:
                refusal = "bank: campaign inactive"
            elif kept.epoch != self.epoch:
                refusal = "bank: wrong epoch" if unsigned else "bank: not distributor"
            elif kept.total > remaining:
                refusal = "bank: budget exceeded"
            elif self.funds[kept.index] < kept.total:
                # a revoked bank's attempt to move its balance into its book fails first
                held = each.balanceOf(self.bank)
                refusal = (
                    "pushpull: not pusher"
                    if self.revoked and held
                    else "bank: insufficient balance"
                )
            elif self.revoked:
                refusal = "pushpull: not pusher"
            if refusal is not None:
                with ape.reverts(refusal):
                    function(*args, sender=signer)
            else:
                before = [push_pull.getPendingAmount(each, w) for w in wallets]
                function(*args, sender=signer)
                self.nonces[kept.nonce] = PAID
                self.kept.remove(kept)
                if self.budget[kept.index] is not None:
                    self.paid_since_allocation[kept.index] += kept.total
                self.pushes += 1
                self.funds[kept.index] -= kept.total
                for u, wallet in enumerate(wallets):
                    credited = sum(amount for user, amount in kept.rewards if user == u)
                    assert push_pull.getPendingAmount(each, wallet) == before[u] + credited

        @invariant()
        def push_pull_is_solvent_and_consistent(self) -> None:
            for each in tokens:
                total = push_pull.getTotalPending(each)
                assert total == sum(push_pull.getPendingAmount(each, w) for w in wallets)
                assert each.balanceOf(push_pull) >= total + push_pull.bookOf(self.bank, each)

        @invariant()
        def bank_funds_are_the_models(self) -> None:
            for index, each in enumerate(tokens):
                assert self.bank.availableFunds(each) == self.funds[index]

        @invariant()
        def bank_never_pays_beyond_budget(self) -> None:
            for index, budget in self.budget.items():
                remaining = self.bank.getCampaignBudget(self.campaign, tokens[index])
                if budget is None:
                    assert remaining == UNLIMITED
                else:
                    assert self.paid_since_allocation[index] <= budget
                    assert remaining == budget - self.paid_since_allocation[index]

        @invariant()
        def nonces_move_only_forward(self) -> None:
            assert self.bank.distributorEpoch() == self.epoch
            for nonce, state in self.nonces.items():
                assert self.bank.nonceState(nonce) == state
                assert self.bank.isNonceUsed(nonce) == (state != UNUSED)

    run_state_machine_as_test(
        Accounting,
        settings=settings(
            max_examples=10,
            stateful_step_count=14,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    # The run must have exercised paying pushes, not only reverts (stale signatures are
    # pinned one by one in bank/test_signature.py).
    assert sum(successful_pushes) >= 3, successful_pushes
