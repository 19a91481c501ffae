"""A software passkey (P-256, "none" attestation) for the demo's shopper without a wallet.

It produces the bytes a browser's authenticator would: authenticatorData with the
user-present and user-verified flags, clientDataJSON serialised compactly as
browsers do (the account finds `"type":"webauthn.get"` and `"challenge":"…"` in it
on-chain), an ES256 signature over authenticatorData ‖ sha256(clientDataJSON), and
the JSON of PublicKeyCredential.toJSON() the backend expects. Demo only: a real
shopper's key never leaves their device.
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

USER_PRESENT, USER_VERIFIED, ATTESTED_DATA = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Passkey:
    """One resident credential: its id, its private key, the user handle it was made for."""

    id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    sign_count: int = 0

    @property
    def xy(self) -> tuple[int, int]:
        numbers = self.key.public_key().public_numbers()
        return numbers.x, numbers.y

    def cose_public_key(self) -> bytes:
        x, y = self.xy
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: x.to_bytes(32, "big"), -3: y.to_bytes(32, "big")}
        )


@dataclass
class SoftwareAuthenticator:
    """navigator.credentials.create / get for one origin, answering without a prompt."""

    origin: str
    passkeys: list[Passkey] = field(default_factory=list)

    def _client_data(self, kind: str, challenge: str) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        return json.dumps(data, separators=(",", ":")).encode()

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """A new resident ES256 credential for options["user"]: RegistrationResponseJSON."""
        rp_id = options["rp"]["id"]
        passkey = Passkey(
            id=os.urandom(16),
            key=ec.generate_private_key(ec.SECP256R1()),
            user_handle=from_b64url(options["user"]["id"]),
        )
        self.passkeys.append(passkey)
        authenticator_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([USER_PRESENT | USER_VERIFIED | ATTESTED_DATA])
            + struct.pack(">I", 0)
            + bytes(16)  # aaguid: none
            + struct.pack(">H", len(passkey.id))
            + passkey.id
            + passkey.cose_public_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": authenticator_data})
        return {
            "id": b64url(passkey.id),
            "rawId": b64url(passkey.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(
                    self._client_data("webauthn.create", options["challenge"])
                ),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(self, options: dict[str, Any], passkey: Passkey | None = None) -> dict[str, Any]:
        """An assertion over options["challenge"] (user verified): AuthenticationResponseJSON."""
        passkey = passkey or self.passkeys[-1]
        passkey.sign_count += 1
        authenticator_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([USER_PRESENT | USER_VERIFIED])
            + struct.pack(">I", passkey.sign_count)
        )
        client_data = self._client_data("webauthn.get", options["challenge"])
        signature = passkey.key.sign(
            authenticator_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(passkey.id),
            "rawId": b64url(passkey.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(authenticator_data),
                "signature": b64url(signature),
                "userHandle": b64url(passkey.user_handle),
            },
        }
