"""The bytes Chromium's virtual authenticator produced (chromium_vector.json) pass on-chain.

The vector was signed by a browser for an account at a fixed address (see
make_chromium_vector.py); this test deploys the factory there and relays the
browser's assertion unchanged, through encode_auth (which only turns a high s,
as browsers may return, into its low twin).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ape import chain
from eth_utils import to_checksum_address

from backend.accounts import eip712, webauthn
from backend.chain import contract, send
from backend.chain.deploy import P256_PRECOMPILE, deploy_account_factory
from tests.contracts.account.make_chromium_vector import DEPLOYER_KEY, vector_addresses

VECTOR = json.loads(Path(__file__).with_name("chromium_vector.json").read_text())


def _bytes(field: str) -> bytes:
    return bytes.fromhex(VECTOR[field])


def test_vector__is_what_a_browser_signs():
    client_data = json.loads(VECTOR["client_data_json"])
    assert client_data["type"] == "webauthn.get"
    assert client_data["challenge"] == webauthn.challenge_b64url(_bytes("digest"))
    authenticator_data = _bytes("authenticator_data")
    assert authenticator_data[:32] == webauthn.rp_id_hash(VECTOR["rp_id"])
    assert authenticator_data[32] & 0x05 == 0x05  # UP and UV
    assert "HeadlessChrome" in VECTOR["user_agent"]


def test_chromium_assertion__executes_on_chain(stranger):
    w3 = chain.provider.web3
    assert chain.chain_id == VECTOR["chain_id"]
    x, y = int(VECTOR["public_key"]["x"], 16), int(VECTOR["public_key"]["y"], 16)
    rp_id_hash = _bytes("rp_id_hash")
    addresses = VECTOR["addresses"]
    assert vector_addresses(x, y, rp_id_hash) == addresses

    chain.provider.set_balance(addresses["deployer"], 10**18)
    factory_address = deploy_account_factory(w3, DEPLOYER_KEY)
    assert factory_address == addresses["factory"]
    factory = contract(w3, "PasskeyAccountFactory", factory_address)
    account = addresses["account"]
    assert factory.functions.getAddress(x, y, rp_id_hash, 0).call() == account
    calls = [
        (to_checksum_address(t), v, bytes.fromhex(d)) for t, v, d in VECTOR["operation"]["calls"]
    ]
    nonce, deadline = VECTOR["operation"]["nonce"], VECTOR["operation"]["deadline"]
    assert eip712.execute_digest(chain.chain_id, account, calls, nonce, deadline) == _bytes(
        "digest"
    )

    authenticator_data = _bytes("authenticator_data")
    client_data_json = VECTOR["client_data_json"].encode()
    auth = webauthn.encode_auth(authenticator_data, client_data_json, _bytes("signature_der"), x, y)
    r, s = webauthn.signature_rs(_bytes("signature_der"))
    message = hashlib.sha256(authenticator_data + hashlib.sha256(client_data_json).digest())
    verified = w3.eth.call(
        {
            "to": P256_PRECOMPILE,
            "data": message.digest() + b"".join(v.to_bytes(32, "big") for v in (r, s, x, y)),
        }
    )
    assert int.from_bytes(verified, "big") == 1

    chain.provider.set_balance(account, 10**17)  # the counterfactual account holds ETH
    friend = calls[0][0]
    before = w3.eth.get_balance(friend)
    send(
        w3,
        stranger.private_key,
        factory.functions.createAndExecute(x, y, rp_id_hash, 0, calls, nonce, deadline, auth),
    )
    assert w3.eth.get_balance(friend) == before + calls[0][1]
    deployed = contract(w3, "PasskeyAccount", account)
    assert deployed.functions.isNonceUsed(nonce).call() is True
    assert deployed.functions.executeDigest(calls, nonce, deadline).call() == _bytes("digest")
