"""A chain without the P-256 precompile: the account says so instead of "bad auth".

Runs its own anvil with --hardfork cancun (no 0x100) through the backend's web3
deploy path, not ape's osaka node.
"""

from __future__ import annotations

import pytest
from web3.exceptions import ContractLogicError

from backend.accounts import eip712, webauthn
from backend.chain import contract, send
from backend.chain.deploy import deploy_account_factory, has_p256_precompile
from backend.core.config import ANVIL_DEV_KEYS
from backend.runtime.anvil import EmbeddedAnvil
from tests.contracts.account.passkey import RP_ID, SoftPasskey

KEY = ANVIL_DEV_KEYS[0]


@pytest.fixture(scope="module")
def cancun():
    from backend.chain import connect

    node = EmbeddedAnvil(hardfork="cancun")
    node.start()
    yield connect(node.url)
    node.stop()


def test_cancun_chain__execute_and_erc1271_revert_naming_the_precompile(cancun):
    w3 = cancun
    assert has_p256_precompile(w3) is False
    factory = contract(w3, "PasskeyAccountFactory", deploy_account_factory(w3, KEY))
    key = SoftPasskey.generate()
    rp_id_hash = webauthn.rp_id_hash(RP_ID)
    send(w3, KEY, factory.functions.createAccount(key.x, key.y, rp_id_hash, 0))
    address = factory.functions.getAddress(key.x, key.y, rp_id_hash, 0).call()
    account = contract(w3, "PasskeyAccount", address)

    deadline = 2**40
    auth = key.auth(eip712.execute_digest(w3.eth.chain_id, address, [], 0, deadline))
    with pytest.raises(ContractLogicError, match="account: no p256 precompile"):
        account.functions.execute([], 0, deadline, auth).call()
    hash32 = bytes(range(32))
    auth = key.auth(eip712.signed_hash_digest(w3.eth.chain_id, address, hash32))
    with pytest.raises(ContractLogicError, match="account: no p256 precompile"):
        account.functions.isValidSignature(hash32, auth).call()


def test_osaka_chain__has_the_precompile():
    from backend.chain import connect

    node = EmbeddedAnvil()
    node.start()
    try:
        assert node.hardfork == "osaka"
        assert has_p256_precompile(connect(node.url)) is True
    finally:
        node.stop()
