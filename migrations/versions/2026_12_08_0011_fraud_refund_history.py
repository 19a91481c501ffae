"""fraud: the `refund_history` rule kind, and an index on a buyer's refunded orders

The rule holds or rejects a purchase whose buyer already had N refunded orders on the
product; the evaluator counts them for a whole batch in one statement, one index range
per buyer (a partial index: refunded orders are few).

Revision ID: 0011_fraud_refund_history
Revises: 0010_campaign_chain_refused
Create Date: 2026-12-08 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_fraud_refund_history"
down_revision: str | None = "0010_campaign_chain_refused"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = (
    "kind IN ('shared_device','shared_ip','shared_passkey','referral_velocity',"
    "'wallet_earnings','min_purchase','deny_list')"
)
KINDS_AFTER = (
    "kind IN ('shared_device','shared_ip','shared_passkey','referral_velocity',"
    "'wallet_earnings','min_purchase','refund_history','deny_list')"
)


def upgrade() -> None:
    op.drop_constraint(op.f("ck_fraud_rules_kind_known"), "fraud_rules", type_="check")
    op.create_check_constraint(op.f("ck_fraud_rules_kind_known"), "fraud_rules", KINDS_AFTER)
    op.create_index(
        "ix_orders_refunded_wallet",
        "orders",
        ["product_id", "wallet"],
        postgresql_where=sa.text("status = 'refunded'"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_refunded_wallet", table_name="orders")
    op.execute("DELETE FROM fraud_rules WHERE kind = 'refund_history'")
    op.drop_constraint(op.f("ck_fraud_rules_kind_known"), "fraud_rules", type_="check")
    op.create_check_constraint(op.f("ck_fraud_rules_kind_known"), "fraud_rules", KINDS_BEFORE)
