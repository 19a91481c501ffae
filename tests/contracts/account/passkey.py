"""A software P-256 passkey that produces the bytes a browser's navigator.credentials.get does.

authenticatorData = rpIdHash ‖ flags ‖ signCount; clientDataJSON is compact JSON
with type, challenge, origin, crossOrigin in the browser's order; the signature
is DER over authenticatorData ‖ sha256(clientDataJSON). Each keyword bends one
thing, and the result is still signed by the key, so only that one check can
refuse it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from eth_abi import encode as abi_encode

from backend.accounts import webauthn

UP, UV = 0x01, 0x04
RP_ID = "cascade.test"
ORIGIN = "https://cascade.test"


@dataclass(frozen=True)
class Assertion:
    authenticator_data: bytes
    client_data_json: bytes
    signature_der: bytes


@dataclass
class SoftPasskey:
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SoftPasskey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def x(self) -> int:
        return self.key.public_key().public_numbers().x

    @property
    def y(self) -> int:
        return self.key.public_key().public_numbers().y

    def assertion(
        self,
        digest: bytes,
        *,
        rp_id: str = RP_ID,
        rp_id_hash: bytes | None = None,
        flags: int = UP | UV,
        kind: str = "webauthn.get",
        challenge: str | None = None,
        origin: str = ORIGIN,
        sign_count: int = 0,
    ) -> Assertion:
        rp_hash = webauthn.rp_id_hash(rp_id) if rp_id_hash is None else rp_id_hash
        authenticator_data = rp_hash + bytes([flags]) + struct.pack(">I", sign_count)
        client_data_json = json.dumps(
            {
                "type": kind,
                "challenge": challenge or webauthn.challenge_b64url(digest),
                "origin": origin,
                "crossOrigin": False,
            },
            separators=(",", ":"),
        ).encode()
        signed = authenticator_data + hashlib.sha256(client_data_json).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return Assertion(authenticator_data, client_data_json, signature)

    def auth(self, digest: bytes, **bend: object) -> bytes:
        """The `auth` bytes for `digest`, built by the backend's encode_auth."""
        a = self.assertion(digest, **bend)  # type: ignore[arg-type]
        return webauthn.encode_auth(
            a.authenticator_data, a.client_data_json, a.signature_der, self.x, self.y
        )

    def raw(self, a: Assertion) -> bytes:
        """`auth` for an assertion as it is (any type), s normalised low."""
        r, s = webauthn.signature_rs(a.signature_der)
        return raw_auth(a, r, s, self.x, self.y)

    def high_s_auth(self, digest: bytes) -> bytes:
        """The same assertion with s replaced by n - s: valid for P-256, refused by the account."""
        a = self.assertion(digest)
        r, s = webauthn.signature_rs(a.signature_der)
        high = webauthn.P256_N - s
        assert high > webauthn.P256_N // 2
        return raw_auth(a, r, high, self.x, self.y)


def raw_auth(a: Assertion, r: int, s: int, x: int, y: int) -> bytes:
    """abi-encoded auth pointing at the JSON's own type and challenge, (r, s) as given.

    Unlike encode_auth it accepts any type ("webauthn.create" too) and any s.
    """
    return abi_encode(
        webauthn.AUTH_TYPES,
        [
            a.authenticator_data,
            a.client_data_json,
            a.client_data_json.find(webauthn.CHALLENGE_PREFIX),
            a.client_data_json.find(b'"type":"'),
            r,
            s,
            x,
            y,
        ],
    )
