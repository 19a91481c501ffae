"""Links to a block explorer for the wallet page and the relayer's answers (EXPLORER_URL)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ExplorerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    explorer_url: str | None = Field(
        None, description="block explorer base URL for transaction links; unset: show hashes"
    )


@cache
def explorer_settings() -> ExplorerSettings:
    """Read once, like the app's Settings (from EXPLORER_URL or .env)."""
    overrides: dict[str, Any] = {}
    return ExplorerSettings(**overrides)


def tx_url(tx_hash: str | None) -> str | None:
    base = explorer_settings().explorer_url
    if not tx_hash or not base:
        return None
    return f"{base.rstrip('/')}/tx/{tx_hash}"
