"""notification producers: campaigns.notified_status and notification_cursors

Revision ID: 0002_notification_producers
Revises: 0001_initial_schema
Create Date: 2026-11-21 03:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_notification_producers"
down_revision: str | None = "0001_initial_schema"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("notified_status", sa.String(length=24), nullable=True))
    # campaigns that exist already: their current status counts as told
    op.execute("UPDATE campaigns SET notified_status = status")
    op.create_table(
        "notification_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notification_cursors")),
    )
    # what exists already was never announced; start after it instead of replaying it
    op.execute(
        "INSERT INTO notification_cursors (name, position) VALUES "
        "('rewards', (SELECT COALESCE(max(id), 0) FROM rewards)), "
        "('chain_events', (SELECT COALESCE(max(id), 0) FROM chain_events))"
    )


def downgrade() -> None:
    op.drop_table("notification_cursors")
    op.drop_column("campaigns", "notified_status")
