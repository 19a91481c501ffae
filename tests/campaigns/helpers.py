"""Request bodies and setup shared by the campaign tests."""

from __future__ import annotations

from typing import Any

from tests.factories import TEST_TOKEN


def campaign_body(token: str = TEST_TOKEN, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Launch",
        "trigger": "purchase.completed",
        "token": token,
        "reward": {"type": "fixed", "amount": "1000"},
        "user_bps": 5_000,
        "decay_bps": 8_000,
    }
    body.update(overrides)
    return body
