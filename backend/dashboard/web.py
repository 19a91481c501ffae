"""What every dashboard page shares: templates, the signed-in viewer, CSRF, error pages.

Pages are rendered with our own Jinja2 environment rather than the app-level
TemplateConfig: the templates belong to this domain, and the app factory stays
free of page concerns. Each response carries a strict CSP (no inline scripts
or styles), so every script and style comes from /dashboard/static.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import SESSION_COOKIE, Principal
from backend.core.errors import DomainError, Unauthorized
from backend.dashboard import csrf
from backend.products.authorization import resolve_principal

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
LOGIN_PATH = "/dashboard/login"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class LoginRequired(Exception):
    """No valid dashboard session: the page answers with a redirect to the login page."""


def amount(
    value: int | str | None,
    decimals: int | None = None,
    symbol: str | None = None,
    places: int | None = None,
) -> str:
    """Base units as a human amount ("12.5 RWD"), thousands separated.

    Exact by default (Decimal); `places` rounds down to that many decimals for
    summaries, where 86.333333333333333333 says less than 86.3333.
    """
    if value is None or value == "":
        return "–"
    units = int(value)
    text = f"{units:,}"
    if decimals:
        scaled = Decimal(units).scaleb(-decimals)
        shown = min(decimals, places) if places is not None else decimals
        if shown < decimals:
            scaled = scaled.quantize(Decimal(1).scaleb(-shown), rounding=ROUND_DOWN)
        text = f"{scaled:,.{shown}f}".rstrip("0").rstrip(".") if shown else f"{scaled:,.0f}"
    return f"{text} {symbol}" if symbol else text


STAT_COMPACT_FROM = Decimal(10_000)


def stat_amount(
    value: int | str | None, decimals: int | None = None, symbol: str | None = None
) -> str:
    """A stat card's figure: short enough never to wrap mid-number ("12.3k RWD" from
    10,000 on, else up to 4 decimals); the page puts the exact `amount` in a tooltip."""
    if value is None or value == "":
        return "–"
    human = Decimal(int(value)).scaleb(-(decimals or 0))
    if abs(human) < STAT_COMPACT_FROM:
        return amount(value, decimals, symbol, 4)
    for limit, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k")):
        if abs(human) >= limit:
            scaled = (human / limit).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
            text = f"{scaled:,.1f}".removesuffix(".0") + suffix
            break
    return f"{text} {symbol}" if symbol else text


def short(value: str | None, keep: int = 6) -> str:
    """0x1234…abcd: addresses and hashes in tables."""
    if not value:
        return "–"
    return value if len(value) <= 2 * keep + 2 else f"{value[: keep + 2]}…{value[-4:]}"


def when(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def expected(value: str | None) -> str:
    """A queued reward's promised time as the wallet says it (a past one: the job is late)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment <= datetime.now(UTC):
        return "on-chain any moment now"
    return f"on-chain by {when(moment)}"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    amount=amount, stat_amount=stat_amount, short=short, when=when, expected=expected
)


def csrf_token(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return ""
    return csrf.token_for(_secret(request), cookie)


def _secret(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    return str(request.app.state.context.settings.effective_secret_key)


def render(
    request: Request[Any, Any, Any], template: str, *, status: int = 200, **context: Any
) -> Response[str]:
    """The page as HTML, with the viewer's CSRF token available to every form."""
    html = environment.get_template(template).render(
        csrf_token=csrf_token(request), path=request.url.path, **context
    )
    return Response(
        html,
        status_code=status,
        media_type="text/html",
        headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def see_other(path: str) -> Redirect:
    """Post/redirect/get: a form that worked sends the browser to the page to look at."""
    return Redirect(path=path, status_code=HTTP_303_SEE_OTHER)


async def provide_viewer(request: Request[Any, Any, Any], db_session: AsyncSession) -> Principal:
    """The signed-in wallet (cookie session), or LoginRequired."""
    try:
        principal = await resolve_principal(request, db_session)
    except Unauthorized:
        raise LoginRequired from None
    if principal.kind != "session" or principal.wallet is None:
        raise LoginRequired
    return principal


async def require_csrf(request: Request[Any, Any, Any]) -> Response[str] | None:
    """before_request of the dashboard router: a state-changing request needs the token."""
    if request.method in csrf.SAFE_METHODS:
        return None
    form = await request.form()
    submitted = form.get(csrf.FIELD)
    cookie = request.cookies.get(SESSION_COOKIE)
    if csrf.is_valid(_secret(request), cookie, submitted if isinstance(submitted, str) else None):
        return None
    return render(
        request,
        "error.html",
        status=403,
        title="Form expired",
        message="This form is missing its security token or it has expired. "
        "Go back, reload the page and submit again.",
    )


def login_redirect(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    return see_other(LOGIN_PATH)


def error_page(request: Request[Any, Any, Any], exc: DomainError) -> Response[str]:
    """A domain error outside a form (a missing product, a refused transition) as a page."""
    titles = {403: "Not allowed", 404: "Not found", 409: "Not possible now", 503: "Unavailable"}
    return render(
        request,
        "error.html",
        status=exc.status_code,
        title=titles.get(exc.status_code, "Something went wrong"),
        message=exc.message,
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {LoginRequired: login_redirect, DomainError: error_page}
