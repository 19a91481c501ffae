"""cascade_store_interactions: a group of interactions checked and stored in one call

The single endpoint stored each request with `cascade_store_interaction` (migrations
0006, 0018): one round trip, but one transaction, one hourly count and one commit per
interaction, which made PostgreSQL's share of a request ~3 times a raw INSERT's. Requests
that arrive together are now stored together (backend.interactions.coalesce): this
function takes a group in arrival order, takes its (product, wallet) locks in key order,
then decides every item with set-based statements, exactly as one item at a time would:

- a dedup key seen inside its window (stored before, or earlier in the group and stored
  now) makes the item a duplicate of that interaction;
- the hourly per-wallet limit counts what is stored in the last hour (at most the limit)
  plus the group's earlier items of that wallet that are stored now;
- the stored items get ids in arrival order and are queued for the evaluator.

One item is a group of one, and the batch endpoint stores its runs of plain interactions
with it too: the single-item function and the batch's own copy of the checks are gone.

Revision ID: 0023_store_groups
Revises: 0022_reward_fraud_totals
Create Date: 2026-12-16 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023_store_groups"
down_revision: str | None = "0022_reward_fraud_totals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORE_GROUP = """
CREATE FUNCTION cascade_store_interactions(
    p_products varchar[], p_wallets varchar[], p_types varchar[], p_datas text[],
    p_dedup_keys varchar[], p_referrers varchar[], p_order_ids varchar[], p_flags varchar[],
    p_session_ids varchar[], p_client_ids varchar[], p_occurred timestamptz[],
    p_windows integer[], p_limits integer[], p_lock_keys bigint[], p_sources varchar[],
    p_source_refs varchar[], p_client_ips inet[], p_queue boolean
) RETURNS TABLE (n bigint, interaction_id bigint, duplicate_of bigint, oldest timestamptz,
                 now_at timestamptz)
LANGUAGE plpgsql VOLATILE
-- one plan per statement, kept: custom plans were made again on every call (~40 us of
-- CPU per item in groups of 8); the statements join nothing but their index lookups, so
-- the plan does not depend on a group's size
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    t_now timestamptz := now();
    n_stored integer;  -- items stored now
    -- per item, in order: s stored now, d duplicate of a stored interaction,
    -- g duplicate of an item stored now, l over the hourly limit
    verdicts "char"[];
    ranks bigint[];    -- s: its place among the items stored now (its id: ids[rank])
    refs bigint[];     -- d: the original's id; g: the original's rank
    olds timestamptz[]; -- l: the oldest interaction the limit counted
    ids bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock(l.k)
    FROM (SELECT DISTINCT k FROM unnest(p_lock_keys) AS k WHERE k IS NOT NULL ORDER BY k) AS l;
    -- Each level adds what the next needs, over the group's rows in order; nothing is
    -- joined but the index lookups of the dedup window and the hourly count.
    SELECT array_agg(d.v ORDER BY d.n), array_agg(d.rank ORDER BY d.n),
           array_agg(d.ref ORDER BY d.n), array_agg(d.oldest ORDER BY d.n), max(d.rank)
    INTO verdicts, ranks, refs, olds, n_stored
    FROM (
        SELECT c.n,
               CASE WHEN c.original IS NOT NULL THEN 'd'
                    WHEN c.head THEN (CASE WHEN c.ok THEN 's' ELSE 'l' END)
                    WHEN c.head_ok THEN 'g' ELSE 'l' END::"char" AS v,
               CASE WHEN c.original IS NULL AND c.head AND c.ok THEN c.rank END AS rank,
               CASE WHEN c.original IS NOT NULL THEN c.original
                    WHEN NOT c.head AND c.head_ok THEN c.head_rank END AS ref,
               CASE WHEN c.original IS NULL AND NOT (CASE WHEN c.head THEN c.ok ELSE c.head_ok END)
                    THEN c.pair_oldest END AS oldest
        FROM (
            SELECT b.*,
                   -- a duplicate of an earlier item shares that item's fate
                   bool_or(b.ok) FILTER (WHERE b.head) OVER key_group AS head_ok,
                   max(b.rank) FILTER (WHERE b.head) OVER key_group AS head_rank
            FROM (
                SELECT a.*,
                       count(*) FILTER (WHERE a.head AND a.ok) OVER (ORDER BY a.n) AS rank
                FROM (
                    SELECT u.*,
                           -- the limit: the items before it here that are stored, plus the
                           -- interactions stored in the last hour (counted at the pair's
                           -- first item)
                           u.head AND (u.lim IS NULL OR COALESCE(max(u.used) OVER pair, 0)
                               + count(*) FILTER (WHERE u.head) OVER (pair ORDER BY u.n)
                               <= u.lim) AS ok,
                           COALESCE(min(u.first_at) OVER pair, t_now) AS pair_oldest
                    FROM (
                        SELECT h.*, used.used, used.first_at
                        FROM (
                            SELECT o.*,
                                   o.original IS NULL AND (o.dedup_key IS NULL OR o.n = min(o.n)
                                       FILTER (WHERE o.original IS NULL) OVER (
                                       PARTITION BY o.product_id, o.wallet, o.type, o.dedup_key))
                                   AS head,
                                   min(o.n) OVER (PARTITION BY o.product_id, o.wallet)
                                   AS pair_first
                            FROM (
                                SELECT v.*, CASE WHEN v.dedup_key IS NOT NULL THEN (
                                    SELECT i.id FROM interactions AS i
                                    WHERE i.product_id = v.product_id AND i.wallet = v.wallet
                                      AND i.type = v.type AND i.dedup_key = v.dedup_key
                                      AND i.received_at > t_now - make_interval(secs => v.window_s)
                                    ORDER BY i.received_at LIMIT 1
                                ) END AS original
                                FROM unnest(p_products, p_wallets, p_types, p_dedup_keys,
                                            p_windows, p_limits)
                                    WITH ORDINALITY AS v(product_id, wallet, type, dedup_key,
                                                         window_s, lim, n)
                            ) AS o
                        ) AS h
                        LEFT JOIN LATERAL (
                            SELECT count(*) AS used, min(r.received_at) AS first_at FROM (
                                SELECT i.received_at FROM interactions AS i
                                WHERE h.lim IS NOT NULL AND h.n = h.pair_first
                                  AND i.product_id = h.product_id AND i.wallet = h.wallet
                                  AND i.received_at > t_now - interval '1 hour'
                                ORDER BY i.received_at LIMIT h.lim
                            ) AS r
                        ) AS used ON true
                    ) AS u
                    WINDOW pair AS (PARTITION BY u.product_id, u.wallet)
                ) AS a
            ) AS b
            WINDOW key_group AS (PARTITION BY b.product_id, b.wallet, b.type, b.dedup_key)
        ) AS c
    ) AS d;
    -- ids drawn one by one in arrival order before the insert: id order is arrival order
    IF n_stored > 0 THEN
        ids := ARRAY(SELECT nextval('interactions_id_seq') FROM generate_series(1, n_stored));
        WITH stored AS (
            INSERT INTO interactions (id, product_id, wallet, type, data, dedup_key,
                                      referrer_wallet, order_id, flag, source, source_ref,
                                      client_ip, analytics_session_id, analytics_client_id,
                                      occurred_at)
            SELECT ids[v.rank], v.product_id, v.wallet, v.type, CAST(v.data AS jsonb),
                   v.dedup_key, v.referrer, v.order_id, v.flag, v.source, v.source_ref,
                   v.client_ip, v.session_id, v.client_id, COALESCE(v.occurred_at, t_now)
            FROM unnest(p_products, p_wallets, p_types, p_datas, p_dedup_keys, p_referrers,
                        p_order_ids, p_flags, p_session_ids, p_client_ids, p_occurred,
                        p_sources, p_source_refs, p_client_ips, ranks)
                AS v(product_id, wallet, type, data, dedup_key, referrer, order_id, flag,
                     session_id, client_id, occurred_at, source, source_ref, client_ip, rank)
            WHERE v.rank IS NOT NULL
            ORDER BY v.rank
            RETURNING id, product_id, received_at
        )
        INSERT INTO evaluation_queue (interaction_id, product_id, received_at)
        SELECT stored.id, stored.product_id, stored.received_at FROM stored WHERE p_queue;
    END IF;
    RETURN QUERY
        SELECT d.n, CASE WHEN d.v = 's' THEN ids[d.rank] END,
               CASE d.v WHEN 'd' THEN d.ref WHEN 'g' THEN ids[d.ref] END, d.oldest, t_now
        FROM unnest(verdicts, ranks, refs, olds) WITH ORDINALITY AS d(v, rank, ref, oldest, n)
        ORDER BY d.n;
END
$$
"""

# The single-item function as migration 0018 left it (for downgrade).
STORE_ONE = """
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


def upgrade() -> None:
    op.execute(STORE_GROUP)
    op.execute(
        "DROP FUNCTION cascade_store_interaction(varchar, varchar, varchar, jsonb, varchar, "
        "varchar, varchar, varchar, varchar, varchar, inet, varchar, varchar, timestamptz, "
        "integer, integer, bigint, boolean)"
    )


def downgrade() -> None:
    op.execute(STORE_ONE)
    op.execute(
        "DROP FUNCTION cascade_store_interactions(varchar[], varchar[], varchar[], text[], "
        "varchar[], varchar[], varchar[], varchar[], varchar[], varchar[], timestamptz[], "
        "integer[], integer[], bigint[], varchar[], varchar[], inet[], boolean)"
    )
