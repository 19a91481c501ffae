"""settlement batches: a `cancelling` state and the distributor epoch they were signed for

Revision ID: 0003_batch_cancelling
Revises: 0002_notification_producers
Create Date: 2026-12-06 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_batch_cancelling"
down_revision: str | None = "0002_notification_producers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "status IN ('signed','submitted','pushed','void','failed')"
NEW = "status IN ('signed','submitted','pushed','void','failed','cancelling')"


def upgrade() -> None:
    op.add_column(
        "settlement_batches",
        sa.Column(
            "epoch", sa.Numeric(precision=78, scale=0), server_default=sa.text("0"), nullable=False
        ),
    )
    op.drop_constraint(
        op.f("ck_settlement_batches_status_known"), "settlement_batches", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_settlement_batches_status_known"), "settlement_batches", NEW
    )
    op.drop_index("ix_settlement_batches_unsettled", table_name="settlement_batches")
    op.create_index(
        "ix_settlement_batches_unsettled",
        "settlement_batches",
        ["status"],
        postgresql_where=sa.text("status IN ('signed','submitted','cancelling')"),
    )


def downgrade() -> None:
    op.drop_index("ix_settlement_batches_unsettled", table_name="settlement_batches")
    op.create_index(
        "ix_settlement_batches_unsettled",
        "settlement_batches",
        ["status"],
        postgresql_where=sa.text("status IN ('signed','submitted')"),
    )
    op.execute("UPDATE settlement_batches SET status = 'void' WHERE status = 'cancelling'")
    op.drop_constraint(
        op.f("ck_settlement_batches_status_known"), "settlement_batches", type_="check"
    )
    op.create_check_constraint(
        op.f("ck_settlement_batches_status_known"), "settlement_batches", OLD
    )
    op.drop_column("settlement_batches", "epoch")
