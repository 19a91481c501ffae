"""The review queue: a product's held rewards grouped by referrer, with their evidence.

Evidence is what a reviewer may see: which rules held a reward, which kinds of signal the
referee shares with its referrer (never the signals themselves), how many wallets share
a device with the group, how many of the referee's orders were refunded, and the referral
edges around the group's wallets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

MAX_HELD = 500

HELD_SQL = text(
    """
    SELECT x.id, x.interaction_id, x.wallet, x.level, x.amount, x.token, x.campaign_id,
           x.hold_reasons, x.created_at,
           (SELECT y.wallet FROM rewards AS y
            WHERE y.interaction_id = x.interaction_id AND y.campaign_id = x.campaign_id
              AND y.level = 0) AS referee,
           (SELECT y.wallet FROM rewards AS y
            WHERE y.interaction_id = x.interaction_id AND y.campaign_id = x.campaign_id
              AND y.level = 1) AS referrer
    FROM rewards AS x
    WHERE x.product_id = :product AND x.status = 'held'
    ORDER BY x.created_at, x.id
    LIMIT :limit
    """
)
SHARED_SQL = text(
    """
    SELECT k.a, k.b,
           EXISTS (SELECT 1 FROM interaction_signals AS s JOIN interaction_signals AS t
                   ON s.device_hash = t.device_hash
                   WHERE s.product_id = :product AND t.product_id = :product
                     AND s.wallet = k.a AND t.wallet = k.b) AS device,
           EXISTS (SELECT 1 FROM interaction_signals AS s JOIN interaction_signals AS t
                   ON s.ip_hash = t.ip_hash
                   WHERE s.product_id = :product AND t.product_id = :product
                     AND s.wallet = k.a AND t.wallet = k.b) AS ip,
           EXISTS (SELECT 1 FROM interaction_signals AS s JOIN interaction_signals AS t
                   ON s.passkey_hash = t.passkey_hash
                   WHERE s.product_id = :product AND t.product_id = :product
                     AND s.wallet = k.a AND t.wallet = k.b) AS passkey,
           (SELECT count(DISTINCT t.wallet) FROM interaction_signals AS s
            JOIN interaction_signals AS t ON t.product_id = s.product_id
                 AND t.device_hash = s.device_hash
            WHERE s.product_id = :product AND s.wallet = k.a) AS device_wallets
    FROM unnest(CAST(:a AS varchar[]), CAST(:b AS varchar[])) AS k(a, b)
    """
)
REFUNDED_SQL = text(
    """
    SELECT wallet, count(*) AS n FROM orders
    WHERE product_id = :product AND status = 'refunded'
      AND wallet = ANY(CAST(:wallets AS varchar[]))
    GROUP BY wallet
    """
)
EDGES_SQL = text(
    """
    SELECT wallet, referrer_wallet FROM referral_edges
    WHERE product_id = :product
      AND (referrer_wallet = ANY(CAST(:wallets AS varchar[]))
           OR wallet = ANY(CAST(:wallets AS varchar[])))
    ORDER BY interaction_id
    LIMIT 2000
    """
)


@dataclass
class HeldReward:
    id: int
    interaction_id: int
    wallet: str
    level: int
    amount: int
    token: str
    campaign_id: str
    reasons: list[str]
    created_at: datetime
    referee: str
    shares: list[str] = field(default_factory=list)  # device | ip | passkey (with referrer)
    wallets_on_device: int = 0
    refunded_orders: int = 0  # the referee's refunded orders on the product

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "interaction_id": self.interaction_id,
            "wallet": self.wallet,
            "level": self.level,
            "amount": str(self.amount),
            "token": self.token,
            "campaign_id": self.campaign_id,
            "reasons": self.reasons,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "referee": self.referee,
            "shared_with_referrer": self.shares,
            "wallets_on_referee_device": self.wallets_on_device,
            "referee_refunded_orders": self.refunded_orders,
        }


@dataclass
class HeldGroup:
    referrer: str  # the referrer of the held interactions (the referee when it has none)
    rewards: list[HeldReward]
    edges: list[tuple[str, str]]  # (wallet, its referrer) around the group's wallets

    @property
    def total(self) -> int:
        return sum(r.amount for r in self.rewards)

    @property
    def reasons(self) -> list[str]:
        return sorted({reason for r in self.rewards for reason in r.reasons})

    def as_json(self) -> dict[str, Any]:
        return {
            "referrer": self.referrer,
            "total": str(self.total),
            "reasons": self.reasons,
            "rewards": [r.as_json() for r in self.rewards],
            "graph": [{"wallet": w, "referrer": r} for w, r in self.edges],
        }


async def held_groups(
    session: AsyncSession, product_id: str, *, limit: int = MAX_HELD
) -> list[HeldGroup]:
    """The oldest `limit` held rewards of a product, grouped by referrer (largest first)."""
    rows = (await session.execute(HELD_SQL, {"product": product_id, "limit": limit})).all()
    if not rows:
        return []
    pairs = sorted({(row.referee, row.referrer) for row in rows if row.referee and row.referrer})
    shared: dict[tuple[str, str], Any] = {}
    if pairs:
        found = await session.execute(
            SHARED_SQL,
            {"product": product_id, "a": [a for a, _ in pairs], "b": [b for _, b in pairs]},
        )
        shared = {(row.a, row.b): row for row in found}
    referees = sorted({row.referee or row.wallet for row in rows})
    refunded = {
        row.wallet: int(row.n)
        for row in await session.execute(REFUNDED_SQL, {"product": product_id, "wallets": referees})
    }
    groups: dict[str, list[HeldReward]] = {}
    for row in rows:
        referee = row.referee or row.wallet
        evidence = shared.get((referee, row.referrer))
        reward = HeldReward(
            id=row.id,
            interaction_id=row.interaction_id,
            wallet=row.wallet,
            level=row.level,
            amount=int(row.amount),
            token=row.token,
            campaign_id=str(row.campaign_id),
            reasons=list(row.hold_reasons or ()),
            created_at=row.created_at,
            referee=referee,
            shares=[k for k in ("device", "ip", "passkey") if evidence and getattr(evidence, k)],
            wallets_on_device=int(evidence.device_wallets) if evidence else 0,
            refunded_orders=refunded.get(referee, 0),
        )
        groups.setdefault(row.referrer or referee, []).append(reward)
    wallets = sorted({w for held in groups.values() for r in held for w in (r.wallet, r.referee)})
    edges = [
        (row.wallet, row.referrer_wallet)
        for row in await session.execute(EDGES_SQL, {"product": product_id, "wallets": wallets})
    ]
    result = []
    for referrer, held in groups.items():
        mine = {referrer, *(r.wallet for r in held), *(r.referee for r in held)}
        around = [(w, r) for w, r in edges if w in mine or r in mine]
        result.append(HeldGroup(referrer, held, around))
    result.sort(key=lambda g: (-g.total, g.referrer))
    return result


def reward_ids(groups: Sequence[HeldGroup]) -> list[int]:
    return [r.id for g in groups for r in g.rewards]
