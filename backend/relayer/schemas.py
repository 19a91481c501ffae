"""Request and response bodies of the relayer endpoints (unknown fields are rejected)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

Hex40 = Annotated[str, msgspec.Meta(min_length=40, max_length=42)]
DecimalString = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,78}$")]


class ClaimIn(msgspec.Struct, forbid_unknown_fields=True):
    """`tokens`: claim only these (default: every token the wallet has pending)."""

    tokens: list[Hex40] | None = None


class PrepareSendIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Hex40
    to: Hex40
    amount: DecimalString  # base units, as a decimal string


class SendIn(msgspec.Struct, forbid_unknown_fields=True):
    """The operation prepared before, and the browser's navigator.credentials.get() JSON."""

    operation_id: Annotated[str, msgspec.Meta(max_length=64)]
    credential: dict[str, Any]


class RelayAccepted(msgspec.Struct):
    relay_id: str
    status: str  # queued | sent | mined | failed
    tx_hash: str | None


class RelayRead(msgspec.Struct):
    relay_id: str
    kind: str  # claim | send
    status: str  # queued | sent | mined | failed
    tx_hash: str | None
    explorer_url: str | None
    error: str | None


class CallRead(msgspec.Struct):
    target: str
    value: str
    data: str  # 0x hex


class PreparedSend(msgspec.Struct):
    operation_id: str
    digest: str  # 0x, the EIP-712 digest the passkey signs
    challenge: str  # base64url(digest): the WebAuthn challenge
    nonce: str  # uint256, decimal
    deadline: int  # unix seconds
    calls: list[CallRead]
    account_deployed: bool
