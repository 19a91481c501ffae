"""Referral tokens already shared in links stay readable: the wire format is pinned by a token
minted once, and a token expires at exactly its expiry second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.referrals.tokens import TokenError, read_token, sign_token

PRODUCT = "0x" + "ab" * 32
REFERRER = "0x" + "12" * 20
MINTED_AT = datetime(2030, 1, 1, tzinfo=UTC)
# sign_token("s", PRODUCT, REFERRER, now=MINTED_AT) when the format was fixed (version 1).
SHARED_TOKEN = (
    "Aaurq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urEhISEhISEhISEhISEhISEhISEhIAAAAAcQNlgETLUPh_yQdM"
    "8KBKSQ-QMG0"
)


def test_token__minted_by_the_format_of_version_1__is_read_and_minted_the_same_today():
    parsed = read_token("s", SHARED_TOKEN, now=MINTED_AT)

    assert (parsed.product_id, parsed.referrer.lower()) == (PRODUCT, REFERRER)
    assert parsed.expires_at == MINTED_AT + timedelta(days=30)
    assert sign_token("s", PRODUCT, REFERRER, now=MINTED_AT) == (SHARED_TOKEN, parsed.expires_at)


def test_token__read_at_its_expiry_second__expired_one_second_before__valid():
    expires_at = MINTED_AT + timedelta(days=30)

    assert read_token("s", SHARED_TOKEN, now=expires_at - timedelta(seconds=1)).expires_at == (
        expires_at
    )
    with pytest.raises(TokenError) as caught:
        read_token("s", SHARED_TOKEN, now=expires_at)
    assert caught.value.code == "expired"
