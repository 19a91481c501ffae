"""interactions partitioned by month of received_at; the queue keeps each row's received_at

At the design's rate raw interactions grow by ~0.5 GB a day and nothing bounded them. The
table becomes `PARTITION BY RANGE (received_at)`: one partition per UTC month and a
default partition, so that a month past the retention period is dropped whole
(backend/interactions/partitions.py keeps them). The primary key becomes (id, received_at),
as PostgreSQL requires of a partitioned table; ids still come from the same sequence and
stay unique. The evaluation queue records its interaction's received_at, so the
evaluator's lookups name the one partition to read instead of probing every month.

Rows are copied into the new table with their ids; the sequence moves to it untouched.
The old table is locked by the rename for the whole migration, so nothing is written
meanwhile. Indexes are built after the copy (faster than maintaining them row by row).

Revision ID: 0018_interaction_partitions
Revises: 0017_referral_edges
Create Date: 2026-12-11 14:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018_interaction_partitions"
down_revision: str | None = "0017_referral_edges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (migrations never import app code): backend/interactions/partitions.py names
# and bounds the months the same way and keeps them from now on.
DEFAULT_PARTITION = "interactions_default"
MONTHS_AHEAD = 3

# The single endpoint's statement (migration 0006) now queues the row's received_at.
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
    stored_at timestamptz;
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
    RETURNING id, received_at INTO interaction_id, stored_at;
    IF p_queue THEN
        INSERT INTO evaluation_queue (interaction_id, product_id, received_at)
        VALUES (interaction_id, p_product_id, stored_at);
    END IF;
END
$$
"""

# Downgrade: 0006's statement, which queued without received_at.
STORE_FUNCTION_0006 = (
    STORE_FUNCTION.replace("    used integer;\n    stored_at timestamptz;", "    used integer;")
    .replace(
        "RETURNING id, received_at INTO interaction_id, stored_at;",
        "RETURNING id INTO interaction_id;",
    )
    .replace("(interaction_id, product_id, received_at)", "(interaction_id, product_id)")
    .replace("(interaction_id, p_product_id, stored_at)", "(interaction_id, p_product_id)")
)

COLUMNS = (
    "id, product_id, wallet, type, data, dedup_key, referrer_wallet, order_id, flag, source, "
    "source_ref, client_ip, analytics_session_id, analytics_client_id, occurred_at, received_at"
)
INDEXES = (
    ("ix_interactions_dedup", ["product_id", "wallet", "type", "dedup_key", "received_at"],
     "dedup_key IS NOT NULL"),
    ("ix_interactions_order", ["product_id", "order_id"], "order_id IS NOT NULL"),
    ("ix_interactions_product_type_received", ["product_id", "type", "received_at"], None),
    ("ix_interactions_product_wallet_received", ["product_id", "wallet", "received_at"], None),
)  # fmt: skip


def _month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def _columns() -> list[sa.Column]:  # type: ignore[type-arg]
    now = sa.text("now()")
    return [
        sa.Column(
            "id",
            sa.BigInteger(),
            server_default=sa.text("nextval('interactions_id_seq'::regclass)"),
            nullable=False,
        ),
        sa.Column("product_id", sa.String(length=66), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("dedup_key", sa.String(length=255), nullable=True),
        sa.Column("referrer_wallet", sa.String(length=42), nullable=True),
        sa.Column("order_id", sa.String(length=255), nullable=True),
        sa.Column("flag", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_ref", sa.String(length=100), nullable=True),
        sa.Column("client_ip", postgresql.INET(), nullable=True),
        sa.Column("analytics_session_id", sa.String(length=100), nullable=True),
        sa.Column("analytics_client_id", sa.String(length=100), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
    ]


def _product_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["product_id"],
        ["products.id"],
        name="fk_interactions_product_id_products",
        ondelete="CASCADE",
    )


def _move_out_of_the_way() -> None:
    """Rename the current table and free the names its indexes hold."""
    op.execute("ALTER SEQUENCE interactions_id_seq OWNED BY NONE")
    for name, _, _ in INDEXES:
        op.drop_index(name, table_name="interactions")
    op.execute("ALTER TABLE interactions RENAME TO interactions_old")
    op.execute("ALTER INDEX pk_interactions RENAME TO pk_interactions_old")


def _finish() -> None:
    """Copy the rows over, drop the old table, give the sequence and indexes back."""
    op.execute(f"INSERT INTO interactions ({COLUMNS}) SELECT {COLUMNS} FROM interactions_old")  # noqa: S608
    op.drop_table("interactions_old")
    op.execute("ALTER SEQUENCE interactions_id_seq OWNED BY interactions.id")
    for name, columns, where in INDEXES:
        op.create_index(
            name,
            "interactions",
            columns,
            postgresql_where=sa.text(where) if where else None,
        )


def upgrade() -> None:
    op.add_column(
        "evaluation_queue", sa.Column("received_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE evaluation_queue AS q SET received_at = i.received_at "
        "FROM interactions AS i WHERE i.id = q.interaction_id"
    )
    # a queue row without its interaction is dropped by the evaluator; any value will do
    op.execute("UPDATE evaluation_queue SET received_at = queued_at WHERE received_at IS NULL")
    op.alter_column("evaluation_queue", "received_at", nullable=False)
    op.execute(STORE_FUNCTION)

    bind = op.get_bind()
    oldest = bind.scalar(sa.text("SELECT min(received_at) FROM interactions"))
    _move_out_of_the_way()
    op.create_table(
        "interactions",
        *_columns(),
        _product_fk(),
        sa.PrimaryKeyConstraint("id", "received_at", name="pk_interactions"),
        postgresql_partition_by="RANGE (received_at)",
    )
    op.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF interactions DEFAULT")
    now = datetime.now(UTC)
    start = _month_start(min(oldest, now) if oldest is not None else now)
    last = _month_start(now)
    for _ in range(MONTHS_AHEAD):
        last = _next_month(last)
    while start <= last:
        end = _next_month(start)
        op.execute(  # sql-interpolation: a name and bounds formatted from datetimes here
            f"CREATE TABLE interactions_y{start.year:04d}m{start.month:02d} PARTITION OF "
            f"interactions FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
        start = end
    _finish()


def downgrade() -> None:
    _move_out_of_the_way()
    op.create_table(
        "interactions",
        *_columns(),
        _product_fk(),
        sa.PrimaryKeyConstraint("id", name="pk_interactions"),
    )
    _finish()
    op.execute(STORE_FUNCTION_0006)
    op.drop_column("evaluation_queue", "received_at")
