"""`cascade chain deploy` needs the P-256 precompile and deploys the passkey account factory."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from web3 import Web3

from backend.chain import contract
from backend.cli.main import cli
from backend.core.config import ANVIL_DEV_KEYS
from backend.runtime.anvil import EmbeddedAnvil


@pytest.fixture
def node(request):
    anvil = EmbeddedAnvil(hardfork=request.param)
    anvil.start()
    yield anvil
    anvil.stop()


def _deploy(node, tmp_path, monkeypatch):
    monkeypatch.setenv("RPC_URL", node.url)
    monkeypatch.setenv("DEPLOYER_KEY", ANVIL_DEV_KEYS[1])
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIGNER_KEY", ANVIL_DEV_KEYS[0])
    return CliRunner().invoke(cli, ["chain", "deploy", "--json"])


@pytest.mark.parametrize("node", ["cancun"], indirect=True)
def test_deploy__chain_without_p256_precompile__exits_non_zero_naming_the_requirement(
    node, tmp_path, monkeypatch
):
    result = _deploy(node, tmp_path, monkeypatch)
    assert result.exit_code == 1, result.output
    assert "chain has no P-256 precompile at 0x100 (RIP-7212 / EIP-7951)" in result.output
    assert "anvil --hardfork osaka" in result.output
    deployer = Web3.to_checksum_address(Web3().eth.account.from_key(ANVIL_DEV_KEYS[1]).address)
    assert Web3(Web3.HTTPProvider(node.url)).eth.get_transaction_count(deployer) == 0


@pytest.mark.parametrize("node", ["osaka"], indirect=True)
def test_deploy__osaka__prints_the_account_factory_with_its_implementation(
    node, tmp_path, monkeypatch
):
    result = _deploy(node, tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    addresses = json.loads(result.stdout[result.stdout.index("{") :])
    assert set(addresses) == {"push_pull", "bank_factory", "account_factory"}
    w3 = Web3(Web3.HTTPProvider(node.url))
    factory = contract(w3, "PasskeyAccountFactory", addresses["account_factory"])
    implementation = factory.functions.implementation().call()
    assert len(w3.eth.get_code(implementation)) > 0
    assert contract(w3, "PasskeyAccount", implementation).functions.signerCount().call() == 0
