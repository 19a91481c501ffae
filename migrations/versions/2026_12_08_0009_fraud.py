"""fraud: rules per product, review settings, interaction signals; held rewards

Rewards gain the status `held` (a fraud rule matched: never batched until approved)
and the reason codes that held them.

Revision ID: 0009_fraud
Revises: 0008_reward_row_keys
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_fraud"
down_revision: str | None = "0008_reward_row_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "status IN ('pending','batched','pushed','cancelled')"
NEW = "status IN ('pending','batched','pushed','cancelled','held')"


def upgrade() -> None:
    op.create_table(
        "fraud_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.String(length=66), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
        sa.CheckConstraint(
            "kind IN ('shared_device','shared_ip','shared_passkey','referral_velocity',"
            "'wallet_earnings','min_purchase','deny_list')",
            name=op.f("ck_fraud_rules_kind_known"),
        ),
        sa.CheckConstraint("action IN ('hold','reject')", name=op.f("ck_fraud_rules_action_known")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_fraud_rules_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_rules")),
    )
    op.create_index("ix_fraud_rules_product_id", "fraud_rules", ["product_id"])
    op.create_table(
        "fraud_settings",
        sa.Column("product_id", sa.String(length=66), nullable=False),
        sa.Column("review_after_seconds", sa.Integer(), nullable=False),
        sa.Column("default_decision", sa.String(length=8), nullable=False),
        sa.Column("signal_retention_days", sa.Integer(), nullable=False),
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
        sa.CheckConstraint(
            "review_after_seconds > 0", name=op.f("ck_fraud_settings_review_after_positive")
        ),
        sa.CheckConstraint(
            "default_decision IN ('approve','reject')",
            name=op.f("ck_fraud_settings_decision_known"),
        ),
        sa.CheckConstraint(
            "signal_retention_days > 0", name=op.f("ck_fraud_settings_retention_positive")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_fraud_settings_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_fraud_settings")),
    )
    op.create_table(
        "interaction_signals",
        sa.Column("interaction_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.String(length=66), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("user_agent_hash", sa.String(length=64), nullable=True),
        sa.Column("device_hash", sa.String(length=64), nullable=True),
        sa.Column("passkey_hash", sa.String(length=64), nullable=True),
        sa.Column("link_age_s", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("interaction_id", name=op.f("pk_interaction_signals")),
    )
    op.create_index(
        "ix_interaction_signals_product_wallet", "interaction_signals", ["product_id", "wallet"]
    )
    op.create_index("ix_interaction_signals_created_at", "interaction_signals", ["created_at"])
    op.add_column("rewards", sa.Column("hold_reasons", postgresql.ARRAY(sa.String(length=64))))
    op.drop_constraint(op.f("ck_rewards_status_known"), "rewards", type_="check")
    op.create_check_constraint(op.f("ck_rewards_status_known"), "rewards", NEW)
    op.create_index(
        "ix_rewards_held",
        "rewards",
        ["product_id", "created_at"],
        postgresql_where=sa.text("status = 'held'"),
    )


def downgrade() -> None:
    op.drop_index("ix_rewards_held", table_name="rewards")
    # a held reward was never paid: it leaves as cancelled, its reasons kept in the reason
    op.execute(
        "UPDATE rewards SET status = 'cancelled', "
        "cancelled_reason = 'held: ' || array_to_string(hold_reasons, ',') WHERE status = 'held'"
    )
    op.drop_constraint(op.f("ck_rewards_status_known"), "rewards", type_="check")
    op.create_check_constraint(op.f("ck_rewards_status_known"), "rewards", OLD)
    op.drop_column("rewards", "hold_reasons")
    op.drop_table("interaction_signals")
    op.drop_table("fraud_settings")
    op.drop_table("fraud_rules")
