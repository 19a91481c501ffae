"""A software WebAuthn authenticator (P-256, "none" attestation) for fast unit tests.

It produces the same JSON a browser's PublicKeyCredential.toJSON() does, and
lets a test bend one thing at a time: the origin, the UV flag, the sign count,
the signature.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftCredential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    rp_id: str
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


@dataclass
class SoftAuthenticator:
    origin: str
    credentials: list[SoftCredential] = field(default_factory=list)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, uv: bool = True
    ) -> dict[str, Any]:
        """navigator.credentials.create: a new resident credential for options["user"]."""
        rp_id = options["rp"]["id"]
        credential = SoftCredential(
            id=os.urandom(16),
            key=ec.generate_private_key(ec.SECP256R1()),
            user_handle=from_b64url(options["user"]["id"]),
            rp_id=rp_id,
        )
        self.credentials.append(credential)
        flags = UP | AT | (UV if uv else 0)
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", 0)
            + bytes(16)  # aaguid
            + struct.pack(">H", len(credential.id))
            + credential.id
            + credential.cose_public_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        credential: SoftCredential | None = None,
        origin: str | None = None,
        uv: bool = True,
        sign_count: int | None = None,
        bogus_signature: bool = False,
    ) -> dict[str, Any]:
        """navigator.credentials.get: an assertion by `credential` (default: the newest)."""
        credential = credential or self.credentials[-1]
        if sign_count is None:
            credential.sign_count += 1
            sign_count = credential.sign_count
        auth_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([UP | (UV if uv else 0)])
            + struct.pack(">I", sign_count)
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        if bogus_signature:
            signed = b"not what the authenticator saw" + signed
        signature = credential.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
        }
