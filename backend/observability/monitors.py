"""The signer-balance check of the operations monitor (gauge + `signer_balance_low`).

The monitor job itself (`backend.runtime.monitors`) runs this with each domain's own
check: unconfirmed batches in `settlement.health`, indexer lag in `indexer.jobs`.
Each check raises its alert while the condition holds and resolves it once it is
gone, so the dashboard and /health/ready show the present, not history.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.observability import alerts, metrics

SIGNER_MIN_ENV = "SIGNER_BALANCE_MIN_WEI"
DEFAULT_SIGNER_MIN_WEI = 10**16  # 0.01 of the native token: a few hundred pushes on an L2


def signer_min_wei() -> int:
    """SIGNER_BALANCE_MIN_WEI, the default above when unset."""
    value = int(os.environ.get(SIGNER_MIN_ENV) or DEFAULT_SIGNER_MIN_WEI)
    if value < 0:
        raise ValueError(f"{SIGNER_MIN_ENV} must be >= 0")
    return value


async def check_signer_balance(ctx: AppContext, session: AsyncSession) -> dict[str, Any]:
    """The signer's native balance as a gauge; `signer_balance_low` below SIGNER_BALANCE_MIN_WEI."""
    from eth_account import Account

    min_wei = signer_min_wei()
    address = Account.from_key(ctx.settings.effective_signer_key()).address
    balance = int(await ctx.w3.eth.get_balance(address))
    metrics.SIGNER_BALANCE.set(balance)
    low = balance < min_wei
    if low:
        await alerts.raise_alert(
            session,
            alerts.SIGNER_BALANCE_LOW,
            "critical",
            f"signer {address} holds {balance} wei, below {min_wei}: "
            "fund it or settlement stops paying gas",
            subject=f"signer:{address}",
            details={"balance_wei": str(balance), "min_wei": str(min_wei)},
        )
    else:
        await alerts.resolve_alert(session, alerts.SIGNER_BALANCE_LOW, f"signer:{address}")
    return {"signer": address, "balance_wei": str(balance), "low": low}
