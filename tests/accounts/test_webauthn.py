"""backend.accounts.webauthn: COSE keys, challenges, DER parsing, low-s, index finding."""

from __future__ import annotations

import base64
import hashlib
import json

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from eth_abi import decode

from backend.accounts import webauthn
from backend.chain.deploy import P256_PROBE_INPUT

N = webauthn.P256_N


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _xy(key: ec.EllipticCurvePrivateKey) -> tuple[int, int]:
    numbers = key.public_key().public_numbers()
    return numbers.x, numbers.y


def _cose(x: int, y: int, **override: object) -> bytes:
    fields: dict[int, object] = {
        1: 2,
        3: -7,
        -1: 1,
        -2: x.to_bytes(32, "big"),
        -3: y.to_bytes(32, "big"),
    }
    fields.update({int(k.removeprefix("_")): v for k, v in override.items()})
    return cbor2.dumps(fields)


def _client_data(challenge: str, kind: str = "webauthn.get", **extra: object) -> bytes:
    data = {
        "type": kind,
        "challenge": challenge,
        "origin": "https://cascade.test",
        "crossOrigin": False,
    }
    data.update(extra)
    return json.dumps(data, separators=(",", ":")).encode()


def test_public_key_xy__from_a_cose_es256_key():
    key = _key()
    assert webauthn.public_key_xy(_cose(*_xy(key))) == _xy(key)


@pytest.mark.parametrize(
    "override, reason",
    [
        ({"_3": -257}, "ES256"),  # RS256
        ({"_1": 1, "_-1": 6}, "ES256"),  # OKP / Ed25519
        ({"_-1": 2}, "ES256"),  # P-384
    ],
)
def test_public_key_xy__other_algorithms_refused(override, reason):
    x, y = _xy(_key())
    with pytest.raises(ValueError, match=reason):
        webauthn.public_key_xy(_cose(x, y, **override))


def test_public_key_xy__point_off_the_curve_or_garbage_refused():
    x, y = _xy(_key())
    with pytest.raises(ValueError, match="not a point on P-256"):
        webauthn.public_key_xy(_cose(x, y + 1))
    with pytest.raises(ValueError, match="COSE"):
        webauthn.public_key_xy(b"\xff\x00garbage")


def test_rp_id_hash__is_sha256_of_the_rp_id():
    assert webauthn.rp_id_hash("cascade.test") == hashlib.sha256(b"cascade.test").digest()


def test_challenge_b64url__43_chars_no_padding():
    digest = bytes(range(32))
    challenge = webauthn.challenge_b64url(digest)
    assert len(challenge) == 43 and "=" not in challenge
    assert base64.urlsafe_b64decode(challenge + "=") == digest
    assert webauthn.challenge_b64url(b"\xff" * 32) == "_" * 42 + "8"  # url-safe alphabet
    with pytest.raises(ValueError):
        webauthn.challenge_b64url(b"\x00" * 31)


def test_signature_rs__low_s_kept_high_s_normalised():
    assert webauthn.signature_rs(encode_dss_signature(5, 7)) == (5, 7)
    assert webauthn.signature_rs(encode_dss_signature(5, N - 7)) == (5, 7)
    assert webauthn.signature_rs(encode_dss_signature(5, N // 2)) == (5, N // 2)
    assert webauthn.signature_rs(encode_dss_signature(5, N // 2 + 1)) == (5, N - N // 2 - 1)


def test_signature_rs__not_der_or_out_of_range__refused():
    with pytest.raises(ValueError, match="DER"):
        webauthn.signature_rs(b"\x30\x02\x01")
    with pytest.raises(ValueError, match="range"):
        webauthn.signature_rs(encode_dss_signature(0, 7))
    with pytest.raises(ValueError, match="range"):
        webauthn.signature_rs(encode_dss_signature(5, N))


def test_encode_auth__finds_indexes_and_encodes_the_account_layout():
    key = _key()
    x, y = _xy(key)
    challenge = webauthn.challenge_b64url(bytes(32))
    client_data = _client_data(challenge)
    authenticator_data = webauthn.rp_id_hash("cascade.test") + b"\x05" + b"\x00\x00\x00\x01"
    der = key.sign(
        authenticator_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
    )
    fields = decode(
        webauthn.AUTH_TYPES, webauthn.encode_auth(authenticator_data, client_data, der, x, y)
    )
    data, json_bytes, challenge_index, type_index, r, s, fx, fy = fields
    assert (data, json_bytes, fx, fy) == (authenticator_data, client_data, x, y)
    assert json_bytes[type_index:].startswith(b'"type":"webauthn.get"')
    assert json_bytes[challenge_index:].startswith(b'"challenge":"' + challenge.encode() + b'"')
    assert type_index == 1 and challenge_index == 23
    assert s <= N // 2
    # the encoded (r, s) still verify for the key (low s is the valid twin)
    key.public_key().verify(
        encode_dss_signature(r, s),
        authenticator_data + hashlib.sha256(client_data).digest(),
        ec.ECDSA(hashes.SHA256()),
    )


def test_encode_auth__high_s_from_the_authenticator__normalised():
    key = _key()
    x, y = _xy(key)
    client_data = _client_data(webauthn.challenge_b64url(bytes(32)))
    authenticator_data = bytes(32) + b"\x05" + bytes(4)
    message = authenticator_data + hashlib.sha256(client_data).digest()
    while True:  # find a signature whose s is high, as some authenticators emit
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
        if s > N // 2:
            break
    fields = decode(
        webauthn.AUTH_TYPES,
        webauthn.encode_auth(authenticator_data, client_data, encode_dss_signature(r, s), x, y),
    )
    assert (fields[4], fields[5]) == (r, N - s)


def test_encode_auth__finds_the_fields_after_extra_members():
    """Browsers may add members (Chrome's "other_keys_can_be_added_here"): indexes still found."""
    challenge = webauthn.challenge_b64url(bytes(range(32)))
    client_data = _client_data(challenge, other_keys_can_be_added_here="do not compare")
    auth = webauthn.encode_auth(bytes(37), client_data, encode_dss_signature(1, 2), 3, 4)
    _, _, challenge_index, type_index, *_ = decode(webauthn.AUTH_TYPES, auth)
    assert client_data[challenge_index : challenge_index + 57].endswith(challenge.encode() + b'"')
    assert type_index == 1


def test_encode_auth__json_of_another_type_or_without_challenge__refused():
    der = encode_dss_signature(1, 2)
    with pytest.raises(ValueError, match="webauthn.get"):
        webauthn.encode_auth(bytes(37), _client_data("abc", kind="webauthn.create"), der, 1, 2)
    spaced = json.dumps({"type": "webauthn.get", "challenge": "abc"}).encode()  # not a browser's
    with pytest.raises(ValueError, match="webauthn.get"):
        webauthn.encode_auth(bytes(37), spaced, der, 1, 2)
    with pytest.raises(ValueError, match="challenge"):
        webauthn.encode_auth(bytes(37), b'{"type":"webauthn.get"}', der, 1, 2)
    with pytest.raises(ValueError, match="37"):
        webauthn.encode_auth(bytes(36), _client_data("abc"), der, 1, 2)


def test_probe_vector__is_a_valid_p256_signature():
    """The vector the account and `cascade chain deploy` use to detect the precompile."""
    message_hash, r, s, x, y = (P256_PROBE_INPUT[i : i + 32] for i in range(0, 160, 32))
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    ).public_key()
    public.verify(
        encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big")),
        message_hash,
        ec.ECDSA(Prehashed(hashes.SHA256())),
    )
    assert int.from_bytes(s, "big") <= N // 2
