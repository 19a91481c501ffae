"""The referral graph's own table: one row per accepted edge.

An edge is the first valid `referral.referred` claim of a wallet on a product, decided by
the evaluator in arrival order (backend.referrals.graph). The claim itself stays an
interaction (with its flag when refused); the edge lives here so that the graph does not
depend on raw interactions, which are partitioned by time and dropped after the retention
period (backend.interactions.partitions).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Base, Bytes32


class ReferralEdge(Base):
    __tablename__ = "referral_edges"

    # the primary key is the rule: a wallet has at most one referrer per product
    product_id: Mapped[str] = Bytes32(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    wallet: Mapped[str] = Address(primary_key=True)
    referrer_wallet: Mapped[str] = Address()
    interaction_id: Mapped[int] = mapped_column(BigInteger)  # the accepted claim
    referred_at: Mapped[datetime]  # the claim's received_at

    __table_args__ = (
        # the referrer's side: its referred wallets, recent ones first (fraud velocity rules)
        Index("ix_referral_edges_referrer", "product_id", "referrer_wallet", "referred_at"),
    )
