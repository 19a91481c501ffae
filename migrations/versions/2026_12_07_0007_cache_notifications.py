"""cache notifications: api_keys, products and campaigns announce their changes

Serving processes cache API keys, product settings and active campaigns. A change
committed by any process (a revoked key, a paused campaign, a product's new limits)
is announced on the `cascade_cache` channel by these triggers, at commit, so every
process drops the entry at once (backend.core.pg_events). Only the columns caches
read fire a notification: usage counters and budgets do not.

Revision ID: 0007_cache_notifications
Revises: 0006_evaluation_queue
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_cache_notifications"
down_revision: str | None = "0006_evaluation_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cascade_cache', '{kind}:' || COALESCE(NEW.{column}, OLD.{column}));
    RETURN NULL;
END $$
"""
FUNCTIONS = [
    NOTIFY_FUNCTION.format(name="cascade_notify_api_key", kind="api_key", column="key_hash"),
    NOTIFY_FUNCTION.format(name="cascade_notify_product", kind="product", column="id"),
    NOTIFY_FUNCTION.format(name="cascade_notify_campaigns", kind="campaigns", column="product_id"),
]
# one statement per execute: asyncpg prepares each, and a prepared statement holds one
TRIGGERS = [
    """CREATE TRIGGER api_keys_notify_update AFTER UPDATE ON api_keys FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.roles <> NEW.roles
          OR OLD.product_id <> NEW.product_id)
    EXECUTE FUNCTION cascade_notify_api_key()""",
    """CREATE TRIGGER api_keys_notify_delete AFTER DELETE ON api_keys FOR EACH ROW
    EXECUTE FUNCTION cascade_notify_api_key()""",
    """CREATE TRIGGER products_notify_update AFTER UPDATE ON products FOR EACH ROW
    WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
          OR OLD.dedup_window_s <> NEW.dedup_window_s
          OR OLD.rate_limit_per_hour <> NEW.rate_limit_per_hour
          OR OLD.domains IS DISTINCT FROM NEW.domains)
    EXECUTE FUNCTION cascade_notify_product()""",
    """CREATE TRIGGER products_notify_delete AFTER DELETE ON products FOR EACH ROW
    EXECUTE FUNCTION cascade_notify_product()""",
    """CREATE TRIGGER campaigns_notify_change AFTER INSERT OR DELETE ON campaigns FOR EACH ROW
    EXECUTE FUNCTION cascade_notify_campaigns()""",
    """CREATE TRIGGER campaigns_notify_update AFTER UPDATE ON campaigns FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.version <> NEW.version)
    EXECUTE FUNCTION cascade_notify_campaigns()""",
]


def upgrade() -> None:
    for statement in [*FUNCTIONS, *TRIGGERS]:
        op.execute(statement)


def downgrade() -> None:
    for trigger, table in (
        ("api_keys_notify_update", "api_keys"),
        ("api_keys_notify_delete", "api_keys"),
        ("products_notify_update", "products"),
        ("products_notify_delete", "products"),
        ("campaigns_notify_change", "campaigns"),
        ("campaigns_notify_update", "campaigns"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    for function in (
        "cascade_notify_api_key",
        "cascade_notify_product",
        "cascade_notify_campaigns",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
