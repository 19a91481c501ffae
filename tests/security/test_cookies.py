"""Every Set-Cookie of the session cookie: HttpOnly, SameSite=Lax, Path=/, Secure off loopback.

Covers each place that issues or clears it: the one-time login link, the
passkey login and registration in cookie mode, API logout, sign-out
everywhere, and the dashboard's sign-out form.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest
from eth_account import Account

from backend.api.app import create_app
from backend.auth.principal import SESSION_COOKIE
from backend.auth.sessions import create_login_link
from backend.dashboard import csrf
from tests.auth.authenticator import SoftAuthenticator
from tests.auth.conftest import login_options, personal_sign, prove_wallet

HOSTS = {
    "loopback": (None, "http://localhost:8000", False),
    "public_https": ("https://rewards.example", "https://rewards.example", True),
}


def session_cookie(response: httpx.Response) -> dict[str, str | bool]:
    """The attributes of the response's session Set-Cookie (lower-cased names)."""
    headers = [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]
    for header in headers:
        parsed = SimpleCookie()
        parsed.load(header)
        if SESSION_COOKIE in parsed:
            morsel = parsed[SESSION_COOKIE]
            attributes: dict[str, str | bool] = {"value": morsel.value}
            for name in ("httponly", "secure", "samesite", "path", "max-age"):
                attributes[name] = morsel[name]
            return attributes
    raise AssertionError(f"no {SESSION_COOKIE} cookie in {headers!r}")


def assert_protected(cookie: dict[str, str | bool], secure: bool) -> None:
    assert cookie["httponly"] is True
    assert str(cookie["samesite"]).lower() == "lax"
    assert cookie["path"] == "/"
    assert bool(cookie["secure"]) is secure


@pytest.fixture(params=sorted(HOSTS))
async def host(request, settings, clean_db) -> AsyncIterator[tuple[httpx.AsyncClient, str, bool]]:
    public_url, origin, secure = HOSTS[request.param]
    configured = settings.model_copy(update={"public_url": public_url})
    app = create_app(
        configured, database_url=clean_db.database_url, rpc_url=clean_db.rpc_url, context=clean_db
    )
    # A Secure cookie only travels over https: the client speaks the scheme users would.
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))  # type: ignore[arg-type]
    base_url = "https://testserver" if secure else "http://testserver"
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client, origin, secure


async def test_login_link__cookie_is_protected(host, db_session) -> None:
    client, _, secure = host
    token = await create_login_link(db_session, Account.create().address)

    response = await client.get(f"/api/auth/magic/{token}")

    assert response.status_code == 303
    cookie = session_cookie(response)
    assert_protected(cookie, secure)
    assert cookie["value"] and int(str(cookie["max-age"])) > 0


async def test_passkey_register_and_login__cookie_kind__cookie_is_protected(host) -> None:
    client, origin, secure = host
    account = Account.create()
    authenticator = SoftAuthenticator(origin=origin)
    options = await prove_wallet(client, account.address, lambda text: personal_sign(account, text))

    registered = await client.post(
        "/api/auth/passkeys/register/verify",
        json={"credential": authenticator.create(options), "kind": "cookie"},
    )
    assertion = authenticator.get(await login_options(client))
    logged_in = await client.post(
        "/api/auth/passkeys/login/verify", json={"credential": assertion, "kind": "cookie"}
    )

    for response in (registered, logged_in):
        assert response.status_code == 200, response.text
        assert "token" not in response.json()
        assert_protected(session_cookie(response), secure)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/auth/logout"), ("DELETE", "/api/auth/sessions")]
)
async def test_api_sign_out__clearing_cookie_is_protected(host, db_session, method, path) -> None:
    client, _, secure = host
    token = await create_login_link(db_session, Account.create().address)
    await client.get(f"/api/auth/magic/{token}")  # the client now holds the cookie

    response = await client.request(method, path)

    assert response.status_code == 204, response.text
    cookie = session_cookie(response)
    assert_protected(cookie, secure)
    assert cookie["value"] == "" and cookie["max-age"] == "0"


async def test_dashboard_sign_out__clearing_cookie_is_protected(host, db_session, settings) -> None:
    client, _, secure = host
    token = await create_login_link(db_session, Account.create().address)
    session = session_cookie(await client.get(f"/api/auth/magic/{token}"))
    form_token = csrf.token_for(settings.effective_secret_key, str(session["value"]))

    response = await client.post("/dashboard/logout", data={csrf.FIELD: form_token})

    assert response.status_code == 303, response.text
    cookie = session_cookie(response)
    assert_protected(cookie, secure)
    assert cookie["value"] == "" and cookie["max-age"] == "0"
