"""`cascade products create`: the operator's way to create a product and its first key."""

from __future__ import annotations

import json

from click.testing import CliRunner
from eth_utils import keccak

from backend.cli.main import cli
from tests.factories import wallet
from tests.products.fixtures import domain


def _run(settings, *args: str):
    env = {
        "DATABASE_URL": settings.database_url,
        "RPC_URL": settings.rpc_url,
        "SECRET_KEY": "x" * 32,
        "DATA_DIR": str(settings.data_dir),
        "LOG_FORMAT": "console",
    }
    return CliRunner(mix_stderr=False).invoke(cli, ["products", "create", *args], env=env)


def test_create__json__prints_product_id_and_a_working_key(settings, clean_db):
    primary, owner = domain(), wallet()

    result = _run(settings, "--name", "Shop", "--domain", primary, "--owner", owner, "--json")

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["product_id"] == "0x" + keccak(text=primary).hex()
    assert body["api_key"].startswith("csk_")


def test_create__existing_domain__fails_with_the_code(settings, clean_db):
    primary = domain()
    assert _run(settings, "--name", "A", "--domain", primary, "--owner", wallet()).exit_code == 0
    result = _run(settings, "--name", "B", "--domain", primary, "--owner", wallet())
    assert result.exit_code == 1
    assert "product_exists" in result.stderr


def test_create__bad_owner__fails_cleanly(settings, clean_db):
    result = _run(settings, "--name", "A", "--domain", domain(), "--owner", "nope")
    assert result.exit_code == 2
    assert "owner" in result.stderr
