"""settlement: the signer's distributor role and epoch per bank, kept from role events

The push job used to ask every bank with work `hasRole` and `distributorEpoch` on every
cycle; it now reads RoleGranted/RoleRevoked logs once per cycle for all banks and keeps
what they say here (backend/settlement/roles.py), with the block they were read up to.
A small partial index finds the pushes a bank refused for the role or the epoch since a
bank was last read (the view's reason to read it again).

Revision ID: 0013_settlement_roles
Revises: 0012_campaign_settlement_cadence
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_settlement_roles"
down_revision: str | None = "0012_campaign_settlement_cadence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_role_cursors",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("chain_id", "signer", name=op.f("pk_settlement_role_cursors")),
    )
    op.create_table(
        "settlement_bank_roles",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("bank", sa.String(length=42), nullable=False),
        sa.Column("is_distributor", sa.Boolean(), nullable=False),
        sa.Column("epoch", sa.Numeric(precision=78, scale=0), nullable=False),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "chain_id", "signer", "bank", name=op.f("pk_settlement_bank_roles")
        ),
    )
    op.create_index(
        "ix_settlement_batches_refused",
        "settlement_batches",
        ["bank_address", "updated_at"],
        postgresql_where=sa.text("error_code IN ('not_distributor','signature_revoked')"),
    )


def downgrade() -> None:
    op.drop_index("ix_settlement_batches_refused", table_name="settlement_batches")
    op.drop_table("settlement_bank_roles")
    op.drop_table("settlement_role_cursors")
