"""The passkey ceremonies: wallet proof, registration and discoverable login.

Every challenge lives in `auth_challenges`: single use (consumed before it is
checked, so a failed attempt burns it too), expiring after CHALLENGE_TTL, and
bound to its purpose. A registration challenge is also bound to the wallet
whose signature the backend verified, and the user handle it will carry.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_utils import is_address, to_checksum_address
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from backend.auth.models import AuthChallenge, PasskeyCredential, WalletLink
from backend.auth.ratelimit import AuthLimits
from backend.auth.relying_party import RelyingParty
from backend.auth.sessions import IssuedSession, open_session
from backend.auth.siwe import SiweMessage, new_nonce, verify_wallet_signature
from backend.core.errors import Conflict, InvalidInput, Unauthorized, Unavailable

CHALLENGE_TTL = timedelta(minutes=5)
CEREMONY_TIMEOUT_MS = 120_000
STALE_CHALLENGES = timedelta(hours=1)  # consumed or expired rows kept this long, then deleted


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AuthEnv:
    """What the ceremonies need besides the database; one per app (tests swap parts)."""

    rp: RelyingParty
    w3: Any
    chain_id: int | None
    limits: AuthLimits = field(default_factory=AuthLimits)
    challenge_ttl: timedelta = CHALLENGE_TTL
    clock: Callable[[], datetime] = _utcnow
    account_factory: str | None = None  # PasskeyAccountFactory: passkey-only sign-up

    async def resolved_chain_id(self) -> int:
        if self.chain_id is None:
            try:
                self.chain_id = int(await self.w3.eth.chain_id)
            except Exception as exc:  # SIWE messages name the chain: no node, no message
                raise Unavailable(
                    "the chain node is unreachable", code="chain_unavailable"
                ) from exc
        return self.chain_id


@dataclass(frozen=True)
class Client:
    ip: str | None
    user_agent: str | None


def _wallet(value: str) -> str:
    if not is_address(value):
        raise InvalidInput("wallet must be a 20-byte hex address", code="invalid_wallet")
    return str(to_checksum_address(value))


async def _forget_stale(session: AsyncSession, now: datetime) -> None:
    await session.execute(
        delete(AuthChallenge).where(AuthChallenge.expires_at < now - STALE_CHALLENGES)
    )


async def _consume(
    session: AsyncSession, env: AuthEnv, challenge: bytes, purpose: str
) -> AuthChallenge:
    """Spend a challenge (committed at once), or say why it cannot be spent."""
    now = env.clock()
    row = await session.scalar(
        update(AuthChallenge)
        .where(
            AuthChallenge.challenge == challenge,
            AuthChallenge.purpose == purpose,
            AuthChallenge.consumed_at.is_(None),
            AuthChallenge.expires_at > now,
        )
        .values(consumed_at=now)
        .returning(AuthChallenge)
    )
    if row is not None:
        await session.commit()
        return row
    await session.rollback()
    known = await session.scalar(
        select(AuthChallenge).where(
            AuthChallenge.challenge == challenge, AuthChallenge.purpose == purpose
        )
    )
    if known is None:
        raise Unauthorized(
            "this challenge was not issued for this ceremony", code="challenge_unknown"
        )
    if known.consumed_at is not None:
        raise Unauthorized("this challenge was used already", code="challenge_used")
    raise Unauthorized("this challenge expired; start again", code="challenge_expired")


# -- wallet proof ---------------------------------------------------------------------------


async def wallet_challenge(
    session: AsyncSession, env: AuthEnv, wallet: str, client: Client
) -> dict[str, str]:
    """Issue the Sign-In with Ethereum message the wallet must sign to get a passkey."""
    address = _wallet(wallet)
    now = env.clock()
    expires = now + env.challenge_ttl
    message = SiweMessage(
        domain=env.rp.domain,
        address=address,
        uri=env.rp.public_origin,
        chain_id=await env.resolved_chain_id(),
        nonce=new_nonce(),
        issued_at=now,
        expiration_time=expires,
    )
    row = AuthChallenge(
        id=uuid.uuid4(),
        purpose="siwe",
        challenge=message.nonce.encode(),
        wallet=address,
        data={"message": message.text()},
        client_ip=client.ip,
        expires_at=expires,
    )
    session.add(row)
    await _forget_stale(session, now)
    await session.commit()
    return {"challenge_id": str(row.id), "message": message.text()}


async def _spend_wallet_proof(
    session: AsyncSession, env: AuthEnv, wallet: str, challenge_id: str, signature: str
) -> str:
    """Consume the SIWE challenge and check its signature; returns the proof kind."""
    try:
        row_id = uuid.UUID(challenge_id)
    except ValueError:
        raise InvalidInput("challenge_id is not a challenge id", code="invalid_challenge") from None
    nonce = await session.scalar(
        select(AuthChallenge.challenge).where(
            AuthChallenge.id == row_id,
            AuthChallenge.purpose == "siwe",
            AuthChallenge.wallet == wallet,
        )
    )
    if nonce is None:
        raise Unauthorized("no such challenge for this wallet", code="challenge_unknown")
    row = await _consume(session, env, nonce, "siwe")
    proof = await verify_wallet_signature(env.w3, row.data["message"], signature, wallet)
    if proof is None:
        raise Unauthorized("the signature is not this wallet's", code="bad_wallet_signature")
    return proof


# -- registration ---------------------------------------------------------------------------


async def registration_options(
    session: AsyncSession,
    env: AuthEnv,
    *,
    wallet: str,
    challenge_id: str,
    signature: str,
    client: Client,
) -> dict[str, Any]:
    """Verify the wallet's signature, then open a pending registration bound to it."""
    address = _wallet(wallet)
    proof = await _spend_wallet_proof(session, env, address, challenge_id, signature)
    link = await session.get(WalletLink, address)
    user_handle = link.user_handle if link else secrets.token_bytes(32)
    existing = await session.scalars(
        select(PasskeyCredential.credential_id).where(PasskeyCredential.wallet == address)
    )
    options = generate_registration_options(
        rp_id=env.rp.id,
        rp_name=env.rp.name,
        user_name=address,
        user_id=user_handle,
        user_display_name=f"{address[:6]}…{address[-4:]}",
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            # required, not preferred: login is discoverable (no user name to look up)
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in existing],
    )
    session.add(
        AuthChallenge(
            purpose="register",
            challenge=options.challenge,
            wallet=address,
            data={"user_handle": user_handle.hex(), "proof": proof},
            client_ip=client.ip,
            expires_at=env.clock() + env.challenge_ttl,
        )
    )
    await session.commit()
    return dict(json.loads(options_to_json(options)))


def _challenge_of(client_data_json: bytes) -> bytes:
    try:
        return parse_client_data_json(client_data_json).challenge
    except Exception:
        raise InvalidInput("clientDataJSON is malformed", code="invalid_credential") from None


def _parse_registration(credential: dict[str, Any]) -> RegistrationCredential:
    try:
        return parse_registration_credential_json(credential)
    except Exception:
        raise InvalidInput("malformed registration credential", code="invalid_credential") from None


def _parse_authentication(credential: dict[str, Any]) -> AuthenticationCredential:
    try:
        return parse_authentication_credential_json(credential)
    except Exception:
        raise InvalidInput(
            "malformed authentication credential", code="invalid_credential"
        ) from None


async def _link_wallet(
    session: AsyncSession, wallet: str, user_handle: bytes, proof: str
) -> WalletLink:
    await session.execute(
        insert(WalletLink)
        .values(wallet=wallet, user_handle=user_handle, proof=proof)
        .on_conflict_do_nothing(index_elements=["wallet"])
    )
    link = await session.get(WalletLink, wallet, populate_existing=True)
    if link is None or link.user_handle != user_handle:
        raise Conflict("this wallet changed while registering; start again", code="wallet_changed")
    return link


async def verify_registration(
    session: AsyncSession, env: AuthEnv, credential: dict[str, Any], kind: str, client: Client
) -> IssuedSession:
    """Finish a pending registration: store the passkey and open a session for its wallet."""
    parsed = _parse_registration(credential)
    challenge = _challenge_of(parsed.response.client_data_json)
    pending = await _consume(session, env, challenge, "register")
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=env.rp.id,
            expected_origin=list(env.rp.origins),
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise Unauthorized(f"passkey refused: {exc}", code="passkey_rejected") from None
    wallet = str(pending.wallet)
    await _link_wallet(
        session, wallet, bytes.fromhex(pending.data["user_handle"]), pending.data["proof"]
    )
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


# -- login ----------------------------------------------------------------------------------


async def login_options(session: AsyncSession, env: AuthEnv, client: Client) -> dict[str, Any]:
    """Options for a discoverable-credential login: no user name, no allowCredentials."""
    options = generate_authentication_options(
        rp_id=env.rp.id,
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=[],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    now = env.clock()
    session.add(
        AuthChallenge(
            purpose="login",
            challenge=options.challenge,
            client_ip=client.ip,
            expires_at=now + env.challenge_ttl,
        )
    )
    await _forget_stale(session, now)
    await session.commit()
    return dict(json.loads(options_to_json(options)))


def _regressed(new: int, stored: int) -> bool:
    """Counters that never count (both 0) are allowed; anything else must grow."""
    return (new > 0 or stored > 0) and new <= stored


async def verify_login(
    session: AsyncSession, env: AuthEnv, credential: dict[str, Any], kind: str, client: Client
) -> IssuedSession:
    """Check an assertion, advance its sign count (compare-and-swap), open a session."""
    parsed = _parse_authentication(credential)
    env.limits.credential(parsed.raw_id)
    challenge = _challenge_of(parsed.response.client_data_json)
    await _consume(session, env, challenge, "login")
    passkey = await session.scalar(
        select(PasskeyCredential).where(PasskeyCredential.credential_id == parsed.raw_id)
    )
    if passkey is None:
        raise Unauthorized("unknown passkey", code="unknown_credential")
    link = await session.get(WalletLink, passkey.wallet)
    if link is None or parsed.response.user_handle != link.user_handle:
        raise Unauthorized("the passkey's user handle does not match", code="user_handle_mismatch")
    try:
        presented = parse_authenticator_data(parsed.response.authenticator_data).sign_count
    except Exception:
        raise InvalidInput("authenticatorData is malformed", code="invalid_credential") from None
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=env.rp.id,
            expected_origin=list(env.rp.origins),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        if _regressed(presented, passkey.sign_count):
            raise Unauthorized(
                "the passkey's sign count went backwards (a cloned authenticator?)",
                code="sign_count_regressed",
            ) from None
        raise Unauthorized(f"passkey refused: {exc}", code="passkey_rejected") from None
    now = env.clock()
    swapped = await session.execute(
        update(PasskeyCredential)
        .where(
            PasskeyCredential.id == passkey.id,
            PasskeyCredential.sign_count == passkey.sign_count,
        )
        .values(
            sign_count=verified.new_sign_count,
            backed_up=verified.credential_backed_up,
            last_used_at=now,
        )
    )
    if swapped.rowcount != 1:  # type: ignore[attr-defined]
        # another login with this passkey moved the count in between: one of them is a replay
        await session.rollback()
        raise Unauthorized("the passkey was used concurrently", code="sign_count_regressed")
    issued = await open_session(
        session,
        wallet=passkey.wallet,
        kind=kind,
        credential_id=passkey.id,
        client_ip=client.ip,
        user_agent=client.user_agent,
        now=now,
    )
    await session.commit()
    return issued
