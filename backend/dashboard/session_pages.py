"""Signing in and out of the dashboard.

The login page runs the passkey ceremonies against the auth API with
`kind: "cookie"` (static/login.js); a new owner first binds a wallet through an
injected EIP-1193 provider, exactly as the listener does. Sign-out is a form.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import sessions
from backend.auth.principal import SESSION_COOKIE, Principal
from backend.auth.relying_party import relying_party
from backend.core.config import Settings
from backend.core.errors import Unauthorized
from backend.dashboard.web import LOGIN_PATH, render, see_other
from backend.products.authorization import resolve_principal


@get("/login")
async def login_page(
    request: Request[Any, Any, Any], db_session: AsyncSession
) -> Response[str] | Redirect:
    """The sign-in page; someone already signed in goes straight to their products."""
    if request.cookies.get(SESSION_COOKIE):
        try:
            principal = await resolve_principal(request, db_session)
        except Unauthorized:
            principal = None
        if principal is not None and principal.kind == "session":
            return see_other("/dashboard")
    return render(request, "login.html", viewer=None)


@post("/logout")
async def logout(viewer: Principal, db_session: AsyncSession, settings: Settings) -> Redirect:
    await sessions.logout(db_session, viewer)
    redirect = see_other(LOGIN_PATH)
    # The same attributes as the cookie it clears (Secure off loopback), as auth's logout does.
    redirect.cookies.append(
        Cookie(
            key=SESSION_COOKIE,
            value="",
            path="/",
            max_age=0,
            httponly=True,
            secure=relying_party(settings).secure_cookies,
            samesite="lax",
        )
    )
    return redirect


route_handlers = [login_page, logout]
