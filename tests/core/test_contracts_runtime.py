"""Embedded chains get the core contracts deployed once; given addresses are checked."""

from __future__ import annotations

import json

import pytest

from backend.core.config import ConfigError, load_settings
from backend.runtime.anvil import EmbeddedAnvil, rpc_call
from backend.runtime.contracts import ensure_core_contracts


@pytest.fixture
def fresh_anvil():
    node = EmbeddedAnvil()
    node.start()
    yield node
    node.stop()


def _code(url: str, address: str) -> str:
    return rpc_call(url, "eth_getCode", [address, "latest"])


def test_embedded_chain__deploys_once_then_reuses(tmp_path, fresh_anvil, monkeypatch):
    settings = load_settings(data_dir=tmp_path, database_url=None, rpc_url=None)
    first = ensure_core_contracts(settings, fresh_anvil.url)
    assert first.push_pull_address and first.bank_factory_address
    assert _code(fresh_anvil.url, first.push_pull_address) != "0x"
    assert _code(fresh_anvil.url, first.bank_factory_address) != "0x"
    recorded = json.loads((tmp_path / "contracts.json").read_text())
    assert recorded["push_pull"] == first.push_pull_address

    nonce_before = rpc_call(
        fresh_anvil.url,
        "eth_getTransactionCount",
        ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "latest"],
    )
    second = ensure_core_contracts(settings, fresh_anvil.url)
    nonce_after = rpc_call(
        fresh_anvil.url,
        "eth_getTransactionCount",
        ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "latest"],
    )
    assert second.push_pull_address == first.push_pull_address
    assert nonce_after == nonce_before  # nothing redeployed


def test_recorded_addresses_without_code__redeploy(tmp_path, fresh_anvil):
    (tmp_path / "contracts.json").write_text(
        json.dumps(
            {"chain_id": 31337, "push_pull": "0x" + "11" * 20, "bank_factory": "0x" + "22" * 20}
        )
    )
    settings = load_settings(data_dir=tmp_path, database_url=None, rpc_url=None)
    deployed = ensure_core_contracts(settings, fresh_anvil.url)
    assert deployed.push_pull_address != "0x" + "11" * 20
    assert _code(fresh_anvil.url, deployed.push_pull_address) != "0x"


def test_given_address_without_code__fails_naming_the_variable(tmp_path, fresh_anvil):
    settings = load_settings(
        data_dir=tmp_path,
        rpc_url=fresh_anvil.url,
        push_pull_address="0x" + "33" * 20,
        bank_factory_address="0x" + "44" * 20,
    )
    with pytest.raises(ConfigError, match="PUSH_PULL_ADDRESS"):
        ensure_core_contracts(settings, fresh_anvil.url)
