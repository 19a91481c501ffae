"""settlement_transaction_batches: the batches one pushMany transaction carries

A push transaction used to carry exactly one batch (settlement_transactions.batch_id).
ProductBankFactory.pushMany carries several banks' batches in one transaction, so a
`push_many` transaction, and the fee-bumped replacements of its slot, list their
batches here and have neither a batch nor a relay request of their own.

Revision ID: 0020_bundled_pushes
Revises: 0019_reward_totals
Create Date: 2026-12-13 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_bundled_pushes"
down_revision: str | None = "0019_reward_totals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_OWNER = "(batch_id IS NULL) <> (relay_id IS NULL)"
# a bundle's transactions (push_many, or the self-transfer that fills its slot) own
# their batches through settlement_transaction_batches
ONE_OWNER_OR_BUNDLE = (
    "(batch_id IS NULL) <> (relay_id IS NULL)"
    " OR (batch_id IS NULL AND relay_id IS NULL AND kind IN ('push_many', 'cancel'))"
)


def upgrade() -> None:
    op.create_table(
        "settlement_transaction_batches",
        sa.Column("tx_id", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tx_id"],
            ["settlement_transactions.id"],
            name=op.f("fk_settlement_transaction_batches_tx_id_settlement_transactions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["settlement_batches.id"],
            name=op.f("fk_settlement_transaction_batches_batch_id_settlement_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tx_id", "batch_id", name=op.f("pk_settlement_transaction_batches")
        ),
    )
    op.create_index(
        "ix_settlement_transaction_batches_batch", "settlement_transaction_batches", ["batch_id"]
    )
    op.drop_constraint(
        op.f("ck_settlement_transactions_one_owner"), "settlement_transactions", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_settlement_transactions_one_owner"), "settlement_transactions", ONE_OWNER_OR_BUNDLE
    )


def downgrade() -> None:
    # a bundle's transactions go with their links: the batches are resolved from the chain
    op.execute("DELETE FROM settlement_transactions WHERE batch_id IS NULL AND relay_id IS NULL")
    op.drop_constraint(
        op.f("ck_settlement_transactions_one_owner"), "settlement_transactions", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_settlement_transactions_one_owner"), "settlement_transactions", ONE_OWNER
    )
    op.drop_index(
        "ix_settlement_transaction_batches_batch", table_name="settlement_transaction_batches"
    )
    op.drop_table("settlement_transaction_batches")
