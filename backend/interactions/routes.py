"""HTTP for ingestion, shop webhooks, referral links and the listener's lookups (no rules here)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.fraud import signals as fraud_signals
from backend.interactions import batch, callers, listener, preparation, service, webhooks
from backend.interactions.answers import IngestResult, Waiter, describe, requested_wait
from backend.interactions.ratelimit import ip_limiter
from backend.interactions.schemas import BatchIn, InteractionIn, ReferralLinkIn
from backend.products.authorization import resolve_principal
from backend.products.ids import API_KEY_PREFIX


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    """The socket peer's address, or None when it is not an IP (a unix socket, a test
    transport): it is stored in an inet column, where anything else would fail the insert."""
    host = request.client.host if request.client else None
    return host if host and _is_ip(host) else None


@lru_cache(maxsize=10_000)
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _principal(request: Request[Any, Any, Any], db_session: AsyncSession) -> Principal:
    """The caller. An API key is resolved by the ingestion path's own read-only cache
    (backend.interactions.callers): no write per request. The app-level provider names
    its first parameter `connection`, which Litestar does not inject, hence the request."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(API_KEY_PREFIX):
        return await resolve_principal(request, db_session)
    return await callers.api_key_principal(db_session, token)


def forget_api_keys() -> None:
    """Drop cached API key principals (between tests)."""
    callers.forget()


PRINCIPAL = {"principal": Provide(_principal)}


def _secret(request: Request[Any, Any, Any]) -> str:
    """The signing secret, read from the app's context.

    The ingestion handlers do not ask for the `settings` dependency: Litestar
    resolves two dependencies of one level (settings, db_session) in an anyio
    task group, a measurable share of a request's CPU on the hot path.
    """
    settings: Settings = request.app.state.context.settings
    return settings.effective_secret_key


async def _when_evaluated(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    products: set[str],
    results: list[IngestResult],
) -> dict[str, str]:
    """Honour `Prefer: wait=N`: wait (at most MAX_WAIT_S) until the stored interactions are
    evaluated, then fill in their rewards; the headers say which preference was applied."""
    seconds = requested_wait(request.headers.get("prefer"))
    waiter: Waiter | None = getattr(request.app.state, "evaluation", None)
    pending = [i for r in results for i in r.waits_for if not r.evaluated]
    if not seconds or waiter is None or not pending:
        return {}
    await waiter.wait(products, pending, seconds)
    await describe(session, results)
    return {"Preference-Applied": f"wait={seconds:g}"}


@post(
    "/api/external/interactions",
    status_code=202,
    summary="Record one interaction",
    description=(
        "Stored and answered at once (`evaluated: false`); the evaluator pays it within "
        "milliseconds. Send `Prefer: wait=N` (N <= 10 s) to get `rewards` in the answer "
        "when evaluation finishes in time."
    ),
)
async def post_interaction(data: InteractionIn, request: Request) -> Response[dict[str, Any]]:
    """The hottest route: no injected dependencies (each is a resolution per request); the
    caller and the product come from process caches, and the database sees one statement."""
    context: AppContext = request.app.state.context
    session = context.sessions()  # used only when a cache misses: closed only if it was
    try:
        principal = await _principal(request, session)
        ip = client_ip(request)
        signals = fraud_signals.from_request(
            request.headers, ip=ip, session_caller=principal.kind == "session"
        )
        if data.device_id is not None:  # the item names its visitor's device itself
            signals = fraud_signals.for_item(signals, data.device_id)
        caller = preparation.Caller.from_principal(principal, ip, signals)
        result = await service.ingest(session, caller, data, secret=_secret(request))
        headers = await _when_evaluated(request, session, {data.product_id.lower()}, [result])
    finally:
        if session.in_transaction():
            await session.close()
    return Response(result.as_json(), status_code=202, headers=headers)


@post(
    "/api/external/interactions/batch",
    status_code=202,
    summary="Record up to 1,000",
    description=(
        "Each item is answered on its own, in order; stored items are evaluated after the "
        "answer unless `Prefer: wait=N` (N <= 10 s) asks to wait for their rewards."
    ),
    dependencies=PRINCIPAL,
)
async def post_interaction_batch(
    data: BatchIn,
    request: Request,
    principal: Principal,
    db_session: AsyncSession,
) -> Response[dict[str, Any]]:
    ip = client_ip(request)
    signals = fraud_signals.from_request(
        request.headers, ip=ip, session_caller=principal.kind == "session"
    )
    caller = preparation.Caller.from_principal(principal, ip, signals)
    results = await batch.ingest_batch(
        db_session, caller, data.interactions, secret=_secret(request)
    )
    stored = [r.result for r in results if r.result is not None]
    products = {
        str(item.get("product_id", "")).lower()
        for item in data.interactions
        if isinstance(item, dict)
    }
    headers = await _when_evaluated(request, db_session, products, stored)
    return Response({"results": [r.as_json() for r in results]}, status_code=202, headers=headers)


@post(
    "/api/external/webhooks/{product_id:str}/{scheme:str}",
    status_code=200,
    summary="Shop webhook (shopify, woocommerce, custom)",
)
async def post_webhook(
    product_id: str, scheme: str, request: Request, db_session: AsyncSession
) -> Response[dict[str, Any]]:
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    answer = await webhooks.receive(db_session, product_id, scheme, headers, body)
    applied: dict[str, str] = {}
    completion = webhooks.completion_of(answer)
    if completion is not None:
        result = IngestResult(completion)
        applied = await _when_evaluated(request, db_session, {product_id.lower()}, [result])
        if not applied:
            await describe(db_session, [result])
        answer.update(rewards=result.rewards, evaluated=result.evaluated)
    elif answer.get("event") == "completed":
        answer["rewards"] = []
    return Response(answer, status_code=200, headers=applied)


@get("/api/external/products/{product_id:str}/origins", summary="Origins of a product")
async def get_origins(
    product_id: str, request: Request, db_session: AsyncSession, settings: Settings
) -> dict[str, Any]:
    ip_limiter.check(client_ip(request))
    origins = await listener.product_origins(db_session, product_id, settings.listener_origins)
    return {"origins": origins}


@get("/api/external/products/{product_id:str}/estimate", summary="What a wallet would earn")
async def get_estimate(
    product_id: str,
    wallet: str,
    type: str,
    request: Request,
    db_session: AsyncSession,
    amount: str | None = None,
) -> dict[str, Any]:
    ip_limiter.check(client_ip(request))
    return await listener.estimate(db_session, product_id, wallet, type, amount)


@post(
    "/api/external/referral-links",
    status_code=200,
    summary="Create a referral link",
    dependencies=PRINCIPAL,
)
async def post_referral_link(
    data: ReferralLinkIn,
    request: Request,
    principal: Principal,
    db_session: AsyncSession,
    settings: Settings,
) -> dict[str, Any]:
    caller = preparation.Caller.from_principal(principal, client_ip(request))
    link = await listener.create_referral_link(
        db_session,
        caller,
        data,
        secret=settings.effective_secret_key,
        extra_origins=settings.listener_origins,
    )
    return {
        "token": link.token,
        "link": link.link,
        "expires_at": link.expires_at.isoformat().replace("+00:00", "Z"),
    }


@get("/api/external/referral-tokens/{token:str}", summary="Verify a referral token")
async def get_referral_token(token: str, request: Request, settings: Settings) -> dict[str, Any]:
    ip_limiter.check(client_ip(request))
    return listener.describe_token(token, secret=settings.effective_secret_key)


route_handlers = [
    post_interaction,
    post_interaction_batch,
    post_webhook,
    get_origins,
    get_estimate,
    post_referral_link,
    get_referral_token,
]
