"""relay_requests.carrier_id: the relay request whose transaction carries this one

The relayer used to send one transaction per gasless claim. It now queues claims
and sends every queued claim in one MultiTokenPushPull.pullRewardsForMany
transaction, owned (settlement_transactions.relay_id) by the first of them, the
carrier; every request it carries, the carrier included, names it here. A send
carries only itself. NULL: not sent yet (a queued claim waiting for the batch).

Revision ID: 0021_batched_claims
Revises: 0020_bundled_pushes
Create Date: 2026-12-14 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_batched_claims"
down_revision: str | None = "0020_bundled_pushes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("relay_requests", sa.Column("carrier_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_relay_requests_carrier_id_relay_requests"),
        "relay_requests",
        "relay_requests",
        ["carrier_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index(
        "ix_relay_requests_carrier",
        "relay_requests",
        ["carrier_id"],
        postgresql_where=sa.text("carrier_id IS NOT NULL"),
    )
    # claims waiting for the relayer's next batch (no transaction yet)
    op.create_index(
        "ix_relay_requests_unsent_claims",
        "relay_requests",
        ["chain_id", "created_at"],
        postgresql_where=sa.text("kind = 'claim' AND status = 'queued' AND carrier_id IS NULL"),
    )
    # every request sent before carried itself
    op.execute(
        "UPDATE relay_requests SET carrier_id = id WHERE EXISTS "
        "(SELECT 1 FROM settlement_transactions t WHERE t.relay_id = relay_requests.id)"
    )


def downgrade() -> None:
    op.drop_index("ix_relay_requests_unsent_claims", table_name="relay_requests")
    op.drop_index("ix_relay_requests_carrier", table_name="relay_requests")
    op.drop_constraint(
        op.f("fk_relay_requests_carrier_id_relay_requests"), "relay_requests", type_="foreignkey"
    )
    op.drop_column("relay_requests", "carrier_id")
