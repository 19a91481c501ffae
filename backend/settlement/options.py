"""Tuning of the push job that the fixed settings table does not name.

Read once from `SETTLEMENT_*` environment variables (e.g. SETTLEMENT_DEADLINE_S);
the cadence itself (PUSH_INTERVAL_S, PUSH_COOLDOWN_S, BATCH_SIZE, CONFIRMATIONS)
stays in backend.core.config.Settings.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettlementOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore")

    deadline_s: int = Field(3600, ge=60, description="lifetime of a signed batch (chain time)")
    replace_after_s: float = Field(
        120.0, ge=0, description="an unmined transaction older than this is fee-bumped"
    )
    fee_bump_bps: int = Field(
        1250, ge=1250, description="replacement raises both fee fields by at least this"
    )
    gas_margin_bps: int = Field(2000, ge=0, description="head-room added to the gas estimate")
    receipt_wait_s: float = Field(
        30.0, ge=0, description="how long one push cycle waits for its own transactions"
    )
    reorg_window_blocks: int = Field(
        256, ge=1, description="pushed batches this close to the head are re-checked for reorgs"
    )
    bundle_gas: int = Field(
        5_000_000,
        ge=0,
        description="gas of one ProductBankFactory.pushMany carrying several banks' batches "
        "(their own estimates summed); 0 sends every batch alone",
    )
    retry_base_s: float = Field(15.0, ge=0, description="first back-off after an unknown error")
    retry_max_s: float = Field(1800.0, ge=0, description="longest back-off")


def load_options(**overrides: Any) -> SettlementOptions:
    """Options from the environment, with explicit overrides (tests, bench)."""
    return SettlementOptions(**overrides)
