"""One statement per interaction: store it, charge its campaigns and write its rewards.

The common case of the single endpoint (a plain interaction whose campaigns have
no per-user or period limit) costs one round trip: the statement locks the
matching campaigns in id order (the engine's lock order, so it never deadlocks
with the locked path), re-checks status, version, window and cap, and stores
the interaction, charges used_budget and writes the reward rows only if every
check still holds. Run on its own (autocommit) it is also its own transaction,
so the campaign row is locked only while the statement executes, never across
a round trip to the app. When a check fails it writes nothing and the caller
takes the locked path, which decides campaign by campaign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns import engine
from backend.core.errors import RateLimited
from backend.referrals import service as referrals
from backend.rewards import service as rewards

_json = msgspec.json.Encoder()

NEXT_ID_SQL = text("SELECT nextval(pg_get_serial_sequence('interactions', 'id'))")

INLINE_SQL = text(
    """
WITH gate AS (
    SELECT count(*) AS n FROM (
        SELECT c.id FROM campaigns AS c
        JOIN unnest(CAST(:c_ids AS uuid[]), CAST(:c_versions AS int[]),
                    CAST(:c_totals AS numeric[])) AS v(id, version, total) ON c.id = v.id
        WHERE c.status = 'active' AND c.version = v.version
          AND (c.starts_at IS NULL OR c.starts_at <= now())
          AND (c.ends_at IS NULL OR c.ends_at > now())
          AND (c.budget_cap = 0 OR c.used_budget + v.total <= c.budget_cap)
        ORDER BY c.id
        FOR NO KEY UPDATE OF c
    ) AS locked
), recent AS (
    SELECT received_at FROM interactions
    WHERE product_id = :product_id AND wallet = :wallet
      AND received_at > now() - interval '1 hour'
    ORDER BY received_at LIMIT :limit
), usage AS (
    SELECT count(*) AS used, min(received_at) AS oldest FROM recent
), dup AS (
    SELECT id FROM interactions
    WHERE CAST(:dedup_key AS varchar) IS NOT NULL
      AND product_id = :product_id AND wallet = :wallet AND type = :type
      AND dedup_key = :dedup_key AND received_at > now() - make_interval(secs => :window)
    ORDER BY received_at LIMIT 1
), ins AS (
    INSERT INTO interactions (id, product_id, wallet, type, data, dedup_key, source, source_ref,
                              client_ip, analytics_session_id, analytics_client_id, occurred_at,
                              processed_at)
    SELECT COALESCE(CAST(:interaction_id AS bigint),
                    nextval(pg_get_serial_sequence('interactions', 'id'))),
           :product_id, :wallet, :type, CAST(:data AS jsonb), :dedup_key, :source, :source_ref,
           CAST(:client_ip AS inet), :analytics_session_id, :analytics_client_id,
           COALESCE(CAST(:occurred_at AS timestamptz), now()), now()
    WHERE (SELECT n FROM gate) = :c_count
      AND NOT EXISTS (SELECT 1 FROM dup) AND (SELECT used FROM usage) < :limit
    RETURNING id
), budget AS (
    UPDATE campaigns AS c
    SET used_budget = c.used_budget + v.total,
        status = CASE WHEN c.budget_cap > 0
                      AND c.budget_cap - (c.used_budget + v.total) < v.smallest
                      THEN 'budget_exhausted' ELSE c.status END,
        status_reason = CASE WHEN c.budget_cap > 0
                             AND c.budget_cap - (c.used_budget + v.total) < v.smallest
                             THEN 'budget fully used' ELSE c.status_reason END,
        updated_at = now()
    FROM unnest(CAST(:c_ids AS uuid[]), CAST(:c_totals AS numeric[]),
                CAST(:c_smallest AS numeric[])) AS v(id, total, smallest)
    WHERE c.id = v.id AND EXISTS (SELECT 1 FROM ins)
    RETURNING c.id, c.status
), users AS (
    INSERT INTO campaign_user_rewards AS u (campaign_id, wallet, reward_count, total_amount)
    SELECT k.campaign_id, k.wallet, k.n, k.amount
    FROM unnest(CAST(:u_ids AS uuid[]), CAST(:u_wallets AS varchar[]),
                CAST(:u_counts AS int[]), CAST(:u_amounts AS numeric[]))
         AS k(campaign_id, wallet, n, amount)
    WHERE EXISTS (SELECT 1 FROM ins)
    ON CONFLICT (campaign_id, wallet) DO UPDATE
    SET reward_count = u.reward_count + EXCLUDED.reward_count,
        total_amount = u.total_amount + EXCLUDED.total_amount, updated_at = now()
    RETURNING 1
), paid AS (
    INSERT INTO rewards (product_id, campaign_id, interaction_id, wallet, level, token,
                         amount, available_at)
    SELECT v.product_id, v.campaign_id, (SELECT id FROM ins), v.wallet, v.level, v.token,
           v.amount, now() + make_interval(secs => v.lockup)
    FROM unnest(CAST(:r_products AS varchar[]), CAST(:r_campaigns AS uuid[]),
                CAST(:r_wallets AS varchar[]), CAST(:r_levels AS smallint[]),
                CAST(:r_tokens AS varchar[]), CAST(:r_amounts AS numeric[]),
                CAST(:r_lockups AS int[]))
         AS v(product_id, campaign_id, wallet, level, token, amount, lockup)
    WHERE EXISTS (SELECT 1 FROM ins)
    ON CONFLICT (interaction_id, campaign_id, level) DO NOTHING
    RETURNING id, interaction_id, campaign_id, wallet, level, token, amount
)
SELECT CAST(NULL AS bigint) AS id, (SELECT id FROM ins) AS interaction_id,
       CAST(NULL AS uuid) AS campaign_id, CAST(NULL AS varchar) AS wallet,
       CAST(NULL AS smallint) AS level, CAST(NULL AS varchar) AS token,
       CAST(NULL AS numeric) AS amount, CAST(NULL AS varchar) AS status,
       (SELECT n FROM gate) = :c_count AS gate_ok, (SELECT id FROM dup) AS duplicate_of,
       (SELECT oldest FROM usage) AS oldest, now() AS now
UNION ALL
SELECT id, interaction_id, campaign_id, wallet, level, token, amount, NULL, NULL, NULL, NULL,
       NULL
FROM paid
UNION ALL
SELECT NULL, NULL, id, NULL, NULL, NULL, NULL, status, NULL, NULL, NULL, NULL FROM budget
"""
)


@dataclass(frozen=True)
class Stored:
    """What the inline statement did: None fields mean it did not store the interaction."""

    interaction_id: int | None
    duplicate_of: int | None
    rewards: list[dict[str, Any]]  # the ingestion API's answer shape


async def store_and_charge(
    session: AsyncSession,
    *,
    product_id: str,
    item: Any,
    source: str,
    source_ref: str | None,
    client_ip: str | None,
    window_s: int,
    limit: int,
    secret: str,
    use_chain_cache: bool = True,
) -> Stored | None:
    """Store `item` (a plain interaction) and pay its campaigns in one statement.

    None when the engine must decide under locks: a campaign has limits, or a
    check failed between the cache read and the statement (nothing was written).
    Raises RateLimited; a duplicate answers with the original's rewards.
    """
    rules = await engine.candidates(session, product_id, item.type)
    interaction_id = None
    if engine.needs_interaction_id(rules):
        interaction_id = int(await session.scalar(NEXT_ID_SQL) or 0)
    depth = engine.max_depth_needed(rules)
    chain: tuple[str, ...] = ()
    if rules and depth:
        found = await referrals.chains(
            session, product_id, [item.wallet], depth, use_cache=use_chain_cache
        )
        chain = found.get(item.wallet, ())
    evaluation = engine.EvaluationInput(
        interaction_id or 0, product_id, item.wallet, item.type, referrers=chain
    )
    plan = engine.plan_inline(rules, evaluation, secret, datetime.now(UTC))
    if plan is None:
        return None
    params = {
        **plan.params,
        "interaction_id": interaction_id,
        "product_id": product_id,
        "wallet": item.wallet,
        "type": item.type,
        "data": _json.encode(item.data).decode(),
        "dedup_key": item.dedup_key,
        "source": source,
        "source_ref": source_ref,
        "client_ip": client_ip,
        "analytics_session_id": item.analytics_session_id,
        "analytics_client_id": item.analytics_client_id,
        "occurred_at": item.occurred_at,
        "window": window_s,
        "limit": limit,
    }
    rows = (await session.execute(INLINE_SQL, params)).all()
    head = rows[0]
    if not head.gate_ok:
        return None
    if head.duplicate_of is not None:
        found_rewards = await rewards.rewards_of_interaction(session, head.duplicate_of)
        return Stored(None, head.duplicate_of, found_rewards)
    if head.interaction_id is None:
        retry = head.oldest + timedelta(hours=1) - head.now
        raise RateLimited(
            f"at most {limit} interactions per hour for this wallet",
            retry_after=max(1, int(retry.total_seconds()) + 1),
        )
    paid = engine.inline_outcome(plan, rows[1:])
    return Stored(head.interaction_id, None, [r.as_json() for r in paid])
