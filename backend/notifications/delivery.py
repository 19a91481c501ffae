"""The delivery worker: claim due outbox rows, POST them signed, record what happened.

At least once: a row is claimed (attempt counted, lease set) and committed before
the HTTP call, and the outcome is recorded after it. A crash in between leaves
the row pending with the lease as its next attempt, so it is sent again later;
receivers deduplicate on `webhook-id`, which is the delivery's stable id.
Claims use FOR UPDATE SKIP LOCKED, so several workers never send the same row
in the same round. Time comes from `now`, so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.core.db import job_session
from backend.notifications import signing, ssrf
from backend.notifications.events import delay_after_failure
from backend.notifications.models import WebhookDelivery, WebhookEndpoint
from backend.observability import alerts, metrics

log = logging.getLogger("backend.notifications")

TIMEOUT_S = 15.0
# A claimed row becomes due again after this long if its worker never reports back
# (crash, kill -9). Longer than the request timeout, so a live worker always wins.
LEASE = timedelta(seconds=60)
DEFAULT_LIMIT = 50
CONCURRENCY = 10
USER_AGENT = "Cascade-Webhooks/1"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Claimed:
    """A delivery taken for one attempt, with what sending it needs from its endpoint."""

    id: uuid.UUID
    attempt: int
    endpoint_id: uuid.UUID
    product_id: str
    url: str
    secrets: list[str]
    allow_private: bool
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | retry | gone | refused
    status_code: int | None = None
    error: str | None = None


@dataclass
class DeliveryStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    gone: int = 0
    refused: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # delivery id -> final kind


_STAT_FIELDS = {
    "delivered": "delivered",
    "retry": "retried",
    "dead": "dead",
    "gone": "gone",
    "refused": "refused",
}


async def claim_due(ctx: AppContext, now: datetime, limit: int = DEFAULT_LIMIT) -> list[Claimed]:
    """Take up to `limit` due rows in one short transaction: attempt counted, lease set."""
    async with job_session(ctx.sessions) as session:
        rows = (
            await session.execute(
                select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    WebhookEndpoint.enabled.is_(True),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
                .limit(limit)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            )
        ).all()
        claimed = []
        for delivery, endpoint in rows:
            delivery.attempts += 1
            delivery.next_attempt_at = now + LEASE
            claimed.append(
                Claimed(
                    id=delivery.id,
                    attempt=delivery.attempts,
                    endpoint_id=endpoint.id,
                    product_id=delivery.product_id,
                    url=endpoint.url,
                    secrets=[str(secret) for secret in endpoint.secrets],
                    allow_private=endpoint.allow_private,
                    payload=delivery.payload,
                )
            )
    return claimed


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


async def send(client: httpx.AsyncClient, item: Claimed, now: datetime) -> Outcome:
    """One signed POST; never follows redirects, never reads more than the status line."""
    body = body_of(item.payload)
    headers = signing.headers(item.secrets, str(item.id), int(now.timestamp()), body)
    headers["user-agent"] = USER_AGENT
    try:
        target = await ssrf.vet(item.url, allow_private=item.allow_private)
        request = client.build_request(
            "POST",
            target.url,
            content=body,
            headers={**headers, **target.headers},
            extensions=target.extensions,
        )
        response = await client.send(request, stream=True)
        await response.aclose()  # the status is all we need; do not download a large body
    except ssrf.RefusedTarget as exc:
        return Outcome("refused", error=f"refused: {exc}")
    except httpx.TimeoutException:
        return Outcome("retry", error=f"timed out after {TIMEOUT_S:g}s")
    except httpx.HTTPError as exc:
        return Outcome("retry", error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    status = response.status_code
    if 200 <= status < 300:
        return Outcome("delivered", status)
    if status == 410:
        return Outcome("gone", status, "receiver answered 410 Gone: endpoint disabled")
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        return Outcome("retry", status, f"redirect to {location!r} not followed"[:MAX_ERROR_CHARS])
    return Outcome("retry", status, f"receiver answered {status}")


async def disable_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, reason: str, now: datetime
) -> int:
    """Disable an endpoint and close its pending deliveries as dead (re-sendable later)."""
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(enabled=False, disabled_reason=reason, updated_at=now)
    )
    result = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="dead", last_error=f"endpoint disabled: {reason}")
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def record(ctx: AppContext, item: Claimed, outcome: Outcome, now: datetime) -> str:
    """Store the attempt's result; returns the delivery's resulting state for stats."""
    async with job_session(ctx.sessions) as session:
        # Only the claim that is still current may write (a re-send or a newer claim wins).
        current = (
            WebhookDelivery.id == item.id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.attempts == item.attempt,
        )
        values: dict[str, Any] = {
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.kind == "delivered":
            values.update(status="delivered", delivered_at=now)
            state = "delivered"
        elif outcome.kind == "gone":
            values.update(status="dead")
            state = "gone"
        else:
            delay = delay_after_failure(item.attempt)
            if delay is None:
                values.update(status="dead")
                state = "dead"
            else:
                values.update(next_attempt_at=now + delay)
                state = outcome.kind  # retry | refused
        result = await session.execute(update(WebhookDelivery).where(*current).values(**values))
        if not getattr(result, "rowcount", 0):
            return "stale"
        if outcome.kind == "gone":
            reason = f"receiver answered 410 Gone at {now.isoformat()}"
            await disable_endpoint(session, item.endpoint_id, reason, now)
            await alerts.raise_alert(
                session,
                alerts.WEBHOOK_ENDPOINT_DISABLED,
                "warning",
                f"webhook endpoint {item.url} answered 410 Gone and was disabled",
                product_id=item.product_id,
                subject=f"webhook_endpoint:{item.endpoint_id}",
                details={"endpoint_id": str(item.endpoint_id), "url": item.url},
            )
    return state


async def deliver_due(
    ctx: AppContext,
    now: datetime | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    client: httpx.AsyncClient | None = None,
) -> DeliveryStats:
    """One round: claim due deliveries, send them concurrently, record each outcome."""
    now = now or datetime.now(UTC)
    stats = DeliveryStats()
    claimed = await claim_due(ctx, now, limit)
    stats.claimed = len(claimed)
    if claimed:
        own_client = client is None
        # No keep-alive: every attempt connects to its own vetted address with its own SNI.
        http = client or httpx.AsyncClient(
            timeout=TIMEOUT_S,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        gate = asyncio.Semaphore(CONCURRENCY)

        async def attempt(item: Claimed) -> None:
            async with gate:
                outcome = await send(http, item, now)
            state = await record(ctx, item, outcome, now)
            _count(stats, item, outcome, state)

        try:
            await asyncio.gather(*(attempt(item) for item in claimed))
        finally:
            if own_client:
                await http.aclose()
    return stats


def _count(stats: DeliveryStats, item: Claimed, outcome: Outcome, state: str) -> None:
    stats.outcomes[str(item.id)] = state
    if state == "stale":
        return
    metrics.WEBHOOK_DELIVERIES.labels(outcome=state).inc()
    counter = _STAT_FIELDS[state]
    setattr(stats, counter, getattr(stats, counter) + 1)
    log_extra = {
        "delivery_id": str(item.id),
        "endpoint_id": str(item.endpoint_id),
        "attempt": item.attempt,
        "status_code": outcome.status_code,
        "error": outcome.error,
    }
    if state == "delivered":
        log.info("webhook delivered", extra=log_extra)
    elif state in {"dead", "gone"}:
        log.warning(f"webhook delivery {state}", extra=log_extra)
    else:
        log.info("webhook attempt failed, will retry", extra=log_extra)
