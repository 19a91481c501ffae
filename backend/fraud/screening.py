"""The fraud rules inside an evaluation batch: load the evidence once, judge, hold or refuse.

Called by backend.evaluation.batch after the batch's rewards are written and before its
commit, so a held or refused reward is never visible as a payable row. Every read is one
statement for the whole batch (no query per interaction); holding is one statement;
refusing goes through the one path that gives budget back (backend.fraud.service.refuse).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns.engine import Outcome
from backend.fraud import rules as r
from backend.fraud.service import effective_rules, refuse

SIGNALS_SQL = text(
    """
    SELECT k.p AS product_id, k.w AS wallet,
           array_remove(array_agg(DISTINCT s.device_hash), NULL) AS devices,
           array_remove(array_agg(DISTINCT s.ip_hash), NULL) AS ips,
           array_remove(array_agg(DISTINCT s.passkey_hash), NULL) AS passkeys
    FROM unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[])) AS k(p, w)
    JOIN interaction_signals AS s ON s.product_id = k.p AND s.wallet = k.w
    GROUP BY k.p, k.w
    """
)
# referred wallets per referrer: accepted edges (recorded earlier in this same transaction
# for the batch's own referrals), one index range scan each (ix_referral_edges_referrer)
REFERRED_SQL = text(
    """
    SELECT k.p AS product_id, k.w AS referrer, c.hour, c.day
    FROM unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[])) AS k(p, w)
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE e.referred_at > now() - interval '1 hour') AS hour,
               count(*) AS day
        FROM referral_edges AS e
        WHERE e.product_id = k.p AND e.referrer_wallet = k.w
          AND e.referred_at > now() - interval '1 day'
    ) AS c
    """
)
# earned before this batch: rows not cancelled, created in the window (the batch's own rows
# are excluded by the interaction ids; `judge` adds them in arrival order)
EARNED_SQL = text(
    """
    SELECT k.p AS product_id, k.w AS wallet, e.amount
    FROM unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[])) AS k(p, w)
    CROSS JOIN LATERAL (
        SELECT COALESCE(sum(x.amount), 0) AS amount FROM rewards AS x
        WHERE x.wallet = k.w AND x.product_id = k.p
          AND x.status IN ('pending', 'held', 'batched', 'pushed')
          AND x.created_at > now() - make_interval(secs => :window)
          AND NOT x.interaction_id = ANY(CAST(:batch AS bigint[]))
    ) AS e
    """
)
# a buyer's refunded orders on the product: one range of the partial index
# ix_orders_refunded_wallet per buyer (the order being paid is completed, so never counted)
REFUNDED_SQL = text(
    """
    SELECT k.p AS product_id, k.w AS wallet, c.n
    FROM unnest(CAST(:products AS varchar[]), CAST(:wallets AS varchar[])) AS k(p, w)
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM orders AS o
        WHERE o.product_id = k.p AND o.wallet = k.w AND o.status = 'refunded'
    ) AS c
    WHERE c.n > 0
    """
)
HOLD_SQL = text(
    """
    UPDATE rewards AS x SET status = 'held', hold_reasons = string_to_array(v.reasons, ','),
           updated_at = now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:reasons AS text[])) AS v(id, reasons)
    WHERE x.interaction_id = v.id AND x.status = 'pending'
    """
)


@dataclass(frozen=True)
class Paying:
    """What the evaluator knows of an interaction it pays (plain values)."""

    interaction_id: int
    wallet: str
    type: str
    order_amount: int | None
    chain: tuple[str, ...]


@dataclass
class Screened:
    held: int = 0  # interactions
    refused: int = 0


async def screen(session: AsyncSession, outcome: Outcome, paying: Mapping[int, Paying]) -> Screened:
    """Judge the rewards `outcome` wrote, hold or refuse the ones a rule matched."""
    subjects = _subjects(outcome, paying)
    if not subjects:
        return Screened()
    products = sorted({s.product_id for s in subjects})
    rules = await effective_rules(session, products)
    checks = r.compile_products(rules)
    if not any(checks.values()):
        return Screened()
    evidence = await _evidence(session, subjects, checks)
    verdicts = r.judge(subjects, rules, evidence)
    if not verdicts:
        return Screened()
    held = {iid: v for iid, v in verdicts.items() if v.action == r.HOLD}
    if held:
        await session.execute(
            HOLD_SQL,
            {"ids": list(held), "reasons": [",".join(v.reasons) for v in held.values()]},
        )
    refused: dict[str, list[int]] = {}
    for iid, verdict in verdicts.items():
        if verdict.action == r.REJECT:
            refused.setdefault(",".join(verdict.reasons), []).append(iid)
    for reasons, ids in sorted(refused.items()):  # one pass per distinct set of reasons
        await refuse(session, interaction_ids=ids, reason=f"fraud: {reasons}")
    return Screened(held=len(held), refused=sum(len(ids) for ids in refused.values()))


def _subjects(outcome: Outcome, paying: Mapping[int, Paying]) -> list[r.Subject]:
    """One subject per paid interaction, in arrival order (the order of the payouts)."""
    grouped: dict[int, list[tuple[str, int]]] = {}
    product_of: dict[int, str] = {}
    for p in outcome.payouts:
        grouped.setdefault(p.interaction_id, []).append((p.wallet, p.amount))
        product_of[p.interaction_id] = p.product_id
    subjects: list[r.Subject] = []
    for iid, parts in grouped.items():
        known = paying[iid]
        subjects.append(
            r.Subject(
                interaction_id=iid,
                product_id=product_of[iid],
                wallet=known.wallet,
                referrer=known.chain[0] if known.chain else None,
                type=known.type,
                order_amount=known.order_amount,
                payouts=tuple(parts),
            )
        )
    return subjects


async def _evidence(
    session: AsyncSession,
    subjects: Sequence[r.Subject],
    checks: Mapping[str, Sequence[r.Check]],
) -> r.Evidence:
    """One statement per kind of evidence the products' rules read, for only the subjects
    those rules can match (a reward without a referrer needs no referrer's signals)."""
    wanted = {product: r.needs(product_checks) for product, product_checks in checks.items()}
    signals: dict[tuple[str, str], r.Signals] = {}
    referred: dict[tuple[str, str], tuple[int, int]] = {}
    earned: dict[tuple[str, str, int], int] = {}
    pairs: set[tuple[str, str]] = set()
    for s in subjects:
        needs = wanted.get(s.product_id, set())
        if "referrer_signals" in needs and s.referrer:
            pairs |= {(s.product_id, s.wallet), (s.product_id, s.referrer)}
        if "own_signals" in needs:
            pairs.add((s.product_id, s.wallet))
    if pairs:
        for row in await session.execute(SIGNALS_SQL, _unzip(sorted(pairs))):
            signals[(row.product_id, row.wallet)] = r.Signals(
                frozenset(row.devices or ()),
                frozenset(row.ips or ()),
                frozenset(row.passkeys or ()),
            )
    referrers = sorted(
        {
            (s.product_id, s.referrer)
            for s in subjects
            if s.referrer and "referred" in wanted.get(s.product_id, set())
        }
    )
    if referrers:
        for row in await session.execute(REFERRED_SQL, _unzip(referrers)):
            referred[(row.product_id, row.referrer)] = (int(row.hour), int(row.day))
    windows = {
        check.limits[1]
        for product_checks in checks.values()
        for check in product_checks
        if check.rule.kind == "wallet_earnings"
    }
    if windows:
        recipients = sorted(
            {
                (s.product_id, w)
                for s in subjects
                if "earned" in wanted.get(s.product_id, set())
                for w, _ in s.payouts
            }
        )
        batch = [s.interaction_id for s in subjects]
        for window in sorted(w for w in windows if w is not None):
            params = {**_unzip(recipients), "window": window, "batch": batch}
            for row in await session.execute(EARNED_SQL, params):
                earned[(row.product_id, row.wallet, window)] = int(row.amount)
    buyers = sorted(
        {
            (s.product_id, s.wallet)
            for s in subjects
            if s.type == r.PURCHASE and "refunded" in wanted.get(s.product_id, set())
        }
    )
    refunded: dict[tuple[str, str], int] = {}
    if buyers:
        for row in await session.execute(REFUNDED_SQL, _unzip(buyers)):
            refunded[(row.product_id, row.wallet)] = int(row.n)
    return r.Evidence(signals, referred, earned, refunded)


def _unzip(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    return {"products": [p for p, _ in pairs], "wallets": [w for _, w in pairs]}
