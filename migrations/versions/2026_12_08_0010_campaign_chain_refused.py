"""campaigns: `chain_refused`, a column instead of a prefix in the free-text status_reason

Settlement marked a campaign the bank refused to pay by starting its status_reason
with "on-chain push refused"; refunds, the batch builder and activation parsed that
text. The flag is now a column; the reason stays text for people.

Revision ID: 0010_campaign_chain_refused
Revises: 0009_fraud
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_campaign_chain_refused"
down_revision: str | None = "0009_fraud"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("chain_refused", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute(
        "UPDATE campaigns SET chain_refused = true "
        "WHERE status_reason LIKE 'on-chain push refused%'"
    )


def downgrade() -> None:
    # The reason text written with the flag still carries the prefix the old code reads.
    op.drop_column("campaigns", "chain_refused")
