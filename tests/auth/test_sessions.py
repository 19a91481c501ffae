"""Sessions: bearer vs cookie, listing and revocation, one-time login links, rate limits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from backend.auth.models import AuthChallenge
from backend.auth.principal import SESSION_COOKIE
from backend.auth.sessions import create_login_link
from tests.auth.conftest import login_options, register


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login__cookie_kind__httponly_lax_cookie_and_no_token_in_body(
    api, account, authenticator
):
    await register(api, account, authenticator)
    assertion = authenticator.get(await login_options(api))

    response = await api.post(
        "/api/auth/passkeys/login/verify", json={"credential": assertion, "kind": "cookie"}
    )

    assert response.status_code == 200
    assert "token" not in response.json() and response.json()["kind"] == "cookie"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=css_")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # served on localhost: plain http must keep working
    me = await api.get("/api/auth/me")  # the client keeps the cookie
    assert me.json() == {
        "kind": "session",
        "wallet": account.address,
        "session_id": me.json()["session_id"],
        "session_kind": "cookie",
    }


async def test_session_cookie__public_https_host__secure(settings, clean_db, account):
    from tests.auth.authenticator import SoftAuthenticator
    from tests.auth.conftest import build_app
    from tests.conftest import asgi_client

    public = settings.model_copy(update={"public_url": "https://rewards.example"})
    app = build_app(public, clean_db)
    authenticator = SoftAuthenticator(origin="https://rewards.example")
    async with asgi_client(app) as client:
        await register(client, account, authenticator)
        assertion = authenticator.get(await login_options(client))
        response = await client.post(
            "/api/auth/passkeys/login/verify", json={"credential": assertion, "kind": "cookie"}
        )

    assert response.status_code == 200, response.text
    assert "Secure" in response.headers["set-cookie"]


async def test_logout__revokes_the_bearer_session(api, account, authenticator):
    session = await register(api, account, authenticator)

    assert (await api.post("/api/auth/logout", headers=bearer(session["token"]))).status_code == 204

    after = await api.get("/api/auth/me", headers=bearer(session["token"]))
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_session"


async def test_sessions__list_and_revoke_one_of_the_wallet(api, account, authenticator, clock):
    first = await register(api, account, authenticator)
    clock.advance(timedelta(seconds=1))
    login = await api.post(
        "/api/auth/passkeys/login/verify",
        json={"credential": authenticator.get(await login_options(api))},
    )
    second = login.json()

    listed = (await api.get("/api/auth/sessions", headers=bearer(first["token"]))).json()[
        "sessions"
    ]
    assert len(listed) == 2
    assert [s["current"] for s in listed] == [False, True]  # newest first; this one is the older
    other = listed[0]["id"]

    assert (
        await api.delete(f"/api/auth/sessions/{other}", headers=bearer(first["token"]))
    ).status_code == 204
    assert (await api.get("/api/auth/me", headers=bearer(second["token"]))).status_code == 401
    assert (await api.get("/api/auth/me", headers=bearer(first["token"]))).status_code == 200


async def test_sessions__another_wallets_session__404(api, authenticator):
    from eth_account import Account

    from tests.auth.authenticator import SoftAuthenticator
    from tests.auth.conftest import ORIGIN

    mine = await register(api, Account.create(), authenticator)
    theirs = await register(api, Account.create(), SoftAuthenticator(origin=ORIGIN))
    their_id = (await api.get("/api/auth/sessions", headers=bearer(theirs["token"]))).json()[
        "sessions"
    ][0]["id"]

    response = await api.delete(f"/api/auth/sessions/{their_id}", headers=bearer(mine["token"]))

    assert response.status_code == 404
    assert (await api.get("/api/auth/me", headers=bearer(theirs["token"]))).status_code == 200


async def test_sessions__delete_all__signs_out_everywhere(api, account, authenticator):
    session = await register(api, account, authenticator)

    assert (
        await api.delete("/api/auth/sessions", headers=bearer(session["token"]))
    ).status_code == 204

    assert (await api.get("/api/auth/me", headers=bearer(session["token"]))).status_code == 401


async def test_sessions__api_key__403(api, db_session):
    from tests.factories import make_product

    _, key = await make_product(db_session)

    response = await api.get("/api/auth/sessions", headers=bearer(key))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "session_required"


async def test_magic_link__once__sets_dashboard_cookie_and_redirects(api, db_session, account):
    token = await create_login_link(db_session, account.address)

    response = await api.get(f"/api/auth/magic/{token}")

    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    assert "HttpOnly" in response.headers["set-cookie"]
    assert (await api.get("/api/auth/me")).json()["wallet"] == account.address
    again = await api.get(f"/api/auth/magic/{token}")
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_login_link"


async def test_magic_link__expired__401(api, db_session, account):
    token = await create_login_link(db_session, account.address, ttl=timedelta(minutes=1))
    await db_session.execute(
        update(AuthChallenge).values(expires_at=AuthChallenge.created_at - timedelta(seconds=1))
    )
    await db_session.commit()

    assert (await api.get(f"/api/auth/magic/{token}")).status_code == 401


async def test_rate_limit__per_ip__429_with_retry_after(api, auth_env):
    from backend.auth.ratelimit import SlidingWindow

    auth_env.limits.per_ip = SlidingWindow(limit=3, window_s=60)
    for _ in range(3):
        assert (await api.post("/api/auth/passkeys/login/options", json={})).status_code == 200

    response = await api.post("/api/auth/passkeys/login/options", json={})

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_rate_limit__per_credential__429(api, account, authenticator, auth_env):
    from backend.auth.ratelimit import SlidingWindow

    await register(api, account, authenticator)
    auth_env.limits.per_credential = SlidingWindow(limit=2, window_s=60)
    statuses = []
    for _ in range(3):
        assertion = authenticator.get(await login_options(api), bogus_signature=True)
        statuses.append(
            (
                await api.post("/api/auth/passkeys/login/verify", json={"credential": assertion})
            ).status_code
        )

    assert statuses == [401, 401, 429]


def test_sliding_window__forgets_old_hits():
    from backend.auth.ratelimit import SlidingWindow

    now = [0.0]
    window = SlidingWindow(limit=1, window_s=10, clock=lambda: now[0])
    window.hit("a", "requests")
    now[0] = 10.0
    window.hit("a", "requests")  # the first hit left the window


async def test_listener_token__interactions_only_for_its_wallet(
    api, account, authenticator, db_session
):
    from eth_account import Account

    from tests.factories import make_campaign, make_product

    product, _ = await make_product(db_session)
    await make_campaign(db_session, product, trigger="webshop.open")
    session = await register(api, account, authenticator)
    body = {"product_id": product.id, "type": "webshop.open", "data": {}, "dedup_key": "k1"}

    mine = await api.post(
        "/api/external/interactions",
        json={**body, "wallet": account.address},
        headers=bearer(session["token"]),
    )
    theirs = await api.post(
        "/api/external/interactions",
        json={**body, "wallet": Account.create().address},
        headers=bearer(session["token"]),
    )

    assert mine.status_code == 202, mine.text
    assert theirs.status_code == 403
    assert theirs.json()["error"]["code"] == "wallet_mismatch"
