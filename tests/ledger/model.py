"""The ledger as the brief defines it, in plain Python: what each wallet should have earned.

No database and no chain here. The state machine feeds the same actions to this
model and to the real services, then holds the two against each other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from backend.rewards.calculator import split_reward


@dataclass(frozen=True)
class Claim:
    block: int
    wallet: str
    amount: int


@dataclass
class LedgerModel:
    """One fixed-reward campaign on one product, with its referral graph and budget."""

    base: int
    user_bps: int
    decay_bps: int
    max_depth: int
    budget_cap: int  # 0 = unlimited
    known: set[str] = field(default_factory=set)
    referrer: dict[str, str] = field(default_factory=dict)
    earned: Counter[str] = field(default_factory=Counter)
    used_budget: int = 0
    exhausted: bool = False
    claims: list[Claim] = field(default_factory=list)
    given_back: int = 0  # budget returned by cancelled (refunded) rows so far

    def ancestors(self, wallet: str) -> list[str]:
        """Every referrer above `wallet`, nearest first (the graph never loops)."""
        found: list[str] = []
        current = self.referrer.get(wallet)
        while current is not None and current not in found:
            found.append(current)
            current = self.referrer.get(current)
        return found

    def refer(self, wallet: str, referrer: str) -> bool:
        """DESIGN.md referral rules: the first valid referrer wins; no self, no cycle.
        (A referrer need not be known to the product first: docs/shops.md.)"""
        accepted = (
            referrer != wallet
            and wallet not in self.referrer
            and wallet not in [referrer, *self.ancestors(referrer)]
        )
        if accepted:
            self.referrer[wallet] = referrer
        self.known.add(wallet)
        return accepted

    def visit(self, wallet: str) -> dict[str, int]:
        """The rewards one paying interaction earns, per wallet; charges the budget."""
        self.known.add(wallet)
        if self.exhausted:
            return {}
        if self.budget_cap and self.used_budget + self.base > self.budget_cap:
            self.exhausted = True
            return {}
        self.used_budget += self.base
        if self.budget_cap and self.budget_cap - self.used_budget < self.base:
            self.exhausted = True
        chain = self.ancestors(wallet)[: self.max_depth]
        parts = split_reward(self.base, self.user_bps, self.decay_bps, len(chain))
        paid = {who: amount for who, amount in zip([wallet, *chain], parts, strict=True) if amount}
        self.earned.update(paid)
        return paid

    def give_back(self, cancelled_total: int) -> None:
        """Rows of refunded interactions were cancelled (when settlement could still stop
        them): their budget returns, and a campaign closed by its cap reopens."""
        delta = cancelled_total - self.given_back
        assert delta >= 0, (cancelled_total, self.given_back)
        if delta:
            self.used_budget -= delta
            self.given_back = cancelled_total
            self.exhausted = False

    def claimed(self, wallet: str) -> int:
        return sum(claim.amount for claim in self.claims if claim.wallet == wallet)

    def reorg(self, first_replaced_block: int) -> None:
        """Claims mined in replaced blocks never happened (anvil_reorg re-includes none)."""
        self.claims = [c for c in self.claims if c.block < first_replaced_block]
