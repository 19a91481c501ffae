"""reward_fraud_totals: a campaign's fraud breakdown kept by a trigger

The campaign analytics read the fraud breakdown (rewards a rule held or refused, per UTC
day of the reward, reason code and outcome) from the campaign's reward rows: 73.8 of a
page-open campaign's 75 ms at 714,300 rewards, and 245.8 ms in all at 11,150,398
interactions stored (bench/scale.py, docs/benchmarks.md), growing with the campaign.
This table holds the same figures as append-only change rows, like `reward_totals`
(migration 0019): a statement-level trigger on `rewards` appends each statement's net
change per (campaign, day, reason, outcome); the readers sum a campaign's rows and the
`rewards.totals` job folds them (backend.rewards.totals).

The rule, as the analytics had it: a reward with hold_reasons counts once per reason as
"held" (a review keeps them); a cancelled one counts as "rejected" once per code of a
"fraud: <codes>" reason, or once per hold reason when a review rejected it
("fraud review: rejected...").

Revision ID: 0022_reward_fraud_totals
Revises: 0021_batched_claims
Create Date: 2026-12-15 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_reward_fraud_totals"
down_revision: str | None = "0021_batched_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A reward row's fraud tags: (campaign, day, outcome, reason, amount), one per reason.
TAGGED = """
    WITH r AS (
        SELECT campaign_id, (created_at AT TIME ZONE 'UTC')::date AS day, amount,
               hold_reasons,
               CASE WHEN status = 'cancelled' AND cancelled_reason LIKE 'fraud: %'
                    THEN string_to_array(substr(cancelled_reason, 8), ',')
                    WHEN status = 'cancelled' AND cancelled_reason LIKE 'fraud review: rejected%'
                    THEN hold_reasons END AS rejected,
               {sign} AS sign
        FROM ({rows}) AS x
        WHERE hold_reasons IS NOT NULL OR cancelled_reason LIKE 'fraud%'
    ), tagged AS (
        SELECT campaign_id, day, 'held' AS outcome, unnest(hold_reasons) AS reason, amount, sign
        FROM r WHERE hold_reasons IS NOT NULL
        UNION ALL
        SELECT campaign_id, day, 'rejected', unnest(rejected), amount, sign
        FROM r WHERE rejected IS NOT NULL
    )
"""
# The net change of one statement, as in 0019: new rows +1, old rows -1 (a status move of
# a held reward between pending, batched and pushed nets to zero). A campaign being
# deleted takes its totals by cascade: its rows add nothing.
CHANGED = {
    "insert": "SELECT *, 1 AS sign FROM new_rows",
    "update": "SELECT *, 1 AS sign FROM new_rows UNION ALL SELECT *, -1 FROM old_rows",
    "delete": "SELECT *, -1 AS sign FROM old_rows",
}
APPLY = """
CREATE FUNCTION reward_fraud_totals_{op}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {tagged}
    INSERT INTO reward_fraud_totals (campaign_id, day, reason, outcome, n, amount)
    SELECT campaign_id, day, reason, outcome, sum(sign), sum(sign * amount)
    FROM tagged GROUP BY 1, 2, 3, 4
    HAVING (sum(sign) <> 0 OR sum(sign * amount) <> 0)
       AND EXISTS (SELECT 1 FROM campaigns AS c WHERE c.id = tagged.campaign_id);
    RETURN NULL;
END
$fn$
"""
TRIGGERS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}
# The rows already there, tagged the same way (in upgrade: TAGGED over all of rewards).
BACKFILL = """
{tagged}
INSERT INTO reward_fraud_totals (campaign_id, day, reason, outcome, n, amount)
SELECT campaign_id, day, reason, outcome, count(*), sum(amount) FROM tagged
GROUP BY 1, 2, 3, 4
"""


def upgrade() -> None:
    op.create_table(
        "reward_fraud_totals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=78, scale=0), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_reward_fraud_totals_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_fraud_totals")),
    )
    op.create_index(
        op.f("ix_reward_fraud_totals_campaign_id"),
        "reward_fraud_totals",
        ["campaign_id"],
        unique=False,
    )
    # no write between the trigger's creation and the backfill
    op.execute("LOCK TABLE rewards IN SHARE ROW EXCLUSIVE MODE")
    for event, referencing in TRIGGERS.items():
        tagged = TAGGED.format(sign="sign", rows=CHANGED[event])
        op.execute(APPLY.format(op=event, tagged=tagged.strip()))
        op.execute(
            f"CREATE TRIGGER reward_fraud_totals_{event} AFTER {event.upper()} ON rewards "
            f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION reward_fraud_totals_{event}()"
        )
    op.execute(BACKFILL.format(tagged=TAGGED.format(sign="1", rows="SELECT * FROM rewards")))


def downgrade() -> None:
    for event in TRIGGERS:
        op.execute(f"DROP TRIGGER reward_fraud_totals_{event} ON rewards")
        op.execute(f"DROP FUNCTION reward_fraud_totals_{event}()")
    op.drop_index(op.f("ix_reward_fraud_totals_campaign_id"), table_name="reward_fraud_totals")
    op.drop_table("reward_fraud_totals")
