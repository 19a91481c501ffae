"""referral_edges: the accepted referral claims in a table of their own

The referral graph was a partial unique index over `interactions` (accepted
`referral.referred` rows). Raw interactions are to be partitioned by time and dropped
after a retention period, and a unique index there would have to include the partition
key (it could no longer say "one referrer per wallet"); the graph must also outlive the
claims it came from. The edges are copied from the interactions that formed them, with
the queue locked so that no evaluator records an edge between the copy and the commit.

Revision ID: 0017_referral_edges
Revises: 0016_refused_epoch_ahead
Create Date: 2026-12-11 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_referral_edges"
down_revision: str | None = "0016_refused_epoch_ahead"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EDGE = "type = 'referral.referred' AND referrer_wallet IS NOT NULL AND flag IS NULL"


def upgrade() -> None:
    op.create_table(
        "referral_edges",
        sa.Column("product_id", sa.String(length=66), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("referrer_wallet", sa.String(length=42), nullable=False),
        sa.Column("interaction_id", sa.BigInteger(), nullable=False),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_referral_edges_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "wallet", name=op.f("pk_referral_edges")),
    )
    op.execute("LOCK TABLE evaluation_queue IN EXCLUSIVE MODE")
    op.execute(
        f"""
        INSERT INTO referral_edges (product_id, wallet, referrer_wallet, interaction_id,
                                    referred_at)
        SELECT product_id, wallet, referrer_wallet, id, received_at
        FROM interactions WHERE {EDGE}
        """  # noqa: S608 - constant
    )
    op.create_index(
        "ix_referral_edges_referrer",
        "referral_edges",
        ["product_id", "referrer_wallet", "referred_at"],
    )
    op.drop_index("ix_interactions_referrer", table_name="interactions")
    op.drop_index("uq_interactions_referral_edge", table_name="interactions")


def downgrade() -> None:
    op.create_index(
        "uq_interactions_referral_edge",
        "interactions",
        ["product_id", "wallet"],
        unique=True,
        postgresql_where=sa.text(EDGE),
        postgresql_include=["referrer_wallet"],
    )
    op.create_index(
        "ix_interactions_referrer",
        "interactions",
        ["product_id", "referrer_wallet"],
        postgresql_where=sa.text(EDGE),
    )
    op.drop_table("referral_edges")
