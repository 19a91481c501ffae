"""Passkey ceremonies over HTTP with a software authenticator (the browser suite: for real)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backend.auth.models import AuthChallenge, PasskeyCredential, WalletLink
from tests.auth.authenticator import SoftAuthenticator, b64url
from tests.auth.conftest import ORIGIN, login_options, personal_sign, prove_wallet, register


async def test_register__signed_wallet__stores_passkey_and_opens_bearer_session(
    api, account, authenticator, db_session
):
    session = await register(api, account, authenticator)

    assert session["wallet"] == account.address
    assert session["token"].startswith("css_")
    assert session["kind"] == "bearer"
    me = await api.get("/api/auth/me", headers={"Authorization": f"Bearer {session['token']}"})
    assert me.json()["wallet"] == account.address
    link = await db_session.get(WalletLink, account.address)
    assert link is not None and link.proof == "eip191"
    passkey = await db_session.scalar(select(PasskeyCredential))
    assert passkey is not None and passkey.wallet == account.address
    assert passkey.credential_id == authenticator.credentials[0].id
    assert passkey.transports == ["internal"]


async def test_register_options__shape_the_listener_expects(api, account):
    options = await prove_wallet(api, account.address, lambda text: personal_sign(account, text))

    assert options["rp"] == {"id": "localhost", "name": "Cascade"}
    assert options["user"]["name"] == account.address
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["excludeCredentials"] == []


async def test_wallet_challenge__is_an_eip4361_message(api, account):
    answer = (await api.post("/api/auth/wallet-challenge", json={"wallet": account.address})).json()

    lines = answer["message"].split("\n")
    assert lines[0] == "localhost:8000 wants you to sign in with your Ethereum account:"
    assert lines[1] == account.address
    assert "URI: http://localhost:8000" in lines
    assert "Version: 1" in lines and "Chain ID: 31337" in lines
    assert any(line.startswith("Nonce: ") and len(line) >= 15 for line in lines)
    assert any(line.startswith("Issued At: ") and line.endswith("Z") for line in lines)
    assert any(line.startswith("Expiration Time: ") for line in lines)


async def test_register_options__signature_of_another_wallet__401(api, account):
    from eth_account import Account

    other = Account.create()
    challenge = (
        await api.post("/api/auth/wallet-challenge", json={"wallet": account.address})
    ).json()
    response = await api.post(
        "/api/auth/passkeys/register/options",
        json={
            "wallet": account.address,
            "challenge_id": challenge["challenge_id"],
            "signature": personal_sign(other, challenge["message"]),
        },
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_wallet_signature"


async def test_register_options__wallet_challenge_reused__401(api, account):
    challenge = (
        await api.post("/api/auth/wallet-challenge", json={"wallet": account.address})
    ).json()
    body = {
        "wallet": account.address,
        "challenge_id": challenge["challenge_id"],
        "signature": personal_sign(account, challenge["message"]),
    }
    assert (await api.post("/api/auth/passkeys/register/options", json=body)).status_code == 200

    again = await api.post("/api/auth/passkeys/register/options", json=body)

    assert again.status_code == 401
    assert again.json()["error"]["code"] == "challenge_used"


async def test_register_options__contract_wallet__eip1271(
    api, account, owner_wallet_contract, db_session, authenticator
):
    smart_account = owner_wallet_contract(account.address)

    options = await prove_wallet(api, smart_account, lambda text: personal_sign(account, text))
    verify = await api.post(
        "/api/auth/passkeys/register/verify", json={"credential": authenticator.create(options)}
    )

    assert verify.status_code == 200, verify.text
    assert verify.json()["wallet"] == smart_account
    link = await db_session.get(WalletLink, smart_account)
    assert link is not None and link.proof == "eip1271"


async def test_register_options__contract_wallet_refuses_stranger__401(
    api, account, owner_wallet_contract
):
    from eth_account import Account

    smart_account = owner_wallet_contract(account.address)
    stranger = Account.create()
    challenge = (
        await api.post("/api/auth/wallet-challenge", json={"wallet": smart_account})
    ).json()
    response = await api.post(
        "/api/auth/passkeys/register/options",
        json={
            "wallet": smart_account,
            "challenge_id": challenge["challenge_id"],
            "signature": personal_sign(stranger, challenge["message"]),
        },
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_wallet_signature"


async def test_register__second_passkey_same_wallet__same_user_handle(api, account, db_session):
    first, second = SoftAuthenticator(origin=ORIGIN), SoftAuthenticator(origin=ORIGIN)
    await register(api, account, first)
    options = await prove_wallet(api, account.address, lambda text: personal_sign(account, text))

    assert [item["id"] for item in options["excludeCredentials"]] == [
        b64url(first.credentials[0].id)
    ]
    verify = await api.post(
        "/api/auth/passkeys/register/verify", json={"credential": second.create(options)}
    )
    assert verify.status_code == 200
    assert first.credentials[0].user_handle == second.credentials[0].user_handle
    assert len(list(await db_session.scalars(select(PasskeyCredential)))) == 2


async def test_register_verify__expired_challenge__401(api, account, authenticator, clock):
    options = await prove_wallet(api, account.address, lambda text: personal_sign(account, text))
    clock.advance(timedelta(minutes=5, seconds=1))

    response = await api.post(
        "/api/auth/passkeys/register/verify", json={"credential": authenticator.create(options)}
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "challenge_expired"


async def test_register_verify__without_user_verification__401(api, account, authenticator):
    options = await prove_wallet(api, account.address, lambda text: personal_sign(account, text))

    response = await api.post(
        "/api/auth/passkeys/register/verify",
        json={"credential": authenticator.create(options, uv=False)},
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "passkey_rejected"


async def test_register_verify__wrong_origin__401(api, account, authenticator):
    options = await prove_wallet(api, account.address, lambda text: personal_sign(account, text))

    credential = authenticator.create(options, origin="http://localhost:9999")
    response = await api.post("/api/auth/passkeys/register/verify", json={"credential": credential})

    assert response.status_code == 401
    assert "origin" in response.json()["error"]["message"]


async def test_register_verify__malformed_credential__422(api):
    response = await api.post(
        "/api/auth/passkeys/register/verify", json={"credential": {"id": "x"}}
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_credential"


async def test_login__discoverable__persists_sign_count(api, account, authenticator, db_session):
    await register(api, account, authenticator)
    options = await login_options(api)
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"

    response = await api.post(
        "/api/auth/passkeys/login/verify", json={"credential": authenticator.get(options)}
    )

    assert response.status_code == 200, response.text
    assert response.json()["wallet"] == account.address
    passkey = await db_session.scalar(select(PasskeyCredential))
    assert passkey is not None and passkey.sign_count == 1 and passkey.last_used_at is not None


async def test_login__replayed_assertion__401(api, account, authenticator):
    await register(api, account, authenticator)
    assertion = authenticator.get(await login_options(api))
    first = await api.post("/api/auth/passkeys/login/verify", json={"credential": assertion})
    assert first.status_code == 200

    replay = await api.post("/api/auth/passkeys/login/verify", json={"credential": assertion})

    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "challenge_used"


async def test_login__registration_challenge__401(api, account, authenticator):
    """A challenge issued for another ceremony (a pending registration) opens nothing."""
    await register(api, account, authenticator)
    pending = await prove_wallet(api, account.address, lambda text: personal_sign(account, text))

    assertion = authenticator.get({"rpId": "localhost", "challenge": pending["challenge"]})
    response = await api.post("/api/auth/passkeys/login/verify", json={"credential": assertion})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "challenge_unknown"


async def test_login__expired_challenge__401(api, account, authenticator, clock):
    await register(api, account, authenticator)
    options = await login_options(api)
    clock.advance(timedelta(minutes=6))

    response = await api.post(
        "/api/auth/passkeys/login/verify", json={"credential": authenticator.get(options)}
    )

    assert response.json()["error"]["code"] == "challenge_expired"


async def test_login__no_user_verification__401(api, account, authenticator):
    await register(api, account, authenticator)

    assertion = authenticator.get(await login_options(api), uv=False)
    response = await api.post("/api/auth/passkeys/login/verify", json={"credential": assertion})

    assert response.status_code == 401
    assert "verification" in response.json()["error"]["message"]


async def test_login__bogus_signature__401(api, account, authenticator):
    await register(api, account, authenticator)

    assertion = authenticator.get(await login_options(api), bogus_signature=True)
    response = await api.post("/api/auth/passkeys/login/verify", json={"credential": assertion})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "passkey_rejected"


async def test_login__wrong_origin__401(api, account, authenticator):
    await register(api, account, authenticator)

    assertion = authenticator.get(await login_options(api), origin="https://evil.example")
    response = await api.post("/api/auth/passkeys/login/verify", json={"credential": assertion})

    assert response.status_code == 401


async def test_login__lowered_sign_count__401(api, account, authenticator, db_session):
    await register(api, account, authenticator)
    for _ in range(3):
        ok = await api.post(
            "/api/auth/passkeys/login/verify",
            json={"credential": authenticator.get(await login_options(api))},
        )
        assert ok.status_code == 200

    cloned = authenticator.get(await login_options(api), sign_count=2)
    response = await api.post("/api/auth/passkeys/login/verify", json={"credential": cloned})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "sign_count_regressed"
    passkey = await db_session.scalar(select(PasskeyCredential))
    assert passkey is not None and passkey.sign_count == 3


async def test_login__counters_that_never_count__allowed(api, account, authenticator):
    await register(api, account, authenticator)
    for _ in range(2):
        assertion = authenticator.get(await login_options(api), sign_count=0)
        response = await api.post("/api/auth/passkeys/login/verify", json={"credential": assertion})
        assert response.status_code == 200


async def test_login__unknown_passkey__401(api, account, authenticator):
    stranger = SoftAuthenticator(origin=ORIGIN)
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"})

    response = await api.post(
        "/api/auth/passkeys/login/verify",
        json={"credential": stranger.get(await login_options(api))},
    )

    assert response.json()["error"]["code"] == "unknown_credential"


async def test_challenges__single_use_rows_with_five_minute_expiry(api, db_session, clock):
    await login_options(api)

    row = await db_session.scalar(select(AuthChallenge))
    assert row is not None and row.purpose == "login" and row.consumed_at is None
    assert row.expires_at - clock.now == timedelta(minutes=5)
