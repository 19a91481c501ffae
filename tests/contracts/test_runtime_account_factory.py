"""Embedded defaults deploy the passkey account factory with the core contracts, and add it
to a DATA_DIR recorded before passkey accounts existed (keeping the banks' contracts)."""

from __future__ import annotations

import json

import pytest

from backend.chain import connect, contract
from backend.chain.deploy import deploy_core
from backend.core.config import ANVIL_DEV_KEYS, load_settings
from backend.runtime.anvil import EmbeddedAnvil
from backend.runtime.contracts import ensure_core_contracts


@pytest.fixture
def anvil():
    node = EmbeddedAnvil()
    node.start()
    yield node
    node.stop()


def _code(w3, address: str) -> bytes:
    return bytes(w3.eth.get_code(address))


def test_embedded_chain__deploys_and_records_the_account_factory(tmp_path, anvil):
    settings = load_settings(data_dir=tmp_path, database_url=None, rpc_url=None)
    ready = ensure_core_contracts(settings, anvil.url)
    w3 = connect(anvil.url)
    assert ready.account_factory_address and _code(w3, ready.account_factory_address)
    factory = contract(w3, "PasskeyAccountFactory", ready.account_factory_address)
    assert _code(w3, factory.functions.implementation().call())
    recorded = json.loads((tmp_path / "contracts.json").read_text())
    assert recorded["account_factory"] == ready.account_factory_address
    again = ensure_core_contracts(settings, anvil.url)
    assert again.account_factory_address == ready.account_factory_address


def test_record_without_account_factory__adds_one_and_keeps_the_rest(tmp_path, anvil):
    w3 = connect(anvil.url)
    old = deploy_core(w3, ANVIL_DEV_KEYS[0])
    (tmp_path / "contracts.json").write_text(
        json.dumps(
            {"chain_id": 31337, "push_pull": old["push_pull"], "bank_factory": old["bank_factory"]}
        )
    )
    settings = load_settings(data_dir=tmp_path, database_url=None, rpc_url=None)
    ready = ensure_core_contracts(settings, anvil.url)
    assert ready.push_pull_address == old["push_pull"]
    assert ready.bank_factory_address == old["bank_factory"]
    assert ready.account_factory_address not in (None, old["account_factory"])
    assert _code(w3, ready.account_factory_address)
    recorded = json.loads((tmp_path / "contracts.json").read_text())
    assert recorded["push_pull"] == old["push_pull"]
    assert recorded["account_factory"] == ready.account_factory_address
