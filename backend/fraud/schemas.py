"""Request shapes of the fraud API (unknown fields are rejected; sizes are bounded)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from backend.products.validation import AddressStr, AmountStr, Input

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

Kind = Literal[
    "shared_device",
    "shared_ip",
    "shared_passkey",
    "referral_velocity",
    "wallet_earnings",
    "min_purchase",
    "refund_history",
    "deny_list",
]
Action = Literal["hold", "reject"]
Decision = Literal["approve", "reject"]
ReasonCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,64}$")]
Count = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
# printable, no NUL or control characters (they never reach the database either way)
Plain = Annotated[str, msgspec.Meta(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")]
Note = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")]
RewardId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
MAX_LIST = 10_000


class RuleParams(Input):
    """Parameters; each kind reads its own (docs/fraud.md)."""

    max_per_hour: Count | None = None  # referral_velocity
    max_per_day: Count | None = None  # referral_velocity
    max_amount: AmountStr | None = None  # wallet_earnings, base units
    period: Literal["hour", "day", "week"] | None = None  # wallet_earnings
    min_amount: AmountStr | None = None  # min_purchase, order amount (18 decimals)
    min_refunded_orders: Count | None = None  # refund_history: the buyer's refunded orders
    wallets: Annotated[list[AddressStr], msgspec.Meta(max_length=MAX_LIST)] | None = None
    ips: Annotated[list[Plain], msgspec.Meta(max_length=MAX_LIST)] | None = None
    devices: Annotated[list[Plain], msgspec.Meta(max_length=MAX_LIST)] | None = None


class RuleCreate(Input):
    kind: Kind
    action: Action
    reason_code: ReasonCode
    params: RuleParams = msgspec.field(default_factory=RuleParams)
    enabled: bool = True


class RuleUpdate(Input):
    action: Action | Unset = UNSET
    reason_code: ReasonCode | Unset = UNSET
    params: RuleParams | Unset = UNSET
    enabled: bool | Unset = UNSET


class SettingsUpdate(Input):
    review_after_seconds: Annotated[int, msgspec.Meta(ge=60, le=365 * 86_400)] | Unset = UNSET
    default_decision: Decision | Unset = UNSET
    signal_retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | Unset = UNSET


class ReviewIn(Input):
    reward_ids: Annotated[list[RewardId], msgspec.Meta(min_length=1, max_length=1_000)]
    decision: Decision
    note: Note | None = None
