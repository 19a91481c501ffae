"""The fraud rules as a function of plain values: which rewards of a batch are held or refused.

`judge` sees what the evaluator decided to pay (one `Subject` per paying interaction) and
what was read for it once per batch (`Evidence`), and returns one `Verdict` per subject a
rule matched. No database here: the evaluator loads the evidence set-wise and applies the
verdicts in the transaction that writes the rewards (backend.fraud.service).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HOLD = "hold"
REJECT = "reject"

# Defaults of a product that never edited its rules (docs/fraud.md says why each is on).
DEFAULT_REVIEW_AFTER_S = 14 * 24 * 3600  # a held reward waits two weeks for a review...
DEFAULT_DECISION = "reject"  # ...then is refused: no money leaves without a human's yes
DEFAULT_RETENTION_DAYS = 90  # signals are deleted after this many days
PERIODS_S = {"hour": 3600, "day": 86_400, "week": 7 * 86_400}


@dataclass(frozen=True)
class Rule:
    kind: str
    action: str
    reason_code: str
    params: Mapping[str, Any] = field(default_factory=dict)


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("shared_device", HOLD, "shared_device"),
    Rule("shared_passkey", HOLD, "shared_passkey"),
    Rule("referral_velocity", HOLD, "referral_velocity", {"max_per_hour": 10, "max_per_day": 50}),
    Rule("deny_list", REJECT, "deny_list", {"wallets": [], "ips": [], "devices": []}),
)


@dataclass(frozen=True)
class Signals:
    """A wallet's recent signals on a product (keyed hashes)."""

    devices: frozenset[str] = frozenset()
    ips: frozenset[str] = frozenset()
    passkeys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Subject:
    """One interaction the engine decided to pay: who earns what from it."""

    interaction_id: int
    product_id: str
    wallet: str  # who acted (level 0)
    referrer: str | None  # the direct referrer (level 1), if the reward has one
    type: str
    order_amount: int | None
    payouts: tuple[tuple[str, int], ...]  # (wallet, amount) per level written


@dataclass(frozen=True)
class Evidence:
    """What the rules read, loaded once per batch."""

    signals: Mapping[tuple[str, str], Signals] = field(default_factory=dict)  # (product, wallet)
    referred: Mapping[tuple[str, str], tuple[int, int]] = field(
        default_factory=dict
    )  # (product, referrer) -> referred wallets in the last hour, day
    earned: Mapping[tuple[str, str, int], int] = field(
        default_factory=dict
    )  # (product, wallet, period seconds) -> earned before this batch
    refunded: Mapping[tuple[str, str], int] = field(
        default_factory=dict
    )  # (product, buyer) -> the buyer's refunded orders on the product


@dataclass(frozen=True)
class Verdict:
    action: str  # hold | reject (reject wins over hold)
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    """A rule with its parameters parsed once per batch (what `judge` evaluates)."""

    rule: Rule
    limits: tuple[int | None, int | None] = (None, None)  # per hour/day, or (amount, window)
    wallets: frozenset[str] = frozenset()  # lower-cased
    ips: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()

    @property
    def reads_own_signals(self) -> bool:
        return bool(self.ips or self.devices)


def compile_rules(rules: Iterable[Rule]) -> list[Check]:
    """Parse parameters once; rules that can never match (an empty deny list, a velocity or
    earnings rule without a limit) are left out, so they cost nothing per reward."""
    checks: list[Check] = []
    for rule in rules:
        params = rule.params
        if rule.kind in SHARED:
            checks.append(Check(rule))
        elif rule.kind == "referral_velocity":
            limits = (_int(params.get("max_per_hour")), _int(params.get("max_per_day")))
            if limits != (None, None):
                checks.append(Check(rule, limits))
        elif rule.kind == "wallet_earnings":
            limit = _int(params.get("max_amount"))
            if limit is not None:
                checks.append(Check(rule, (limit, window_of(rule))))
        elif rule.kind == "min_purchase":
            minimum = _int(params.get("min_amount"))
            if minimum is not None:
                checks.append(Check(rule, (minimum, None)))
        elif rule.kind == "refund_history":
            least = _int(params.get("min_refunded_orders"))
            if least is not None and least >= 1:
                checks.append(Check(rule, (least, None)))
        elif rule.kind == "deny_list":
            check = Check(
                rule,
                wallets=frozenset(str(w).lower() for w in params.get("wallets", ())),
                ips=frozenset(str(i) for i in params.get("ips", ())),
                devices=frozenset(str(d) for d in params.get("devices", ())),
            )
            if check.wallets or check.ips or check.devices:
                checks.append(check)
    return checks


def compile_products(rules: Mapping[str, Sequence[Rule]]) -> dict[str, list[Check]]:
    """Each product's checks. Products given the same rule list (every product still on the
    defaults gets DEFAULT_RULES itself) share one compilation: a batch over a thousand
    products compiles the defaults once, not a thousand times."""
    compiled: dict[int, list[Check]] = {}  # id() of a list `rules` holds: alive meanwhile
    checks: dict[str, list[Check]] = {}
    for product, product_rules in rules.items():
        key = id(product_rules)
        if key not in compiled:
            compiled[key] = compile_rules(product_rules)
        checks[product] = compiled[key]
    return checks


def window_of(rule: Rule) -> int:
    return PERIODS_S.get(str(rule.params.get("period", "day")), 86_400)


def judge(
    subjects: Sequence[Subject],
    rules: Mapping[str, Sequence[Rule]],
    evidence: Evidence,
) -> dict[int, Verdict]:
    """Verdicts of the subjects a rule matched, in arrival order; earnings accumulate over
    the batch (a refused reward does not count as earned)."""
    checks = compile_products(rules)
    earned = dict(evidence.earned)
    verdicts: dict[int, Verdict] = {}
    for subject in subjects:
        product_checks = checks.get(subject.product_id)
        if not product_checks:
            continue
        matched = [c.rule for c in product_checks if _matches(c, subject, evidence, earned)]
        refused = any(r.action == REJECT for r in matched)
        if matched:
            verdicts[subject.interaction_id] = Verdict(
                REJECT if refused else HOLD,
                tuple(dict.fromkeys(r.reason_code for r in matched)),
            )
        if not refused:
            for check in product_checks:
                if check.rule.kind == "wallet_earnings":
                    window = check.limits[1] or 86_400
                    for wallet, amount in subject.payouts:
                        key = (subject.product_id, wallet, window)
                        earned[key] = earned.get(key, 0) + amount
    return verdicts


NO_SIGNALS = Signals()


def _matches(
    check: Check,
    subject: Subject,
    evidence: Evidence,
    earned: Mapping[tuple[str, str, int], int],
) -> bool:
    kind = check.rule.kind
    if kind in SHARED:
        if subject.referrer is None:
            return False
        own = evidence.signals.get((subject.product_id, subject.wallet), NO_SIGNALS)
        theirs = evidence.signals.get((subject.product_id, subject.referrer), NO_SIGNALS)
        attribute = SHARED[kind]
        return bool(getattr(own, attribute) & getattr(theirs, attribute))
    if kind == "referral_velocity":
        if subject.referrer is None:
            return False
        hour, day = evidence.referred.get((subject.product_id, subject.referrer), (0, 0))
        per_hour, per_day = check.limits
        return (per_hour is not None and hour > per_hour) or (per_day is not None and day > per_day)
    if kind == "wallet_earnings":
        limit, window = check.limits
        assert limit is not None and window is not None
        return any(
            earned.get((subject.product_id, wallet, window), 0) + amount > limit
            for wallet, amount in subject.payouts
        )
    if kind == "min_purchase":
        minimum = check.limits[0]
        return (
            minimum is not None
            and subject.order_amount is not None
            and subject.order_amount < minimum
        )
    if kind == "refund_history":
        least = check.limits[0]
        return (
            least is not None
            and subject.type == PURCHASE
            and evidence.refunded.get((subject.product_id, subject.wallet), 0) >= least
        )
    if kind == "deny_list":
        if check.wallets and (
            subject.wallet.lower() in check.wallets
            or any(w.lower() in check.wallets for w, _ in subject.payouts)
        ):
            return True
        if check.reads_own_signals:
            own = evidence.signals.get((subject.product_id, subject.wallet), NO_SIGNALS)
            return bool(own.ips & check.ips or own.devices & check.devices)
    return False


PURCHASE = "purchase.completed"
SHARED = {"shared_device": "devices", "shared_ip": "ips", "shared_passkey": "passkeys"}


def _int(value: Any) -> int | None:
    """A stored numeric parameter (ints are stored as decimal strings: uint256 fits)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def needs(checks: Iterable[Check]) -> set[str]:
    """What evidence the compiled rules read: referrer_signals (shared_*), own_signals (a deny
    list of IPs or devices), referred (velocity), earned (earnings windows), refunded (a
    buyer's refunded orders)."""
    wanted: set[str] = set()
    for check in checks:
        kind = check.rule.kind
        if kind in SHARED:
            wanted.add("referrer_signals")
        elif kind == "deny_list" and check.reads_own_signals:
            wanted.add("own_signals")
        elif kind == "referral_velocity":
            wanted.add("referred")
        elif kind == "wallet_earnings":
            wanted.add("earned")
        elif kind == "refund_history":
            wanted.add("refunded")
    return wanted
