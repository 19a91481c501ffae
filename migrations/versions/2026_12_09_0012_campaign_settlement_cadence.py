"""campaigns: when their rewards settle (as soon as possible, or on a queue size, value or wait)

A push costs a fixed ~150k gas whatever it carries, so a thin campaign settling every
cycle pays that for one or two rewards. The owner may let a campaign's queue grow:
it settles when `settle_min_rewards` rewards or `settle_min_amount` base units are ready,
and at the latest once its oldest ready reward has waited `settle_max_wait_s`.
0 (the default) keeps the old behaviour: every cycle.

Revision ID: 0012_campaign_settlement_cadence
Revises: 0011_fraud_refund_history
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_campaign_settlement_cadence"
down_revision: str | None = "0011_fraud_refund_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("settle_max_wait_s", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("campaigns", sa.Column("settle_min_rewards", sa.Integer(), nullable=True))
    op.add_column("campaigns", sa.Column("settle_min_amount", sa.Numeric(78, 0), nullable=True))
    op.create_check_constraint(
        op.f("ck_campaigns_settle_max_wait_range"),
        "campaigns",
        "settle_max_wait_s BETWEEN 0 AND 604800",
    )
    op.create_check_constraint(
        op.f("ck_campaigns_settle_min_rewards_positive"),
        "campaigns",
        "settle_min_rewards IS NULL OR settle_min_rewards > 0",
    )
    op.create_check_constraint(
        op.f("ck_campaigns_settle_min_amount_positive"),
        "campaigns",
        "settle_min_amount IS NULL OR settle_min_amount > 0",
    )


def downgrade() -> None:
    for name in ("settle_min_amount", "settle_min_rewards", "settle_max_wait_s"):
        op.drop_column("campaigns", name)
