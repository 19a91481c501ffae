"""Indexer configuration: derived from the shared Settings plus INDEXER_* variables.

The shared `Settings` (backend/core/config.py) holds what every process needs;
knobs only the indexer reads live here, each documented where it is declared.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from backend.core.config import ConfigError, Settings

CHECKPOINT_NAME = "main"


@dataclass(frozen=True)
class IndexerSettings:
    chain_id: int
    push_pull: str
    bank_factory: str
    # First block to index on a fresh database; None = the contracts' deployment block.
    start_block: int | None = None
    # Events in the newest `finality_depth` blocks are served as unconfirmed.
    finality_depth: int = 2
    # How many recent block hashes are kept; a reorg deeper than this is fatal.
    max_reorg_depth: int = 128
    # /health/ready turns not-ready when head - checkpoint exceeds this.
    max_lag_blocks: int = 50
    # eth_getLogs range: starting size, and bounds of the adaptive size.
    initial_range: int = 2_000
    max_range: int = 100_000
    # A range yielding fewer logs than this lets the next range grow.
    target_logs_per_range: int = 20_000
    # Seconds between polls once caught up with the head.
    poll_interval_s: float = 1.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        chain_id: int,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> IndexerSettings:
        """Read INDEXER_* from the environment on top of the shared settings."""
        env = os.environ if environ is None else environ
        settings.require("push_pull_address", "bank_factory_address")
        finality = _int(env, "INDEXER_FINALITY_DEPTH", settings.confirmations, minimum=0)
        values: dict[str, object] = {
            "chain_id": chain_id,
            "push_pull": settings.push_pull_address,
            "bank_factory": settings.bank_factory_address,
            "start_block": _optional_int(env, "INDEXER_START_BLOCK"),
            "finality_depth": finality,
            "max_reorg_depth": _int(
                env, "INDEXER_MAX_REORG_DEPTH", max(128, 2 * finality), minimum=max(1, finality)
            ),
            "max_lag_blocks": _int(env, "INDEXER_MAX_LAG_BLOCKS", 50, minimum=0),
            "initial_range": _int(env, "INDEXER_BLOCK_RANGE", 2_000, minimum=1),
            "max_range": _int(env, "INDEXER_MAX_BLOCK_RANGE", 100_000, minimum=1),
        }
        values.update(overrides or {})
        return cls(**values)  # type: ignore[arg-type]


def finality_depth(settings: Settings, environ: Mapping[str, str] | None = None) -> int:
    """The confirmed depth alone, for readers (wallet views) that need nothing else."""
    env = os.environ if environ is None else environ
    return _int(env, "INDEXER_FINALITY_DEPTH", settings.confirmations, minimum=0)


def max_lag_blocks(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    return _int(env, "INDEXER_MAX_LAG_BLOCKS", 50, minimum=0)


def _optional_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    return _int(env, name, 0, minimum=0)


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be >= {minimum}, got {value}")
    return value
