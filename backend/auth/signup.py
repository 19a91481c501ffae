"""Sign-up with only a passkey: the passkey's own account is the wallet.

Registration is as strict as the wallet-proven one (user verification and a
resident key required, origin and RP id checked, single-use challenge) and only
ES256 keys are offered, the one kind the account verifies on-chain. No wallet
signature is asked: the wallet is derived from the new public key
(backend.auth.accounts), linked with proof "passkey", and the session is bound to
it. Discoverable login then finds it like any other wallet's passkey.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import generate_registration_options, options_to_json, verify_registration_response
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from backend.auth.accounts import account_address
from backend.auth.models import AuthChallenge, PasskeyCredential
from backend.auth.service import (
    CEREMONY_TIMEOUT_MS,
    AuthEnv,
    Client,
    _challenge_of,
    _consume,
    _forget_stale,
    _link_wallet,
    _parse_registration,
)
from backend.auth.sessions import IssuedSession, open_session
from backend.core.errors import Conflict, Unauthorized

PASSKEY_PROOF = "passkey"  # wallet_links.proof of a wallet that is a passkey's account
ES256_ONLY = [COSEAlgorithmIdentifier.ECDSA_SHA_256]
PURPOSE = "signup"


async def signup_options(session: AsyncSession, env: AuthEnv, client: Client) -> dict[str, Any]:
    """Creation options for a new passkey whose account becomes the wallet."""
    user_handle = secrets.token_bytes(32)
    label = f"Cascade wallet {user_handle[:3].hex()}"
    options = generate_registration_options(
        rp_id=env.rp.id,
        rp_name=env.rp.name,
        user_name=label,
        user_id=user_handle,
        user_display_name=label,
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        supported_pub_key_algs=ES256_ONLY,
    )
    now = env.clock()
    session.add(
        AuthChallenge(
            purpose=PURPOSE,
            challenge=options.challenge,
            data={"user_handle": user_handle.hex()},
            client_ip=client.ip,
            expires_at=now + env.challenge_ttl,
        )
    )
    await _forget_stale(session, now)
    await session.commit()
    return dict(json.loads(options_to_json(options)))


async def verify_signup(
    session: AsyncSession, env: AuthEnv, credential: dict[str, Any], kind: str, client: Client
) -> IssuedSession:
    """Check the new passkey, derive its account, link it as the wallet, open a session."""
    parsed = _parse_registration(credential)
    challenge = _challenge_of(parsed.response.client_data_json)
    pending = await _consume(session, env, challenge, PURPOSE)
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=env.rp.id,
            expected_origin=list(env.rp.origins),
            require_user_verification=True,
            supported_pub_key_algs=ES256_ONLY,
        )
    except WebAuthnException as exc:
        raise Unauthorized(f"passkey refused: {exc}", code="passkey_rejected") from None
    wallet = await account_address(
        env.w3, env.account_factory, verified.credential_public_key, env.rp.id
    )
    await _link_wallet(session, wallet, bytes.fromhex(pending.data["user_handle"]), PASSKEY_PROOF)
    passkey = PasskeyCredential(
        credential_id=verified.credential_id,
        wallet=wallet,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t.value for t in parsed.response.transports or []],
        aaguid=verified.aaguid,
        backed_up=verified.credential_backed_up,
        last_used_at=env.clock(),
    )
    session.add(passkey)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict("this passkey is registered already", code="credential_exists") from None
    issued = await open_session(
        session,
        wallet=wallet,
        kind=kind,
        credential_id=passkey.id,
        client_ip=client.ip,
        user_agent=client.user_agent,
        now=env.clock(),
    )
    await session.commit()
    return issued
