"""WebAuthn bytes for PasskeyAccount: public key, rpIdHash, challenge, and the `auth` encoding.

A browser's assertion (authenticatorData, clientDataJSON, DER signature) becomes
abi.encode(authenticatorData, clientDataJSON, challengeIndex, typeIndex, r, s, x, y),
the layout PasskeyAccount decodes; s is normalised to the low half, which the
account requires (the high twin verifies too, so it must be refused).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_abi import encode as abi_encode

# P-256 group order.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
TYPE_FIELD = b'"type":"webauthn.get"'
CHALLENGE_PREFIX = b'"challenge":"'
AUTH_TYPES = ["bytes", "bytes", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256"]


def rp_id_hash(rp_id: str) -> bytes:
    """sha256 of the relying party id: the first 32 bytes of every authenticatorData."""
    return hashlib.sha256(rp_id.encode()).digest()


def challenge_b64url(digest: bytes) -> str:
    """The WebAuthn challenge for a 32-byte digest: base64url, no padding (43 chars)."""
    if len(digest) != 32:
        raise ValueError(f"digest must be 32 bytes, got {len(digest)}")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_key_xy(cose_public_key: bytes) -> tuple[int, int]:
    """(x, y) of a passkey from its COSE key (py_webauthn's credential_public_key).

    Only ES256 on P-256 can sign for the account; anything else is a ValueError,
    as is a point off the curve (the account would refuse it).
    """
    from webauthn.helpers.cose import COSECRV, COSEKTY, COSEAlgorithmIdentifier
    from webauthn.helpers.decode_credential_public_key import (
        DecodedEC2PublicKey,
        decode_credential_public_key,
    )

    try:
        key = decode_credential_public_key(cose_public_key)
    except Exception as exc:  # py_webauthn raises KeyError, CBOR errors, ...
        raise ValueError(f"not a COSE public key: {exc!r}") from exc
    if not (
        isinstance(key, DecodedEC2PublicKey)
        and key.kty == COSEKTY.EC2
        and key.alg == COSEAlgorithmIdentifier.ECDSA_SHA_256
        and key.crv == COSECRV.P256
    ):
        raise ValueError("passkey must be an ES256 key on P-256 (kty 2, alg -7, crv 1)")
    if len(key.x) != 32 or len(key.y) != 32:
        raise ValueError("P-256 coordinates must be 32 bytes each")
    x, y = int.from_bytes(key.x, "big"), int.from_bytes(key.y, "big")
    try:
        ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError as exc:
        raise ValueError("public key is not a point on P-256") from exc
    return x, y


def signature_rs(signature_der: bytes) -> tuple[int, int]:
    """(r, s) of a DER ECDSA signature, s in the low half of the order."""
    try:
        r, s = decode_dss_signature(signature_der)
    except ValueError as exc:
        raise ValueError(f"not a DER ECDSA signature: {exc}") from exc
    if not (0 < r < P256_N and 0 < s < P256_N):
        raise ValueError("signature out of range for P-256")
    if s > P256_N // 2:
        s = P256_N - s
    return r, s


def encode_auth(
    authenticator_data: bytes, client_data_json: bytes, signature_der: bytes, x: int, y: int
) -> bytes:
    """The `auth` bytes of PasskeyAccount.execute / isValidSignature for one assertion."""
    if len(authenticator_data) < 37:
        raise ValueError("authenticatorData is shorter than 37 bytes")
    type_index = client_data_json.find(TYPE_FIELD)
    if type_index < 0:
        raise ValueError('clientDataJSON has no "type":"webauthn.get"')
    challenge_index = client_data_json.find(CHALLENGE_PREFIX)
    if challenge_index < 0:
        raise ValueError('clientDataJSON has no "challenge"')
    r, s = signature_rs(signature_der)
    return abi_encode(
        AUTH_TYPES,
        [
            bytes(authenticator_data),
            bytes(client_data_json),
            challenge_index,
            type_index,
            r,
            s,
            x,
            y,
        ],
    )
