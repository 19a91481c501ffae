"""The referral rules as plain functions: which claimed edges a batch accepts, and chains.

A product's graph is a forest: each wallet has at most one referrer. A batch of
stored `referral.referred` interactions is decided in arrival order against the
edges already stored (`parents`) plus those the batch itself accepted before:
the first valid referrer of a wallet wins; a referrer whose own ancestry holds the
wallet would close a cycle. A chain read for an interaction sees exactly the edges
accepted before that interaction arrived, so "referral, then purchase" in one batch
pays the referrer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from backend.rewards.calculator import MAX_LEVELS

SELF_REFERRAL = "self_referral"
REFERRAL_CYCLE = "referral_cycle"
CROSS_PRODUCT = "cross_product_referrer"
ALREADY_REFERRED = "already_referred"
INVALID_REFERRAL = "invalid_referral"  # its signed token no longer reads (secret rotated)

ANCESTOR_LIMIT = 10_000  # a cycle check walks at most this far up


@dataclass(frozen=True)
class Claim:
    """A stored referral.referred: `referrer` asks to become `wallet`'s referrer."""

    interaction_id: int
    wallet: str
    referrer: str


@dataclass
class Graph:
    """One product's edges: stored ones and those accepted by the batch, with their position."""

    parents: Mapping[str, str]
    added: dict[str, tuple[int, str]] = field(default_factory=dict)  # wallet -> (id, referrer)

    def parent(self, wallet: str, before: int | None = None) -> str | None:
        """`wallet`'s referrer as seen by the interaction `before` (None: after the batch);
        a referral's own accepted edge counts for itself (it pays its referrer)."""
        found = self.parents.get(wallet)
        if found is not None:
            return found
        added = self.added.get(wallet)
        if added is not None and (before is None or added[0] <= before):
            return added[1]
        return None

    def chain(
        self, wallet: str, before: int | None = None, depth: int = MAX_LEVELS
    ) -> tuple[str, ...]:
        """Up to `depth` referrers of `wallet`, nearest first; never loops."""
        found: list[str] = []
        seen = {wallet}
        current = wallet
        while len(found) < depth:
            parent = self.parent(current, before)
            if parent is None or parent in seen:
                break
            found.append(parent)
            seen.add(parent)
            current = parent
        return tuple(found)

    def reaches(self, start: str, target: str) -> bool:
        """Whether `target` is `start` or one of its ancestors."""
        seen: set[str] = set()
        current: str | None = start
        while current is not None and current not in seen and len(seen) <= ANCESTOR_LIMIT:
            if current == target:
                return True
            seen.add(current)
            current = self.parent(current)
        return False


def decide(graph: Graph, claims: Iterable[Claim]) -> dict[int, str | None]:
    """Accept or flag each claim in order; accepted ones join `graph.added`.

    Returns the flag per interaction id (None: the edge is recorded).
    """
    decisions: dict[int, str | None] = {}
    for claim in sorted(claims, key=lambda c: c.interaction_id):
        if claim.referrer == claim.wallet:
            decisions[claim.interaction_id] = SELF_REFERRAL
        elif graph.parent(claim.wallet) is not None:
            decisions[claim.interaction_id] = ALREADY_REFERRED
        elif graph.reaches(claim.referrer, claim.wallet):
            decisions[claim.interaction_id] = REFERRAL_CYCLE
        else:
            graph.added[claim.wallet] = (claim.interaction_id, claim.referrer)
            decisions[claim.interaction_id] = None
    return decisions
