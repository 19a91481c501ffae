"""relayer: relay requests, their per-product gas charges, prepared passkey sends;
settlement_transactions belong to a batch or a relay request

Revision ID: 0005_relayer
Revises: 0004_order_attribution
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_relayer"
down_revision: str | None = "0004_order_attribution"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_operations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.Numeric(precision=78, scale=0), nullable=False),
        sa.Column("calls", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("nonce", sa.Numeric(precision=78, scale=0), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_send_operations_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_operations")),
        sa.UniqueConstraint("digest", name=op.f("uq_send_operations_digest")),
    )
    op.create_index("ix_send_operations_wallet", "send_operations", ["wallet"], unique=False)
    op.create_table(
        "relay_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'queued'"), nullable=False
        ),
        sa.Column("relayer", sa.String(length=42), nullable=False),
        sa.Column("target", sa.String(length=42), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=True),
        sa.Column("gas_limit", sa.BigInteger(), nullable=False),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("mined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('claim','send')", name=op.f("ck_relay_requests_kind_known")),
        sa.CheckConstraint(
            "status IN ('queued','sent','mined','failed')",
            name=op.f("ck_relay_requests_status_known"),
        ),
        sa.CheckConstraint(
            "kind <> 'send' OR operation_id IS NOT NULL",
            name=op.f("ck_relay_requests_send_has_operation"),
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["send_operations.id"],
            name=op.f("fk_relay_requests_operation_id_send_operations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_requests")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_relay_requests_operation_id")),
    )
    op.create_index("ix_relay_requests_created", "relay_requests", ["created_at"], unique=False)
    op.create_index(
        "ix_relay_requests_wallet_day",
        "relay_requests",
        ["wallet", "kind", "created_at"],
        unique=False,
    )
    op.create_index(
        "uq_relay_requests_claim_in_flight",
        "relay_requests",
        ["chain_id", "wallet"],
        unique=True,
        postgresql_where=sa.text("kind = 'claim' AND status IN ('queued','sent')"),
    )
    op.create_table(
        "relay_charges",
        sa.Column("relay_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.String(length=66), nullable=False),
        sa.Column("gas", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_relay_charges_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["relay_id"],
            ["relay_requests.id"],
            name=op.f("fk_relay_charges_relay_id_relay_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("relay_id", "product_id", name=op.f("pk_relay_charges")),
    )
    op.create_index(
        "ix_relay_charges_product_day", "relay_charges", ["product_id", "created_at"], unique=False
    )
    op.alter_column("settlement_transactions", "batch_id", existing_type=sa.Uuid(), nullable=True)
    op.add_column("settlement_transactions", sa.Column("relay_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_settlement_transactions_relay_id_relay_requests"),
        "settlement_transactions",
        "relay_requests",
        ["relay_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index(
        "ix_settlement_transactions_relay",
        "settlement_transactions",
        ["relay_id"],
        unique=False,
        postgresql_where=sa.text("relay_id IS NOT NULL"),
    )
    op.create_check_constraint(
        op.f("ck_settlement_transactions_one_owner"),
        "settlement_transactions",
        "(batch_id IS NULL) <> (relay_id IS NULL)",
    )


def downgrade() -> None:
    # relayed transactions have no batch: they go with their requests
    op.execute("DELETE FROM settlement_transactions WHERE relay_id IS NOT NULL")
    op.drop_constraint(
        op.f("ck_settlement_transactions_one_owner"), "settlement_transactions", type_="check"
    )
    op.drop_index("ix_settlement_transactions_relay", table_name="settlement_transactions")
    op.drop_constraint(
        op.f("fk_settlement_transactions_relay_id_relay_requests"),
        "settlement_transactions",
        type_="foreignkey",
    )
    op.drop_column("settlement_transactions", "relay_id")
    op.alter_column("settlement_transactions", "batch_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("ix_relay_charges_product_day", table_name="relay_charges")
    op.drop_table("relay_charges")
    op.drop_index("uq_relay_requests_claim_in_flight", table_name="relay_requests")
    op.drop_index("ix_relay_requests_wallet_day", table_name="relay_requests")
    op.drop_index("ix_relay_requests_created", table_name="relay_requests")
    op.drop_table("relay_requests")
    op.drop_index("ix_send_operations_wallet", table_name="send_operations")
    op.drop_table("send_operations")
