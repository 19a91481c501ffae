"""Request and response shapes of the ingestion API (unknown fields are rejected)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import msgspec

BUILTIN_TYPES = frozenset(
    {
        "referral.link_creation",
        "referral.referred",
        "purchase.started",
        "purchase.completed",
        "webshop.open",
        "press.open_article",
        "press.read_article",
        "retail.customer_meeting",
        "content.shared",  # sent by the SDK's shareContent action
    }
)
CUSTOM_TYPE = re.compile(r"^custom\.[a-z0-9_]+(\.[a-z0-9_]+)*$")
# only a trusted server (API key) or a shop webhook may say a purchase happened
SERVER_ONLY_TYPES = frozenset({"purchase.completed"})
MAX_BATCH = 1_000

ProductId = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{64}$")]
InteractionType = Annotated[str, msgspec.Meta(min_length=3, max_length=64)]
DedupKey = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
AnalyticsId = Annotated[str, msgspec.Meta(max_length=100)]
DeviceId = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


def is_known_type(value: str) -> bool:
    return value in BUILTIN_TYPES or (len(value) <= 64 and CUSTOM_TYPE.match(value) is not None)


class InteractionIn(msgspec.Struct, forbid_unknown_fields=True):
    product_id: ProductId
    wallet: str
    type: InteractionType
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    dedup_key: DedupKey | None = None
    occurred_at: datetime | None = None
    analytics_session_id: AnalyticsId | None = None
    analytics_client_id: AnalyticsId | None = None
    # the visitor's device id (what the SDK sends as Cascade-Device-Id), when a server
    # forwards interactions of several visitors; kept only as a keyed hash (docs/fraud.md)
    device_id: DeviceId | None = None


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    # items are decoded one by one so a bad item is answered alone, not the whole batch
    interactions: Annotated[list[Any], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class ReferralLinkIn(msgspec.Struct, forbid_unknown_fields=True):
    product_id: ProductId
    wallet: str
    url: Annotated[str, msgspec.Meta(min_length=8, max_length=2048)]
