"""interaction_days: unflagged evaluated interactions per (product, UTC day, type), filled
from the interactions already evaluated; rewards indexed by campaign for its analytics

The campaign analytics counted a product's interactions per day by scanning them; they
now read these counts, which the evaluator keeps (backend/interactions/days.py). The
backfill counts by the same rule: evaluated (no queue row) and unflagged. The queue is
locked (EXCLUSIVE: reads allowed, no writes) while it counts, so an evaluator cannot take
rows off the queue between the count and this migration's commit.

Revision ID: 0015_interaction_days
Revises: 0014_settlement_nonce_counters
Create Date: 2026-12-10 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_interaction_days"
down_revision: str | None = "0014_settlement_nonce_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interaction_days",
        sa.Column("product_id", sa.String(length=66), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_interaction_days_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "day", "type", name=op.f("pk_interaction_days")),
    )
    op.execute("LOCK TABLE evaluation_queue IN EXCLUSIVE MODE")
    op.execute(
        """
        INSERT INTO interaction_days (product_id, day, type, count)
        SELECT i.product_id, (i.received_at AT TIME ZONE 'UTC')::date, i.type, count(*)
        FROM interactions AS i
        WHERE i.flag IS NULL
          AND NOT EXISTS (SELECT 1 FROM evaluation_queue AS q WHERE q.interaction_id = i.id)
        GROUP BY 1, 2, 3
        """
    )
    op.create_index(
        "ix_rewards_campaign_status",
        "rewards",
        ["campaign_id", "status"],
        postgresql_include=["amount", "wallet", "level"],
    )
    op.create_index(
        "ix_rewards_campaign_fraud",
        "rewards",
        ["campaign_id"],
        postgresql_where=sa.text("hold_reasons IS NOT NULL OR cancelled_reason LIKE 'fraud%'"),
    )


def downgrade() -> None:
    op.drop_index("ix_rewards_campaign_fraud", table_name="rewards")
    op.drop_index("ix_rewards_campaign_status", table_name="rewards")
    op.drop_table("interaction_days")
