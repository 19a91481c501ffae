"""reward_totals, reward_wallet_totals: a campaign's reward figures kept by a trigger

The campaign analytics counted, summed and grouped a campaign's reward rows on every
call: 0.5 s for a campaign paying every page open at 10,000,000 interactions (714,286
rewards), growing with the campaign. These tables hold the same figures, kept by one
statement-level trigger on `rewards` (one code path for every writer: evaluation,
settlement, refunds, fraud review, deletions):

- `reward_totals`: append-only changes per (campaign, status): count, amount, rows with
  hold_reasons. Appending means no two transactions ever wait on a totals row (the
  evaluator, the push job and a refund may all change one campaign's figures at once);
  the readers sum a campaign's rows, and a job folds them (backend.rewards.totals).
- `reward_wallet_totals`: per (campaign, wallet), rewards not cancelled and those paid
  to the wallet as a referrer (level >= 1): distinct rewarded wallets and the top
  referrers. Only a reward that appears, disappears or becomes cancelled changes it.

The table is locked while the trigger is created and the totals are filled from the
rows already there, so no write falls between the two.

Revision ID: 0019_reward_totals
Revises: 0018_interaction_partitions
Create Date: 2026-12-12 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_reward_totals"
down_revision: str | None = "0018_interaction_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The net change of one statement: its new rows count +1, its old rows -1 (an update
# that only moves rows between pending, batched and pushed nets to zero per wallet).
# Rows of a campaign being deleted (the rewards go by cascade) change nothing: its totals
# go by the same cascade. One function per operation, from one text, so each holds
# static SQL (planned once per session, where EXECUTE would plan every statement).
CHANGED = {
    "insert": "SELECT *, 1 AS sign FROM new_rows",
    "update": "SELECT *, 1 AS sign FROM new_rows UNION ALL SELECT *, -1 FROM old_rows",
    "delete": "SELECT *, -1 AS sign FROM old_rows",
}
APPLY = """
CREATE FUNCTION reward_totals_{op}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    WITH changed AS (
        SELECT campaign_id, status, wallet, level, amount, hold_reasons IS NOT NULL AS held,
               sign
        FROM ({changed}) AS x
    ), per_status AS (
        INSERT INTO reward_totals (campaign_id, status, n, amount, held)
        SELECT campaign_id, status, sum(sign), sum(sign * amount),
               coalesce(sum(sign) FILTER (WHERE held), 0)
        FROM changed GROUP BY 1, 2
        HAVING (sum(sign) <> 0 OR sum(sign * amount) <> 0
                OR coalesce(sum(sign) FILTER (WHERE held), 0) <> 0)
           AND EXISTS (SELECT 1 FROM campaigns AS c WHERE c.id = changed.campaign_id)
        RETURNING 1
    )
    INSERT INTO reward_wallet_totals AS t (campaign_id, wallet, live, referred, referred_amount)
    SELECT campaign_id, wallet, sum(sign), coalesce(sum(sign) FILTER (WHERE level >= 1), 0),
           coalesce(sum(sign * amount) FILTER (WHERE level >= 1), 0)
    FROM changed WHERE status <> 'cancelled'
    GROUP BY 1, 2
    HAVING (sum(sign) <> 0 OR coalesce(sum(sign * amount) FILTER (WHERE level >= 1), 0) <> 0)
       AND EXISTS (SELECT 1 FROM campaigns AS c WHERE c.id = changed.campaign_id)
    ORDER BY 1, 2
    ON CONFLICT (campaign_id, wallet) DO UPDATE
    SET live = t.live + EXCLUDED.live, referred = t.referred + EXCLUDED.referred,
        referred_amount = t.referred_amount + EXCLUDED.referred_amount;
    RETURN NULL;
END
$fn$
"""
TRIGGERS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}
BACKFILL = (
    """
    INSERT INTO reward_totals (campaign_id, status, n, amount, held)
    SELECT campaign_id, status, count(*), sum(amount),
           count(*) FILTER (WHERE hold_reasons IS NOT NULL)
    FROM rewards GROUP BY 1, 2
    """,
    """
    INSERT INTO reward_wallet_totals (campaign_id, wallet, live, referred, referred_amount)
    SELECT campaign_id, wallet, count(*), count(*) FILTER (WHERE level >= 1),
           coalesce(sum(amount) FILTER (WHERE level >= 1), 0)
    FROM rewards WHERE status <> 'cancelled' GROUP BY 1, 2
    """,
)


def upgrade() -> None:
    op.create_table(
        "reward_totals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=78, scale=0), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_reward_totals_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_totals")),
    )
    op.create_index(
        op.f("ix_reward_totals_campaign_id"), "reward_totals", ["campaign_id"], unique=False
    )
    op.create_table(
        "reward_wallet_totals",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("live", sa.BigInteger(), nullable=False),
        sa.Column("referred", sa.BigInteger(), nullable=False),
        sa.Column("referred_amount", sa.Numeric(precision=78, scale=0), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_reward_wallet_totals_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "wallet", name=op.f("pk_reward_wallet_totals")),
    )
    # room on each page, so the trigger's updates stay HOT (no index write)
    op.execute("ALTER TABLE reward_wallet_totals SET (fillfactor = 70)")
    op.execute("LOCK TABLE rewards IN SHARE ROW EXCLUSIVE MODE")
    for event, referencing in TRIGGERS.items():
        op.execute(APPLY.format(op=event, changed=CHANGED[event]))
        op.execute(
            f"CREATE TRIGGER reward_totals_{event} AFTER {event.upper()} ON rewards "
            f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION reward_totals_{event}()"
        )
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    for event in TRIGGERS:
        op.execute(f"DROP TRIGGER reward_totals_{event} ON rewards")
        op.execute(f"DROP FUNCTION reward_totals_{event}()")
    op.drop_table("reward_wallet_totals")
    op.drop_index(op.f("ix_reward_totals_campaign_id"), table_name="reward_totals")
    op.drop_table("reward_totals")
