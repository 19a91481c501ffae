"""HTTP for the auth domain: passkey ceremonies, sessions, one-time login links.

Handlers parse, rate-limit, call one service function and shape the answer.
See the module docstrings of `service` and `sessions` for the rules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, Router, delete, get, post
from litestar.datastructures import Cookie, State
from litestar.di import Provide
from litestar.params import Dependency
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT, HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import service, sessions, signup
from backend.auth.models import AuthSession
from backend.auth.principal import SESSION_COOKIE, Principal
from backend.auth.relying_party import relying_party
from backend.auth.schemas import (
    CredentialIn,
    LoginOptionsIn,
    RegisterOptionsIn,
    SignupOptionsIn,
    SignupVerifyIn,
    WalletChallengeIn,
)
from backend.auth.service import AuthEnv, Client
from backend.auth.sessions import IssuedSession
from backend.core.config import Settings
from backend.core.context import AppContext

DASHBOARD_PATH = "/dashboard"
# a live object, not input: Litestar must not try to validate (convert) it
AuthEnvDep = Annotated[AuthEnv, Dependency(skip_validation=True)]


def provide_auth_env(state: State, settings: Settings, app_context: AppContext) -> AuthEnv:
    """One AuthEnv per app, built on first use (tests reach it as app.state.auth_env)."""
    env = state.get("auth_env")
    if env is None:
        env = AuthEnv(
            rp=relying_party(settings),
            w3=app_context.w3,
            chain_id=settings.chain_id,
            account_factory=settings.account_factory_address,
        )
        state["auth_env"] = env
    return env  # type: ignore[no-any-return]


def _client(request: Request[Any, Any, Any], env: AuthEnv) -> Client:
    """Who is calling, after the per-IP limit for auth endpoints."""
    ip = request.client.host if request.client else None
    env.limits.client(ip)
    return Client(ip=ip, user_agent=request.headers.get("user-agent"))


def _session_cookie(env: AuthEnv, issued: IssuedSession | None) -> Cookie:
    """The dashboard cookie: HttpOnly, SameSite=Lax, Secure unless served on loopback.

    Without a session it is the expired cookie that clears it (logout).
    """
    max_age = 0
    if issued is not None:
        max_age = max(0, int((issued.row.expires_at - datetime.now(UTC)).total_seconds()))
    return Cookie(
        key=SESSION_COOKIE,
        value=issued.token if issued else "",
        path="/",
        max_age=max_age,
        httponly=True,
        secure=env.rp.secure_cookies,
        samesite="lax",
    )


def _session_response(env: AuthEnv, issued: IssuedSession) -> Response[dict[str, Any]]:
    """bearer: the token in the body (the listener keeps it); cookie: only in Set-Cookie."""
    body: dict[str, Any] = {
        "wallet": issued.row.wallet,
        "expires_at": issued.row.expires_at.isoformat().replace("+00:00", "Z"),
        "kind": issued.row.kind,
    }
    if issued.row.kind == "bearer":
        return Response({"token": issued.token, **body}, status_code=HTTP_200_OK)
    return Response(body, status_code=HTTP_200_OK, cookies=[_session_cookie(env, issued)])


@post(
    "/wallet-challenge",
    status_code=HTTP_200_OK,
    summary="A Sign-In with Ethereum message to prove a wallet (single use, 5 min)",
)
async def wallet_challenge(
    request: Request[Any, Any, Any],
    data: WalletChallengeIn,
    db_session: AsyncSession,
    auth_env: AuthEnvDep,
) -> dict[str, str]:
    """A Sign-In with Ethereum message for `wallet` to sign (single use, 5 minutes)."""
    return await service.wallet_challenge(
        db_session, auth_env, data.wallet, _client(request, auth_env)
    )


@post(
    "/passkeys/register/options",
    status_code=HTTP_200_OK,
    summary="Passkey creation options for a wallet proven by its signature",
)
async def register_options(
    request: Request[Any, Any, Any],
    data: RegisterOptionsIn,
    db_session: AsyncSession,
    auth_env: AuthEnvDep,
) -> dict[str, Any]:
    """WebAuthn creation options, once the wallet's signature of the challenge checks out."""
    return await service.registration_options(
        db_session,
        auth_env,
        wallet=data.wallet,
        challenge_id=data.challenge_id,
        signature=data.signature,
        client=_client(request, auth_env),
    )


@post(
    "/passkeys/register/verify",
    status_code=HTTP_200_OK,
    summary="Store the new passkey and open a session (bearer or cookie)",
)
async def register_verify(
    request: Request[Any, Any, Any],
    data: CredentialIn,
    db_session: AsyncSession,
    auth_env: AuthEnvDep,
) -> Response[dict[str, Any]]:
    """Store the new passkey for the pending registration's wallet and sign in."""
    client = _client(request, auth_env)
    issued = await service.verify_registration(
        db_session, auth_env, data.credential, data.kind, client
    )
    return _session_response(auth_env, issued)


@post(
    "/passkey/signup/options",
    status_code=HTTP_200_OK,
    summary="Passkey creation options for a new wallet that is the passkey's own account",
)
async def signup_options(
    request: Request[Any, Any, Any],
    data: SignupOptionsIn,
    db_session: AsyncSession,
    auth_env: AuthEnvDep,
) -> dict[str, Any]:
    """WebAuthn creation options (ES256, resident key, user verification); no wallet needed."""
    return await signup.signup_options(db_session, auth_env, _client(request, auth_env))


@post(
    "/passkey/signup/verify",
    status_code=HTTP_200_OK,
    summary="Store the new passkey; its counterfactual account is the wallet; open a session",
)
async def signup_verify(
    request: Request[Any, Any, Any],
    data: SignupVerifyIn,
    db_session: AsyncSession,
    auth_env: AuthEnvDep,
) -> Response[dict[str, Any]]:
    """The wallet is factory.getAddress(x, y, sha256(RP_ID), 0) of the new passkey."""
    client = _client(request, auth_env)
    issued = await signup.verify_signup(
        db_session, auth_env, data.credential, data.session_kind, client
    )
    return _session_response(auth_env, issued)


@post(
    "/passkeys/login/options",
    status_code=HTTP_200_OK,
    summary="Discoverable-credential login options (no username)",
)
async def login_options(
    request: Request[Any, Any, Any],
    data: LoginOptionsIn,
    db_session: AsyncSession,
    auth_env: AuthEnvDep,
) -> dict[str, Any]:
    """WebAuthn request options for a discoverable passkey (empty allowCredentials)."""
    return await service.login_options(db_session, auth_env, _client(request, auth_env))


@post(
    "/passkeys/login/verify",
    status_code=HTTP_200_OK,
    summary="Verify a passkey assertion and open a session (bearer or cookie)",
)
async def login_verify(
    request: Request[Any, Any, Any],
    data: CredentialIn,
    db_session: AsyncSession,
    auth_env: AuthEnvDep,
) -> Response[dict[str, Any]]:
    """Check the assertion and open a bearer (listener) or cookie (dashboard) session."""
    client = _client(request, auth_env)
    issued = await service.verify_login(db_session, auth_env, data.credential, data.kind, client)
    return _session_response(auth_env, issued)


def _session_view(row: AuthSession, principal: Principal) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "kind": row.kind,
        "wallet": row.wallet,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "client_ip": row.client_ip,
        "user_agent": row.user_agent,
        "current": str(row.id) == principal.session_id,
    }


@get("/me", summary="Who this session is")
async def me(principal: Principal) -> dict[str, Any]:
    """Who this session is (the dashboard's first call)."""
    return {
        "kind": principal.kind,
        "wallet": principal.wallet,
        "session_id": principal.session_id,
        "session_kind": principal.session_kind,
    }


@get("/sessions", summary="The wallet's live sessions")
async def list_sessions(principal: Principal, db_session: AsyncSession) -> dict[str, Any]:
    """The caller's wallet's live sessions (cookie and bearer)."""
    rows = await sessions.list_sessions(db_session, principal)
    return {"sessions": [_session_view(row, principal) for row in rows]}


@delete(
    "/sessions/{session_id:str}",
    status_code=HTTP_204_NO_CONTENT,
    summary="Revoke one session",
)
async def revoke_session(session_id: str, principal: Principal, db_session: AsyncSession) -> None:
    """Revoke one of the wallet's sessions (any kind)."""
    await sessions.revoke_session(db_session, principal, session_id)


@delete("/sessions", status_code=HTTP_204_NO_CONTENT, summary="Sign out everywhere")
async def revoke_all_sessions(
    principal: Principal, db_session: AsyncSession, auth_env: AuthEnvDep
) -> Response[None]:
    """Sign the wallet out everywhere, this session included."""
    await sessions.revoke_all_sessions(db_session, principal)
    return Response(
        None, status_code=HTTP_204_NO_CONTENT, cookies=[_session_cookie(auth_env, None)]
    )


@post("/logout", status_code=HTTP_204_NO_CONTENT, summary="End this session")
async def logout(
    principal: Principal, db_session: AsyncSession, auth_env: AuthEnvDep
) -> Response[None]:
    """End the calling session; a cookie session also gets its cookie cleared."""
    await sessions.logout(db_session, principal)
    return Response(
        None, status_code=HTTP_204_NO_CONTENT, cookies=[_session_cookie(auth_env, None)]
    )


@get(
    "/magic/{token:str}",
    summary="Consume a one-time login link (CLI/demo), then /dashboard",
    status_code=HTTP_303_SEE_OTHER,  # the OpenAPI document says 303, as the answer does
)
async def magic_login(
    token: str, request: Request[Any, Any, Any], db_session: AsyncSession, auth_env: AuthEnvDep
) -> Redirect:
    """Spend a one-time login link (made by the CLI or the demo) for a dashboard cookie."""
    client = _client(request, auth_env)
    issued = await sessions.consume_login_link(
        db_session, token, client_ip=client.ip, user_agent=client.user_agent
    )
    return Redirect(
        path=DASHBOARD_PATH,
        status_code=HTTP_303_SEE_OTHER,
        cookies=[_session_cookie(auth_env, issued)],
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


auth_router = Router(
    path="/api/auth",
    route_handlers=[
        wallet_challenge,
        register_options,
        register_verify,
        signup_options,
        signup_verify,
        login_options,
        login_verify,
        me,
        list_sessions,
        revoke_session,
        revoke_all_sessions,
        logout,
        magic_login,
    ],
    dependencies={"auth_env": Provide(provide_auth_env, sync_to_thread=False)},
    tags=["auth"],
)

route_handlers = [auth_router]
