"""Fraud rules and the review of held rewards: the product's rules, approve, refuse, expiry.

Refusing a reward (a `reject` rule in the evaluator, a reviewer, or an expired hold whose
product defaults to reject) has one path, `refuse`: lock the rows' campaigns in id order,
cancel the rows, give their budget, per-user counts and period usage back
(backend.campaigns.refunds.give_back). Approving moves `held` rows to `pending`, where the
push job finds them. Every review is recorded in the audit log and told to the owner's
webhooks, in the transaction of the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.service import record
from backend.campaigns import refunds
from backend.fraud import rules as r
from backend.fraud.models import FraudRule, FraudSettings
from backend.notifications import events
from backend.notifications.outbox import enqueue_event
from backend.rewards import service as rewards

RULES_SQL = text(
    """
    SELECT p.id AS product_id, s.product_id IS NOT NULL AS customised,
           f.kind, f.action, f.reason_code, f.params
    FROM unnest(CAST(:products AS varchar[])) AS p(id)
    LEFT JOIN fraud_settings AS s ON s.product_id = p.id
    LEFT JOIN fraud_rules AS f ON f.product_id = p.id AND f.enabled
    ORDER BY p.id, f.created_at, f.id
    """
)
CAMPAIGNS_OF_SQL = text(
    "SELECT DISTINCT campaign_id FROM rewards "
    "WHERE (id = ANY(CAST(:ids AS bigint[])) OR interaction_id = ANY(CAST(:iids AS bigint[]))) "
    "AND status IN ('pending', 'held')"
)
APPROVE_SQL = text(
    "UPDATE rewards SET status = 'pending', updated_at = now() "
    "WHERE id = ANY(CAST(:ids AS bigint[])) AND product_id = :product AND status = 'held' "
    "RETURNING id, campaign_id, interaction_id, wallet, level, amount, token, hold_reasons"
)
HELD_OF_SQL = text(
    "SELECT id FROM rewards WHERE id = ANY(CAST(:ids AS bigint[])) AND product_id = :product "
    "AND status = 'held'"
)
EXPIRED_SQL = text(
    """
    SELECT x.product_id, array_agg(x.id ORDER BY x.id) AS ids,
           COALESCE(s.default_decision, :decision) AS decision
    FROM rewards AS x
    LEFT JOIN fraud_settings AS s ON s.product_id = x.product_id
    WHERE x.status = 'held'
      AND x.created_at < now() - make_interval(secs => COALESCE(s.review_after_seconds, :after))
    GROUP BY x.product_id, s.default_decision
    LIMIT 100
    """
)


async def effective_rules(
    session: AsyncSession, products: Sequence[str]
) -> dict[str, Sequence[r.Rule]]:
    """The enabled rules of each product: its own once it has edited them, else the defaults
    (DEFAULT_RULES itself, shared: r.compile_products compiles it once)."""
    found: dict[str, Sequence[r.Rule]] = {}
    own: dict[str, list[r.Rule]] = {}
    # unpacked by position (RULES_SQL's column order): a row per product of a batch, and a
    # Row's attribute access costs about a microsecond a column
    rows = await session.execute(RULES_SQL, {"products": list(products)})
    for product_id, customised, kind, action, reason_code, params in rows:
        if not customised:
            found[product_id] = r.DEFAULT_RULES
            continue
        rules = found[product_id] = own.setdefault(product_id, [])
        if kind is not None:
            rules.append(r.Rule(kind, action, reason_code, params or {}))
    return found


async def refuse(
    session: AsyncSession,
    *,
    ids: Sequence[int] = (),
    interaction_ids: Sequence[int] = (),
    reason: str,
    held_only: bool = False,
) -> list[rewards.CancelledReward]:
    """Unsettled (pending or held; `held_only`: held) rows -> cancelled, their budget given
    back: the one path. Campaigns are locked before the rows, like every refund."""
    params = {"ids": list(ids), "iids": list(interaction_ids)}
    campaign_ids = [row.campaign_id for row in await session.execute(CAMPAIGNS_OF_SQL, params)]
    if not campaign_ids:
        return []
    locked = await refunds.lock_campaigns(session, campaign_ids)
    cancelled = await rewards.cancel_unsettled(
        session, ids=ids, interaction_ids=interaction_ids, reason=reason, held_only=held_only
    )
    await refunds.give_back(session, locked, cancelled)
    return cancelled


@dataclass(frozen=True)
class Reviewed:
    approved: list[int]
    rejected: list[int]
    skipped: list[int]  # not held (any more) on this product: left as they are


async def review(
    session: AsyncSession,
    *,
    product_id: str,
    reward_ids: Sequence[int],
    decision: str,
    actor: str,
    note: str | None = None,
) -> Reviewed:
    """Approve (-> pending) or reject (-> cancelled, budget back) held rewards of a product.

    Rows that are not held on this product are skipped, never touched: a bulk review that
    races another reviewer or the expiry job does each row at most once. Audit and webhook
    in the same transaction; the caller commits.
    """
    wanted = sorted(set(reward_ids))
    if decision == "approve":
        rows = (await session.execute(APPROVE_SQL, {"ids": wanted, "product": product_id})).all()
        done = sorted(row.id for row in rows)
        details = [
            {
                "reward_id": row.id,
                "wallet": row.wallet,
                "amount": str(int(row.amount)),
                "token": row.token,
                "campaign_id": str(row.campaign_id),
                "interaction_id": row.interaction_id,
                "reasons": list(row.hold_reasons or ()),
            }
            for row in sorted(rows, key=lambda x: x.id)
        ]
        event = events.REWARDS_APPROVED
    else:
        held = [
            row.id
            for row in await session.execute(HELD_OF_SQL, {"ids": wanted, "product": product_id})
        ]
        reason = "fraud review: rejected" + (f" ({note})" if note else "")
        cancelled = await refuse(session, ids=held, reason=reason, held_only=True) if held else []
        done = sorted(row.id for row in cancelled)
        details = [
            {
                "reward_id": row.id,
                "wallet": row.wallet,
                "amount": str(row.amount),
                "campaign_id": str(row.campaign_id),
                "interaction_id": row.interaction_id,
            }
            for row in sorted(cancelled, key=lambda x: x.id)
        ]
        event = events.REWARDS_REJECTED
    if done:
        after: dict[str, Any] = {"decision": decision, "rewards": done}
        if note:
            after["note"] = note
        record(
            session,
            actor=actor,
            product_id=product_id,
            action=f"reward.{decision}",
            entity="reward",
            entity_id=str(done[0]) if len(done) == 1 else f"bulk:{len(done)}",
            before={"status": "held"},
            after=after,
        )
        await enqueue_event(
            session,
            product_id,
            event,
            {"product_id": product_id, "actor": actor, "rewards": details},
        )
    skipped = sorted(set(wanted) - set(done))
    if decision == "approve":
        return Reviewed(done, [], skipped)
    return Reviewed([], done, skipped)


async def expire_holds(session: AsyncSession) -> int:
    """Scheduler job: held rewards older than their product's limit follow its default
    decision (recorded and told like a reviewer's). Returns how many; commits per product."""
    rows = (
        await session.execute(
            EXPIRED_SQL, {"decision": r.DEFAULT_DECISION, "after": r.DEFAULT_REVIEW_AFTER_S}
        )
    ).all()
    await session.rollback()
    total = 0
    for row in rows:
        outcome = await review(
            session,
            product_id=row.product_id,
            reward_ids=list(row.ids),
            decision=row.decision,
            actor="system:review_expiry",
            note="not reviewed in time",
        )
        await session.commit()
        total += len(outcome.approved) + len(outcome.rejected)
    return total


# --- settings and rules --------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    review_after_seconds: int = r.DEFAULT_REVIEW_AFTER_S
    default_decision: str = r.DEFAULT_DECISION
    signal_retention_days: int = r.DEFAULT_RETENTION_DAYS
    customised: bool = False


async def settings_of(session: AsyncSession, product_id: str) -> Settings:
    row = await session.get(FraudSettings, product_id)
    if row is None:
        return Settings()
    return Settings(row.review_after_seconds, row.default_decision, row.signal_retention_days, True)


async def materialise(session: AsyncSession, product_id: str) -> None:
    """Before a product's first edit its defaults become its own rows (the edit applies to
    them). A concurrent first edit waits on the settings row's insert, then finds it."""
    created = await session.scalar(
        text(
            "INSERT INTO fraud_settings (product_id, review_after_seconds, default_decision, "
            "signal_retention_days) VALUES (:p, :after, :decision, :days) "
            "ON CONFLICT (product_id) DO NOTHING RETURNING product_id"
        ),
        {
            "p": product_id,
            "after": r.DEFAULT_REVIEW_AFTER_S,
            "decision": r.DEFAULT_DECISION,
            "days": r.DEFAULT_RETENTION_DAYS,
        },
    )
    if created is None:
        return
    for rule in r.DEFAULT_RULES:
        session.add(
            FraudRule(
                id=uuid.uuid4(),
                product_id=product_id,
                kind=rule.kind,
                action=rule.action,
                reason_code=rule.reason_code,
                params=dict(rule.params),
                enabled=True,
            )
        )
    await session.flush()


async def rules_of(session: AsyncSession, product_id: str) -> list[FraudRule] | None:
    """A product's stored rules, or None when it still runs on the defaults."""
    if await session.get(FraudSettings, product_id) is None:
        return None
    found = await session.scalars(
        select(FraudRule)
        .where(FraudRule.product_id == product_id)
        .order_by(FraudRule.created_at, FraudRule.id)
    )
    return list(found.all())


def rule_json(rule: FraudRule | r.Rule, rule_id: str | None = None) -> dict[str, Any]:
    if isinstance(rule, FraudRule):
        return {
            "id": str(rule.id),
            "kind": rule.kind,
            "action": rule.action,
            "reason_code": rule.reason_code,
            "params": rule.params,
            "enabled": rule.enabled,
        }
    return {
        "id": rule_id,
        "kind": rule.kind,
        "action": rule.action,
        "reason_code": rule.reason_code,
        "params": dict(rule.params),
        "enabled": True,
    }


def defaults_json() -> list[dict[str, Any]]:
    return [rule_json(rule) for rule in r.DEFAULT_RULES]


def settings_json(settings: Settings | FraudSettings) -> Mapping[str, Any]:
    return {
        "review_after_seconds": settings.review_after_seconds,
        "default_decision": settings.default_decision,
        "signal_retention_days": settings.signal_retention_days,
    }
