"""`cascade chain deploy`: deploys to RPC_URL with DEPLOYER_KEY, prints addresses."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from web3 import Web3

from backend.chain import contract
from backend.cli.main import cli
from backend.core.config import ANVIL_DEV_KEYS
from backend.runtime.anvil import EmbeddedAnvil


@pytest.fixture(scope="module")
def node():
    anvil = EmbeddedAnvil()
    anvil.start()
    yield anvil
    anvil.stop()


def test_deploy__json_prints_wired_addresses(node, tmp_path, monkeypatch):
    monkeypatch.setenv("RPC_URL", node.url)
    monkeypatch.setenv("DEPLOYER_KEY", ANVIL_DEV_KEYS[1])
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SIGNER_KEY", raising=False)
    signer = "0x" + "ab" * 20
    result = CliRunner().invoke(cli, ["chain", "deploy", "--json", "--signer", signer])
    assert result.exit_code == 0, result.output
    # progress lines go to stderr; CliRunner may mix them in: the JSON is the tail
    addresses = json.loads(result.stdout[result.stdout.index("{") :])
    assert set(addresses) == {"push_pull", "bank_factory", "account_factory"}
    w3 = Web3(Web3.HTTPProvider(node.url))
    push_pull = contract(w3, "MultiTokenPushPull", addresses["push_pull"])
    factory = contract(w3, "ProductBankFactory", addresses["bank_factory"])
    assert push_pull.functions.factory().call() == addresses["bank_factory"]
    assert factory.functions.signer().call() == Web3.to_checksum_address(signer)
    accounts = contract(w3, "PasskeyAccountFactory", addresses["account_factory"])
    assert w3.eth.get_code(accounts.functions.implementation().call()) != b""
    assert not (tmp_path / "contracts.json").exists()  # only embedded runs record


def test_deploy__rpc_url_without_keys_fails_naming_the_variable(node, monkeypatch):
    monkeypatch.setenv("RPC_URL", node.url)
    monkeypatch.delenv("DEPLOYER_KEY", raising=False)
    result = CliRunner().invoke(cli, ["chain", "deploy"])
    assert result.exit_code == 2
    assert "DEPLOYER_KEY" in result.output
