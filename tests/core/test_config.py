"""Settings: read from the environment, validated, secrets masked."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from backend.cli.main import cli
from backend.core.config import ANVIL_DEV_KEYS, ConfigError, load_settings


def test_defaults__are_embedded(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "RPC_URL", "SECRET_KEY", "SIGNER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=tmp_path)
    assert settings.embedded
    assert (settings.push_interval_s, settings.push_cooldown_s) == (300, 60)
    assert (settings.batch_size, settings.confirmations) == (100, 2)
    assert settings.effective_signer_key() == ANVIL_DEV_KEYS[0]
    secret = settings.effective_secret_key
    assert len(secret) == 64
    assert (tmp_path / "secret_key").read_text() == secret  # generated once, kept


def test_environment__is_read_with_fixed_names(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw@db.internal:5432/cascade")
    monkeypatch.setenv("RPC_URL", "https://rpc.example")
    monkeypatch.setenv("PUSH_INTERVAL_S", "30")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://u:pw@db.internal:5432/cascade"
    assert settings.push_interval_s == 30
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert not settings.embedded


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "not-a-port"),
        ("BATCH_SIZE", "0"),
        ("SIGNER_KEY", "0x1234"),
        ("PUSH_PULL_ADDRESS", "0xnot-an-address"),
        ("DATABASE_URL", "mysql://nope"),
    ],
)
def test_invalid_value__fails_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_production__requires_secret_and_signer(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("RPC_URL", "https://rpc.example")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SIGNER_KEY", raising=False)
    settings = load_settings()
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        _ = settings.effective_secret_key
    with pytest.raises(ConfigError, match="SIGNER_KEY"):
        settings.effective_signer_key()


def test_keystore__decrypts_with_password(tmp_path):
    from eth_account import Account

    key = "0x" + "11" * 32
    keystore = tmp_path / "signer.json"
    keystore.write_text(json.dumps(Account.encrypt(key, "pw")))
    settings = load_settings(rpc_url="http://x", signer_keystore=keystore, signer_password="pw")
    assert settings.effective_signer_key() == key
    wrong = load_settings(rpc_url="http://x", signer_keystore=keystore, signer_password="no")
    with pytest.raises(ConfigError, match="SIGNER_PASSWORD"):
        wrong.effective_signer_key()


def test_cascade_config__masks_secrets(monkeypatch):
    key = "0x" + "ab" * 32
    monkeypatch.setenv("SIGNER_KEY", key)
    monkeypatch.setenv("SECRET_KEY", "super-secret-value-123456")
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:hunter2@db/cascade")
    result = CliRunner().invoke(cli, ["config", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert key not in result.output and "super-secret-value" not in result.output
    assert "hunter2" not in result.output
    assert shown["SIGNER_KEY"].startswith("****")
    assert shown["DATABASE_URL"] == "postgresql+asyncpg://user:****@db/cascade"
    assert shown["PUSH_INTERVAL_S"] == 300


def test_cascade_config__invalid_value_exits_2_naming_it(monkeypatch):
    monkeypatch.setenv("CONFIRMATIONS", "-3")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2
    assert "CONFIRMATIONS" in result.output
