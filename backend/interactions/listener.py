"""What the listener iframe and product UIs ask: origins, referral links, reward estimates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession

from backend.campaigns import estimates
from backend.core.errors import InvalidInput, NotFound
from backend.interactions import preparation, values
from backend.interactions import service as ingestion
from backend.interactions.schemas import InteractionIn, ReferralLinkIn, is_known_type
from backend.products import settings_cache
from backend.referrals import service as referrals
from backend.referrals.tokens import TokenError, read_token, sign_token

REFERRAL_PARAM = "cascade"


def origins_of(domains: tuple[str, ...] | list[str], extra: list[str] | None = None) -> list[str]:
    """Browser origins of a product: https for every domain, plus http for local
    development hosts (localhost, *.localhost, or a domain with an explicit port)."""
    found: list[str] = []
    for domain in domains:
        host = domain.lower()
        found.append(f"https://{host}")
        name = host.rsplit(":", 1)[0] if ":" in host else host
        if name == "localhost" or name.endswith(".localhost") or ":" in host:
            found.append(f"http://{host}")
    for origin in extra or []:
        origin = origin.rstrip("/")
        if origin not in found:
            found.append(origin)
    return found


async def product_origins(
    session: AsyncSession, product_id: str, extra: list[str] | None = None
) -> list[str]:
    product = await settings_cache.product_info(session, product_id)
    return origins_of(product.domains, extra)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


@dataclass(frozen=True)
class ReferralLink:
    token: str
    link: str
    expires_at: datetime


async def create_referral_link(
    session: AsyncSession,
    caller: preparation.Caller,
    body: ReferralLinkIn,
    *,
    secret: str,
    extra_origins: list[str] | None = None,
) -> ReferralLink:
    """Sign a token for (product, wallet), record referral.link_creation, return the link."""
    payload = InteractionIn(
        product_id=body.product_id, wallet=body.wallet, type=preparation.LINK_CREATION
    )
    item = preparation.prepare(payload, secret=secret)
    preparation.authorize(caller, item)
    values.check_text(body.url, "url")
    allowed = await product_origins(session, item.product_id, extra_origins)
    if _origin(body.url) not in allowed:
        raise values.invalid(
            "url",
            "must be http(s) on one of the product's origins: " + ", ".join(allowed),
            "url_not_allowed",
        )
    token, expires_at = sign_token(secret, item.product_id, item.wallet)
    parts = urlsplit(body.url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != REFERRAL_PARAM
    ]
    query.append((REFERRAL_PARAM, token))
    link = urlunsplit(parts._replace(query=urlencode(query)))
    item.data = {"url": body.url}
    item.dedup_key = f"link:{token[-22:]}"
    await ingestion.ingest_prepared(session, caller, item, secret=secret)
    return ReferralLink(token, link, expires_at)


def describe_token(token: str, *, secret: str) -> dict[str, Any]:
    """The public view of a referral token; 422 malformed, 404 forged or expired."""
    try:
        parsed = read_token(secret, token)
    except TokenError as exc:
        if exc.code == "malformed":
            raise InvalidInput(str(exc), code="invalid_referral") from None
        raise NotFound(str(exc), code="invalid_referral") from None
    return {
        "product_id": parsed.product_id,
        "referrer": parsed.referrer,
        "expires_at": parsed.expires_at.isoformat().replace("+00:00", "Z"),
    }


async def estimate(
    session: AsyncSession,
    product_id: str,
    wallet: str,
    interaction_type: str,
    amount: str | None = None,
) -> dict[str, Any]:
    """What `wallet` would earn for `interaction_type` now, per campaign."""
    wallet = preparation.checksummed(wallet, "wallet")
    if not is_known_type(interaction_type):
        raise values.invalid("type", "not a known interaction type", "unknown_type")
    order_amount = None if amount is None else values.parse_amount(amount, "amount")
    product = await settings_cache.product_info(session, product_id)
    chain = tuple(await referrals.chain(session, product.id, wallet))
    found = await estimates.estimate(
        session, product.id, wallet, interaction_type, chain, order_amount_e18=order_amount
    )
    await session.rollback()  # read-only: release the snapshot
    return {
        "product_id": product.id,
        "wallet": wallet,
        "type": interaction_type,
        "campaigns": [
            {
                "campaign_id": str(e.campaign_id),
                "token": e.token,
                "reward_type": e.reward_type,
                "eligible": e.eligible,
                "reason": e.reason,
                "base": None if e.base is None else str(e.base),
                "base_min": None if e.base_min is None else str(e.base_min),
                "base_max": None if e.base_max is None else str(e.base_max),
                "user": None if e.user is None else str(e.user),
                "referrers": [
                    {"level": level, "wallet": w, "amount": str(a)}
                    for level, (w, a) in enumerate(e.referrers, start=1)
                ],
            }
            for e in found
        ],
    }
