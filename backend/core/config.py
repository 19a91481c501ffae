"""Typed settings, read once from the environment (and an optional `.env`).

Variable names are fixed (see README): scripts, docs and tests agree on them.
"Embedded defaults" means no `DATABASE_URL` / `RPC_URL`: the backend starts its
own PostgreSQL (pgserver) and anvil and may use anvil's well-known dev keys.
"""

from __future__ import annotations

import json
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

# anvil's first two deterministic accounts; usable only against embedded anvil.
ANVIL_DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
)
SECRET_FIELDS = frozenset(
    {"signer_key", "signer_password", "deployer_key", "secret_key", "relayer_key"}
)


class ConfigError(Exception):
    """Configuration cannot be used; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str | None = Field(None, description="PostgreSQL asyncpg URL; unset = embedded")
    rpc_url: str | None = Field(None, description="JSON-RPC endpoint; unset = embedded anvil")
    chain_id: int | None = Field(None, description="expected chain id; read from the node if unset")
    signer_key: str | None = Field(None, description="backend key (distributor, manager, gas)")
    signer_keystore: Path | None = Field(None, description="encrypted keystore JSON of the signer")
    signer_password: str | None = Field(None, description="password of SIGNER_KEYSTORE")
    deployer_key: str | None = Field(None, description="key used by `cascade chain deploy`")
    push_pull_address: str | None = Field(None, description="deployed MultiTokenPushPull")
    bank_factory_address: str | None = Field(None, description="deployed ProductBankFactory")
    account_factory_address: str | None = Field(
        None, description="deployed PasskeyAccountFactory (passkey wallets' addresses)"
    )
    push_interval_s: int = Field(300, ge=1, description="seconds between settlement runs")
    push_cooldown_s: int = Field(60, ge=0, description="age a pending reward needs to be batched")
    batch_size: int = Field(100, ge=1, le=500, description="wallets per signed batch")
    confirmations: int = Field(2, ge=0, description="blocks before a push counts as final")
    secret_key: str | None = Field(None, description="server secret (sessions, range seeds)")
    host: str = Field("127.0.0.1", description="API listen address")
    port: int = Field(8000, ge=0, le=65535, description="API listen port")
    public_url: str | None = Field(None, description="URL users reach the API at")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="allowed CORS origins"
    )
    listener_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="extra origins allowed to embed the listener"
    )
    rp_id: str | None = Field(None, description="WebAuthn relying party id (default: host)")
    log_format: Literal["auto", "json", "console"] = Field("auto", description="log output")
    log_level: str = Field("INFO", description="root log level")
    data_dir: Path = Field(Path(".data"), description="embedded Postgres, anvil state, secrets")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="largest accepted request body")
    interaction_retention_days: int = Field(
        0,
        ge=0,
        le=36_500,
        description="days raw interactions are kept, by whole months; 0 keeps them all "
        "(rewards, orders, referral edges and analytics counts are kept regardless)",
    )
    # The relayer pays gas for gasless claims and passkey sends. Budgets are gas units
    # (not wei), per UTC day, so a fee spike changes the bill but never the service.
    relayer_key: str | None = Field(
        None, description="key that sends and pays for relayed transactions; unset: the signer"
    )
    relayer_daily_gas: int = Field(
        50_000_000, ge=0, description="gas the relayer may spend per UTC day, all products"
    )
    relayer_product_daily_gas: int = Field(
        10_000_000, ge=0, description="gas per UTC day charged to one product's claims"
    )
    relayer_claims_per_wallet_per_day: int = Field(
        3, ge=0, description="gasless claims one wallet may ask for per UTC day"
    )
    relayer_claim_wait_s: float = Field(
        0,
        ge=0,
        le=3600,
        description="longest a gasless claim waits for others to share its transaction "
        "(beyond the relayer job's 3 s)",
    )
    relayer_sends_per_wallet_per_day: int = Field(
        5, ge=0, description="sponsored passkey sends one wallet may ask for per UTC day"
    )
    relayer_min_claim: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: {"*": 1},
        description="smallest pending amount (base units) worth a sponsored claim: an "
        'integer for every token, or JSON {"0xToken": n, "*": default}',
    )

    @field_validator("cors_origins", "listener_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                return json.loads(stripped)
            return [item.strip() for item in stripped.split(",") if item.strip()]
        return value

    @field_validator("relayer_min_claim", mode="before")
    @classmethod
    def _parse_min_claim(cls, value: Any) -> Any:
        """An integer (all tokens) or a JSON object token -> integer, "*" the default."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = {"*": value}
        elif isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("{") else {"*": int(text)}
        if not isinstance(value, dict):
            raise ValueError("must be an integer or a JSON object of token -> integer")
        from eth_utils import is_address, to_checksum_address

        parsed: dict[str, int] = {}
        for token, amount in value.items():
            if token != "*" and not is_address(token):
                raise ValueError(f"{token!r} is not a token address")
            number = int(amount)
            if number < 0:
                raise ValueError("minimums are base units, never negative")
            parsed["*" if token == "*" else to_checksum_address(token)] = number
        parsed.setdefault("*", 1)
        return parsed

    @field_validator("signer_key", "deployer_key", "relayer_key")
    @classmethod
    def _check_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        raw = value[2:] if value.startswith("0x") else value
        if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
            raise ValueError("must be a 32-byte hex private key")
        return "0x" + raw.lower()

    @field_validator("push_pull_address", "bank_factory_address", "account_factory_address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from eth_utils import is_address, to_checksum_address

        if not is_address(value):
            raise ValueError("must be a 20-byte hex address")
        return to_checksum_address(value)

    @field_validator("interaction_retention_days")
    @classmethod
    def _retention_covers_the_lookbacks(cls, value: int) -> int:
        # dedup windows and rate limits read up to a day back; evaluation may lag behind
        if 0 < value < 7:
            raise ValueError("must be 0 (keep everything) or at least 7 days")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value[len("postgresql://") :]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _require_production_secrets(self) -> Settings:
        if self.signer_keystore is not None and self.signer_password is None:
            raise ValueError("SIGNER_PASSWORD is required with SIGNER_KEYSTORE")
        return self

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_chain(self) -> bool:
        return self.rpc_url is None

    @property
    def embedded(self) -> bool:
        """Both pieces embedded: dev keys and a generated secret are allowed."""
        return self.embedded_database and self.embedded_chain

    def require(self, *names: str) -> None:
        """Fail with the variable's name when a command needs a setting that is unset."""
        for name in names:
            if getattr(self, name) is None:
                raise ConfigError(f"{name.upper()} is required for this command")

    def effective_signer_key(self) -> str:
        """The signer's private key: raw, keystore, or anvil's dev key on embedded chain."""
        if self.signer_key:
            return self.signer_key
        if self.signer_keystore is not None:
            from eth_account import Account

            try:
                keyfile = self.signer_keystore.read_text()
            except OSError as exc:
                raise ConfigError(f"SIGNER_KEYSTORE cannot be read: {exc}") from exc
            try:
                key = Account.decrypt(keyfile, self.signer_password or "")
            except ValueError as exc:
                raise ConfigError("SIGNER_PASSWORD does not open SIGNER_KEYSTORE") from exc
            return "0x" + bytes(key).hex()
        if self.embedded_chain:
            return ANVIL_DEV_KEYS[0]
        raise ConfigError("SIGNER_KEY or SIGNER_KEYSTORE is required when RPC_URL is set")

    def effective_relayer_key(self) -> str:
        """RELAYER_KEY, else the signer's key: then relayed sends share its account nonces."""
        return self.relayer_key or self.effective_signer_key()

    def min_claim(self, token: str) -> int:
        """RELAYER_MIN_CLAIM for `token` (checksummed), else its "*" default."""
        return self.relayer_min_claim.get(token, self.relayer_min_claim["*"])

    def effective_deployer_key(self) -> str:
        if self.deployer_key:
            return self.deployer_key
        if self.embedded_chain:
            return ANVIL_DEV_KEYS[0]
        raise ConfigError("DEPLOYER_KEY is required when RPC_URL is set")

    @cached_property
    def effective_secret_key(self) -> str:
        """SECRET_KEY, or on embedded defaults one generated once into the data dir."""
        if self.secret_key:
            return self.secret_key
        if not self.embedded_database:
            raise ConfigError("SECRET_KEY is required when DATABASE_URL is set")
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        path.write_text(value)
        path.chmod(0o600)
        return value

    def describe(self) -> dict[str, Any]:
        """Effective configuration with secrets masked, for `cascade config`."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS and value:
                value = "****" + str(value)[-4:] if len(str(value)) > 12 else "****"
            if name == "database_url" and value:
                value = _mask_url_password(value)
            if isinstance(value, Path):
                value = str(value)
            out[name.upper()] = value
        out["DATABASE_URL"] = out["DATABASE_URL"] or "embedded (pgserver under DATA_DIR)"
        out["RPC_URL"] = out["RPC_URL"] or "embedded (anvil on a free loopback port)"
        return out


def _mask_url_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def load_settings(**overrides: Any) -> Settings:
    """Read settings; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper() or "configuration"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        match = re.search(r'field "([a-z_]+)"', str(exc))
        name = match.group(1).upper() if match else "configuration"
        raise ConfigError(f"invalid configuration: {name}: cannot be parsed") from None
