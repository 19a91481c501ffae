"""HTTP for referral links (signed tokens) and their public verification."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.core.config import Settings
from backend.interactions import listener
from backend.interactions.ratelimit import ip_limiter
from backend.interactions.routes import PRINCIPAL, client_ip
from backend.interactions.schemas import ReferralLinkIn
from backend.interactions.service import Caller


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
    caller = Caller.from_principal(principal, client_ip(request))
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


route_handlers = [post_referral_link, get_referral_token]
