"""Field types and checks shared by the business API's input schemas.

The schemas bound shapes (msgspec rejects unknown fields, wrong types, out of
range numbers); the helpers here turn checked strings into values and raise
`InvalidInput` naming the field, so every 422 says what to fix.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from eth_utils import to_checksum_address

from backend.core.db import UINT256_MAX
from backend.core.errors import invalid as invalid  # re-exported: products' callers
from backend.products.models import Role

# Decimal string of a non-negative integer (base units); the value is bounded in `amount()`.
AmountStr = Annotated[str, msgspec.Meta(pattern=r"^(0|[1-9][0-9]{0,77})$", max_length=78)]
AddressStr = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]
Bps = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
RoleName = Annotated[str, msgspec.Meta(pattern=r"^(admin|campaign_manager|interaction_manager)$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]

MAX_METADATA_BYTES = 8_192


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request body: unknown fields are an error, not silently dropped."""


def amount(field: str, value: str, *, maximum: int = UINT256_MAX) -> int:
    """A decimal string in base units as an int that fits uint256 (or `maximum`)."""
    try:
        number = int(value, 10)
    except ValueError:
        raise invalid(field, "must be a non-negative integer as a decimal string") from None
    if number < 0 or number > maximum:
        raise invalid(field, f"must be between 0 and {maximum}")
    return number


def address(field: str, value: str) -> str:
    """A 20-byte hex address, checksummed."""
    try:
        return str(to_checksum_address(value))
    except ValueError:
        raise invalid(field, "must be a 0x-prefixed 20-byte hex address") from None


def roles_mask(field: str, names: list[str]) -> int:
    """Role names to the stored bitmask; at least one role."""
    if not names:
        raise invalid(field, "needs at least one role")
    mask = 0
    for name in names:
        mask |= int(Role[name.upper()])
    return mask


def role_names(mask: int) -> list[str]:
    return [
        str(role.name).lower()
        for role in (Role.ADMIN, Role.CAMPAIGN_MANAGER, Role.INTERACTION_MANAGER)
        if mask & int(role)
    ]


def metadata(field: str, value: dict[str, Any]) -> dict[str, Any]:
    """Free-form product metadata, bounded in size so it stays a small JSON document."""
    if len(msgspec.json.encode(value)) > MAX_METADATA_BYTES:
        raise invalid(field, f"must encode to at most {MAX_METADATA_BYTES} bytes of JSON")
    return value
