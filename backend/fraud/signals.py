"""Signals recorded with an interaction: keyed hashes of what the request looked like.

Each value is HMAC-SHA256(server secret, "<kind>:<product>:<value>"): equal values on one
product compare equal, nothing can be read back, and two products cannot join their
visitors. Raw values never reach the database or a page. Rows live for the product's
retention period (`purge_expired`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

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
# a batch's signals in one statement (backend.interactions.batch)
INSERT_MANY_SQL = text(
    """
    INSERT INTO interaction_signals (interaction_id, product_id, wallet, ip_hash,
                                     user_agent_hash, device_hash, passkey_hash, link_age_s)
    SELECT * FROM unnest(CAST(:id AS bigint[]), CAST(:product_id AS varchar[]),
                         CAST(:wallet AS varchar[]), CAST(:ip AS varchar[]),
                         CAST(:ua AS varchar[]), CAST(:device AS varchar[]),
                         CAST(:passkey AS varchar[]), CAST(:link_age AS integer[]))
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


def for_item(request: RequestSignals | None, device_id: str | None) -> RequestSignals:
    """The signals of one item of a request: the item's own device id (a server forwarding
    several visitors' interactions names each one's) wins over the request's header."""
    signals = request or RequestSignals()
    return signals if device_id is None else replace(signals, device_id=device_id)


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
    credential = signals.credential or await _credential(session, session_id)
    moment = (now or datetime.now(UTC)).timestamp()
    await session.execute(
        INSERT_SQL, _row(secret, interaction_id, product_id, wallet, signals, credential, moment)
    )


async def record_many(
    session: AsyncSession,
    secret: str,
    rows: Sequence[tuple[int, str, str, RequestSignals]],
    *,
    session_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """`record` for a batch: (interaction id, product, wallet, signals) per stored item, one
    statement for all of them (plus one for the session's passkey credential), in the
    caller's transaction."""
    if not rows:
        return
    credential = await _credential(session, session_id)
    rows = [row for row in rows if not row[3].empty or row[3].credential or credential]
    if not rows:
        return
    moment = (now or datetime.now(UTC)).timestamp()
    values = [
        _row(secret, iid, product, wallet, signals, signals.credential or credential, moment)
        for iid, product, wallet, signals in rows
    ]
    await session.execute(INSERT_MANY_SQL, {name: [v[name] for v in values] for name in values[0]})


async def _credential(session: AsyncSession, session_id: str | None) -> str | None:
    """The passkey credential the listener session signed in with, if any."""
    if session_id is None:
        return None
    found = await session.scalar(CREDENTIAL_SQL, {"id": session_id})
    return None if found is None else str(found)


def _row(
    secret: str,
    interaction_id: int,
    product_id: str,
    wallet: str,
    signals: RequestSignals,
    credential: str | None,
    moment: float,
) -> dict[str, Any]:
    """One interaction_signals row: keyed hashes, and the link's age in seconds."""

    def digest(kind: str, value: str | None) -> str | None:
        return None if not value else keyed_hash(secret, kind, product_id, value)

    age: int | None = None
    if signals.link_opened_at is not None:
        age = int(min(max(moment - signals.link_opened_at, 0), MAX_LINK_AGE_S))
    return {
        "id": interaction_id,
        "product_id": product_id,
        "wallet": wallet,
        "ip": digest("ip", signals.ip),
        "ua": digest("ua", signals.user_agent),
        "device": digest("device", signals.device_id),
        "passkey": digest("passkey", credential),
        "link_age": age,
    }


async def purge_expired(session: AsyncSession) -> int:
    """Delete signals older than their product's retention; returns how many (commits)."""
    result = await session.execute(PURGE_SQL, {"default_days": DEFAULT_RETENTION_DAYS})
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
