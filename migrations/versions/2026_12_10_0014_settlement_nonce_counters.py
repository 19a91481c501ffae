"""settlement: a nonce counter per bank, so a bank's batch nonces share nonce words

ProductBank now packs 128 nonce states into one storage word (word = nonce >> 7). The
push job numbers each bank's batches salt << 128 | sequence from this row instead of
drawing a random bytes32 per batch, so 127 pushes in 128 rewrite a non-zero word (5,000
gas) instead of setting a fresh slot (22,100). The salt is random and drawn when a row
is created: deleting the rows (after restoring a database) starts every bank afresh.

Revision ID: 0014_settlement_nonce_counters
Revises: 0013_settlement_roles
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_settlement_nonce_counters"
down_revision: str | None = "0013_settlement_roles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_nonce_counters",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("bank", sa.String(length=42), nullable=False),
        sa.Column("salt", sa.Numeric(precision=78, scale=0), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "salt >= 0 AND salt < 340282366920938463463374607431768211456",
            name=op.f("ck_settlement_nonce_counters_salt_128_bits"),
        ),
        sa.CheckConstraint(
            "last_sequence >= 0",
            name=op.f("ck_settlement_nonce_counters_sequence_not_negative"),
        ),
        sa.PrimaryKeyConstraint("chain_id", "bank", name=op.f("pk_settlement_nonce_counters")),
    )


def downgrade() -> None:
    op.drop_table("settlement_nonce_counters")
