"""Capture one WebAuthn assertion from Chromium's virtual authenticator, for PasskeyAccount.

    .venv/bin/python -m tests.contracts.account.make_chromium_vector

Drives the Debian Chromium through the browser suite's CDP harness: registers an
ES256 passkey for rp id "localhost", computes the account the factory would
deploy for it on the ape test chain, and has the browser sign one Execute
operation of that account with navigator.credentials.get. The bytes the browser
returned are written to chromium_vector.json next to this file; test_chromium
verifies them on-chain, unchanged.

The addresses are fixed in advance: a throwaway deployer key (derived from a
public string, holds nothing) deploys the account blueprint at nonce 0 and the
factory at nonce 1 on chain 31337, and the factory creates the implementation at
its own nonce 1. They depend on neither the contracts' code nor the test order.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from backend.accounts import eip712, webauthn
from tests.browser.harness import CdpConnection, Chromium, Page, StaticSite, VirtualAuthenticator
from tests.browser.harness.chromium import ensure_chromium

OUT = Path(__file__).with_name("chromium_vector.json")
CHAIN_ID = 31337  # ape-foundry's anvil
DEPLOYER_KEY = "0x" + keccak(text="Cascade chromium vector deployer").hex()
RP_ID = "localhost"
FRIEND = to_checksum_address("0x000000000000000000000000000000000000f00d")
CALLS: list[tuple[str, int, bytes]] = [(FRIEND, 12345, b"")]
NONCE = 0
DEADLINE = 2**32  # 2106: the vector never expires
PROXY_HEAD = bytes.fromhex("602d3d8160093d39f3363d3d373d3d3d363d73")
PROXY_TAIL = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")


def create_address(sender: str, nonce: int) -> str:
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def vector_addresses(x: int, y: int, rp_id_hash: bytes) -> dict[str, str]:
    """Where the fixed deployer's contracts, and the passkey's salt-0 account, will be."""
    deployer = Account.from_key(DEPLOYER_KEY).address
    factory = create_address(deployer, 1)
    implementation = create_address(factory, 1)
    code_hash = keccak(PROXY_HEAD + bytes.fromhex(implementation[2:]) + PROXY_TAIL)
    salt = keccak(x.to_bytes(32, "big") + y.to_bytes(32, "big") + rp_id_hash + bytes(32))
    account = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + code_hash)[12:]
    return {
        "deployer": deployer,
        "blueprint": create_address(deployer, 0),
        "factory": factory,
        "implementation": implementation,
        "account": to_checksum_address(account),
    }


REGISTER = """async () => {
  const credential = await navigator.credentials.create({publicKey: {
    rp: {id: "localhost", name: "Cascade vector"},
    user: {id: new Uint8Array([1, 2, 3, 4]), name: "vector", displayName: "vector"},
    challenge: crypto.getRandomValues(new Uint8Array(32)),
    pubKeyCredParams: [{type: "public-key", alg: -7}],
    authenticatorSelection: {residentKey: "required", userVerification: "required"},
    attestation: "none",
  }})
  const hex = (buffer) =>
    [...new Uint8Array(buffer)].map(b => b.toString(16).padStart(2, "0")).join("")
  return {id: credential.id, authenticatorData: hex(credential.response.getAuthenticatorData())}
}"""

SIGN = """async (credentialId, challengeHex) => {
  const bytes = (hex) => new Uint8Array(hex.match(/../g).map(h => parseInt(h, 16)))
  const fromB64url = (text) => Uint8Array.from(
    atob(text.replace(/-/g, "+").replace(/_/g, "/")), c => c.charCodeAt(0))
  const assertion = await navigator.credentials.get({publicKey: {
    challenge: bytes(challengeHex),
    rpId: "localhost",
    allowCredentials: [{type: "public-key", id: fromB64url(credentialId)}],
    userVerification: "required",
  }})
  const hex = (buffer) =>
    [...new Uint8Array(buffer)].map(b => b.toString(16).padStart(2, "0")).join("")
  return {
    authenticatorData: hex(assertion.response.authenticatorData),
    clientDataJSON: hex(assertion.response.clientDataJSON),
    signature: hex(assertion.response.signature),
    userAgent: navigator.userAgent,
  }
}"""


def cose_key_of(authenticator_data: bytes) -> bytes:
    """The credential public key in registration authenticatorData (no extensions)."""
    id_length = int.from_bytes(authenticator_data[53:55], "big")
    return authenticator_data[55 + id_length :]


async def capture() -> dict[str, Any]:
    chromium = Chromium(ensure_chromium()).start()
    site = StaticSite().start()
    site.pages["/"] = "<!doctype html><title>vector</title>"
    try:
        connection = await CdpConnection.connect(chromium.websocket_url)
        page = await Page.open(connection)
        await page.goto(site.url + "/")
        await VirtualAuthenticator.add(page)
        registered = await page.call(REGISTER)
        x, y = webauthn.public_key_xy(cose_key_of(bytes.fromhex(registered["authenticatorData"])))
        rp_id_hash = webauthn.rp_id_hash(RP_ID)
        addresses = vector_addresses(x, y, rp_id_hash)
        digest = eip712.execute_digest(CHAIN_ID, addresses["account"], CALLS, NONCE, DEADLINE)
        signed = await page.call(SIGN, registered["id"], digest.hex())
        await page.close()
        await connection.close()
    finally:
        site.stop()
        chromium.stop()
    client_data_json = bytes.fromhex(signed["clientDataJSON"])
    return {
        "about": "navigator.credentials.get by Chromium's virtual authenticator; "
        "made by make_chromium_vector.py, checked by test_chromium.py",
        "user_agent": signed["userAgent"],
        "rp_id": RP_ID,
        "rp_id_hash": rp_id_hash.hex(),
        "chain_id": CHAIN_ID,
        "addresses": addresses,
        "public_key": {"x": hex(x), "y": hex(y)},
        "operation": {
            "calls": [[target, value, data.hex()] for target, value, data in CALLS],
            "nonce": NONCE,
            "deadline": DEADLINE,
        },
        "digest": digest.hex(),
        "challenge": webauthn.challenge_b64url(digest),
        "authenticator_data": signed["authenticatorData"],
        "client_data_json": client_data_json.decode(),
        "signature_der": signed["signature"],
    }


def main() -> None:
    vector = asyncio.run(capture())
    OUT.write_text(json.dumps(vector, indent=2) + "\n")
    print(f"wrote {OUT} (account {vector['addresses']['account']})")


if __name__ == "__main__":
    main()
