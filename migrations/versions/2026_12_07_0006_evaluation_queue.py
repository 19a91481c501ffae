"""evaluation_queue: stored interactions the evaluator has not evaluated yet; one-call store

Interactions are now stored by the request and evaluated later, in batches, by the
evaluator (backend.evaluation). `interactions.processed_at` and its partial index
are replaced by a narrow queue table the evaluator deletes from. Interactions already
stored were evaluated at ingestion, so the queue starts empty.

`cascade_store_interaction` is the single endpoint's one round trip: it takes the
caller's (product, wallet bucket) lock when limits or a dedup key apply, then checks
the dedup window and the hourly limit with a fresh snapshot (a plain statement reads
one taken before its lock), stores the interaction and queues it.

Revision ID: 0006_evaluation_queue
Revises: 0005_relayer
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_evaluation_queue"
down_revision: str | None = "0005_relayer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORE_FUNCTION = """
CREATE OR REPLACE FUNCTION cascade_store_interaction(
    p_product_id varchar, p_wallet varchar, p_type varchar, p_data jsonb,
    p_dedup_key varchar, p_referrer varchar, p_order_id varchar, p_flag varchar,
    p_source varchar, p_source_ref varchar, p_client_ip inet, p_session_id varchar,
    p_client_id varchar, p_occurred_at timestamptz, p_window_s integer,
    p_limit integer, p_lock_key bigint, p_queue boolean,
    OUT interaction_id bigint, OUT duplicate_of bigint, OUT oldest timestamptz,
    OUT now_at timestamptz
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    used integer;
BEGIN
    now_at := now();
    IF p_lock_key IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(p_lock_key);
    END IF;
    IF p_dedup_key IS NOT NULL THEN
        SELECT i.id INTO duplicate_of FROM interactions AS i
        WHERE i.product_id = p_product_id AND i.wallet = p_wallet AND i.type = p_type
          AND i.dedup_key = p_dedup_key
          AND i.received_at > now_at - make_interval(secs => p_window_s)
        ORDER BY i.received_at LIMIT 1;
        IF duplicate_of IS NOT NULL THEN
            RETURN;
        END IF;
    END IF;
    IF p_limit IS NOT NULL THEN
        SELECT count(*), min(r.received_at) INTO used, oldest FROM (
            SELECT i.received_at FROM interactions AS i
            WHERE i.product_id = p_product_id AND i.wallet = p_wallet
              AND i.received_at > now_at - interval '1 hour'
            ORDER BY i.received_at LIMIT p_limit
        ) AS r;
        IF used >= p_limit THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO interactions (product_id, wallet, type, data, dedup_key, referrer_wallet,
                              order_id, flag, source, source_ref, client_ip,
                              analytics_session_id, analytics_client_id, occurred_at)
    VALUES (p_product_id, p_wallet, p_type, p_data, p_dedup_key, p_referrer, p_order_id,
            p_flag, p_source, p_source_ref, p_client_ip, p_session_id, p_client_id,
            COALESCE(p_occurred_at, now_at))
    RETURNING id INTO interaction_id;
    IF p_queue THEN
        INSERT INTO evaluation_queue (interaction_id, product_id)
        VALUES (interaction_id, p_product_id);
    END IF;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "evaluation_queue",
        sa.Column("interaction_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.String(length=66), nullable=False),
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("interaction_id", name=op.f("pk_evaluation_queue")),
    )
    op.create_index(
        "ix_evaluation_queue_product",
        "evaluation_queue",
        ["product_id", "interaction_id"],
        unique=False,
    )
    op.drop_index(
        "ix_interactions_unprocessed",
        table_name="interactions",
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.drop_column("interactions", "processed_at")
    op.execute(STORE_FUNCTION)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS cascade_store_interaction(varchar, varchar, varchar, jsonb, "
        "varchar, varchar, varchar, varchar, varchar, varchar, inet, varchar, varchar, "
        "timestamptz, integer, integer, bigint, boolean)"
    )
    op.add_column(
        "interactions",
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
    )
    # what was still queued had not been evaluated: it stays unprocessed
    op.execute(
        "UPDATE interactions SET processed_at = received_at "
        "WHERE id NOT IN (SELECT interaction_id FROM evaluation_queue)"
    )
    op.create_index(
        "ix_interactions_unprocessed",
        "interactions",
        ["id"],
        unique=False,
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.drop_index("ix_evaluation_queue_product", table_name="evaluation_queue")
    op.drop_table("evaluation_queue")
