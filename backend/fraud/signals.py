"""Signals recorded with an interaction: keyed hashes of what the request looked like.

Each value is HMAC-SHA256(server secret, "<kind>:<product>:<value>"): equal values on one
product compare equal, nothing can be read back, and two products cannot join their
visitors. Raw values never reach the database or a page. Rows live for the product's
retention period (`purge_expired`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.fraud.rules import DEFAULT_RETENTION_DAYS

DEVICE_HEADER = "cascade-device-id"  # sent by the SDK's listener (its own storage)
LINK_OPENED_HEADER = "cascade-link-opened-at"  # unix seconds the referral link was opened
MAX_VALUE = 512  # longer header values are cut before hashing (nothing is stored raw)
MAX_LINK_AGE_S = 10 * 365 * 86_400

INSERT_SQL = text(
    """
    INSERT INTO interaction_signals (interaction_id, product_id, wallet, ip_hash,
                                     user_agent_hash, device_hash, passkey_hash, link_age_s)
    VALUES (:id, :product_id, :wallet, :ip, :ua, :device, :passkey, :link_age)
    ON CONFLICT (interaction_id) DO NOTHING
    """
)
CREDENTIAL_SQL = text(
    "SELECT credential_id FROM auth_sessions WHERE id = CAST(:id AS uuid) "
    "AND credential_id IS NOT NULL"
)
PURGE_SQL = text(
    """
    DELETE FROM interaction_signals AS s
    WHERE s.created_at < now() - make_interval(days => COALESCE(
        (SELECT f.signal_retention_days FROM fraud_settings AS f
         WHERE f.product_id = s.product_id), :default_days))
    """
)


@dataclass(frozen=True)
class RequestSignals:
    """Raw values of one request, held only in memory until hashed."""

    ip: str | None = None
    user_agent: str | None = None
    device_id: str | None = None
    credential: str | None = None  # the session's passkey credential row
    link_opened_at: float | None = None  # unix seconds

    @property
    def empty(self) -> bool:
        return not (
            self.ip
            or self.user_agent
            or self.device_id
            or self.credential
            or self.link_opened_at is not None
        )


def keyed_hash(secret: str, kind: str, product_id: str, value: str) -> str:
    message = f"{kind}:{product_id.lower()}:{value[:MAX_VALUE]}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def from_request(
    headers: Mapping[str, str], *, ip: str | None, session_caller: bool
) -> RequestSignals | None:
    """The signals of a request, or None when there are none worth keeping.

    A server calling with an API key sends its own IP and user agent, not the visitor's:
    only a device id it forwards (the header) counts. A browser session gives them all.
    """
    device = (headers.get(DEVICE_HEADER) or "").strip() or None
    opened = _seconds(headers.get(LINK_OPENED_HEADER))
    if session_caller:  # the passkey credential is read with the session when recording
        signals = RequestSignals(ip, headers.get("user-agent") or None, device, None, opened)
    else:
        signals = RequestSignals(device_id=device, link_opened_at=opened)
    return None if signals.empty else signals


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 < seconds < 2**33 else None  # a finite unix time, or nothing


async def record(
    session: AsyncSession,
    secret: str,
    *,
    interaction_id: int,
    product_id: str,
    wallet: str,
    signals: RequestSignals,
    session_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Add the interaction's signals in the caller's transaction (the caller commits).

    `session_id`: the listener session that sent it; its passkey credential (if it signed
    in with one) becomes the passkey signal.
    """
    credential = signals.credential
    if credential is None and session_id is not None:
        found = await session.scalar(CREDENTIAL_SQL, {"id": session_id})
        credential = None if found is None else str(found)

    def digest(kind: str, value: str | None) -> str | None:
        return None if not value else keyed_hash(secret, kind, product_id, value)

    age: int | None = None
    if signals.link_opened_at is not None:
        moment = (now or datetime.now(UTC)).timestamp()
        age = int(min(max(moment - signals.link_opened_at, 0), MAX_LINK_AGE_S))
    await session.execute(
        INSERT_SQL,
        {
            "id": interaction_id,
            "product_id": product_id,
            "wallet": wallet,
            "ip": digest("ip", signals.ip),
            "ua": digest("ua", signals.user_agent),
            "device": digest("device", signals.device_id),
            "passkey": digest("passkey", credential),
            "link_age": age,
        },
    )


async def purge_expired(session: AsyncSession) -> int:
    """Delete signals older than their product's retention; returns how many (commits)."""
    result = await session.execute(PURGE_SQL, {"default_days": DEFAULT_RETENTION_DAYS})
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
