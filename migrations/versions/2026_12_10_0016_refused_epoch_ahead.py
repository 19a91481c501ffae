"""settlement_batches: the role view's refusal index also covers `epoch_ahead`

A batch signed for an epoch the bank has not reached (a reorg took a revocation back)
is no longer voided as `signature_revoked`: its nonce is burnt first and it ends with
`epoch_ahead`. The role view reads such a bank again, so the index it searches names
that code too.

Revision ID: 0016_refused_epoch_ahead
Revises: 0015_interaction_days
Create Date: 2026-12-10 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_refused_epoch_ahead"
down_revision: str | None = "0015_interaction_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _index(codes: str) -> None:
    op.drop_index("ix_settlement_batches_refused", table_name="settlement_batches")
    op.create_index(
        "ix_settlement_batches_refused",
        "settlement_batches",
        ["bank_address", "updated_at"],
        postgresql_where=sa.text(f"error_code IN ({codes})"),
    )


def upgrade() -> None:
    _index("'not_distributor','signature_revoked','epoch_ahead'")


def downgrade() -> None:
    _index("'not_distributor','signature_revoked'")
