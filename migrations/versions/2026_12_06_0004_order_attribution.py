"""orders: how the wallet was decided and refused claims; inbound_webhooks: first answer

Revision ID: 0004_order_attribution
Revises: 0003_batch_cancelling
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_order_attribution"
down_revision: str | None = "0003_batch_cancelling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("attribution", sa.String(length=16), nullable=True))
    op.add_column("orders", sa.Column("attribution_flag", sa.String(length=16), nullable=True))
    op.add_column(
        "inbound_webhooks",
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    # Orders still open were linked to the first browser that claimed them, which anyone
    # could do. Under the new rule a browser claim needs the order's token: unlink those,
    # so the shop's webhook decides (their claims stay stored as interactions).
    op.execute(
        "UPDATE orders AS o SET wallet = NULL, started_interaction_id = NULL "
        "FROM interactions AS i "
        "WHERE o.status = 'started' AND i.id = o.started_interaction_id "
        "AND i.source = 'session'"
    )
    op.execute(
        "UPDATE orders SET attribution = 'shop' WHERE status = 'started' AND wallet IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("inbound_webhooks", "response")
    op.drop_column("orders", "attribution_flag")
    op.drop_column("orders", "attribution")
