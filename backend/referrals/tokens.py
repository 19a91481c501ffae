"""Signed referral tokens: what `?cascade=<token>` carries in a referral link.

A token is base64url (no padding) of: version (1 byte) | product id (32) |
referrer address (20) | expiry unix seconds (8) | HMAC-SHA256 tag (first 16).
The key is derived from SECRET_KEY, so only this server can mint one and a
token cannot be moved to another product or wallet without breaking the tag.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eth_utils import to_checksum_address

VERSION = 1
TOKEN_TTL = timedelta(days=30)
_TAG_BYTES = 16
_BODY_BYTES = 1 + 32 + 20 + 8
_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,1024}$")


class TokenError(ValueError):
    """The token is malformed, forged or expired; `code` says which."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ReferralToken:
    product_id: str
    referrer: str
    expires_at: datetime


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"cascade/referral-token/v1", hashlib.sha256).digest()


def _tag(secret: str, body: bytes) -> bytes:
    return hmac.new(_key(secret), body, hashlib.sha256).digest()[:_TAG_BYTES]


def sign_token(
    secret: str, product_id: str, referrer: str, *, now: datetime | None = None
) -> tuple[str, datetime]:
    """A token for (product, referrer) valid for 30 days, and its expiry."""
    expires_at = (now or datetime.now(UTC)).replace(microsecond=0) + TOKEN_TTL
    body = (
        bytes([VERSION])
        + bytes.fromhex(product_id.removeprefix("0x"))
        + bytes.fromhex(referrer.removeprefix("0x"))
        + int(expires_at.timestamp()).to_bytes(8, "big")
    )
    raw = body + _tag(secret, body)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), expires_at


def read_token(secret: str, token: str, *, now: datetime | None = None) -> ReferralToken:
    """Verify the tag and the expiry; raises TokenError (malformed | forged | expired)."""
    if not _TOKEN_PATTERN.match(token):
        raise TokenError("malformed", "referral token is malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed", "referral token is malformed") from None
    if len(raw) != _BODY_BYTES + _TAG_BYTES or raw[0] != VERSION:
        raise TokenError("malformed", "referral token is malformed")
    body, tag = raw[:_BODY_BYTES], raw[_BODY_BYTES:]
    if not hmac.compare_digest(tag, _tag(secret, body)):
        raise TokenError("forged", "referral token signature is invalid")
    expires_at = datetime.fromtimestamp(int.from_bytes(body[53:61], "big"), UTC)
    if expires_at <= (now or datetime.now(UTC)):
        raise TokenError("expired", "referral token has expired")
    return ReferralToken(
        product_id="0x" + body[1:33].hex(),
        referrer=to_checksum_address("0x" + body[33:53].hex()),
        expires_at=expires_at,
    )
