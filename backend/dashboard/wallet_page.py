"""GET /wallet: what a wallet holds and can claim, per token, with its history.

Without JavaScript the page renders the rewards for `?address=0x…` on the
server (the same wallet services as /api/wallet). With JavaScript
(static/wallet-account.js, static/wallet.js) a user without any crypto wallet
creates one from a passkey (its PasskeyAccount) or signs in with it, sees the
account's token balances, claims without gas (the relayer's next batch of claims,
pullRewardsForMany) and sends tokens with a passkey signature the account checks
on-chain. An injected EIP-1193 wallet still connects and claims itself with
MultiTokenPushPull.pullRewards.
"""

from __future__ import annotations

from typing import Any

import msgspec
from eth_utils import keccak
from litestar import Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.relying_party import relying_party
from backend.core.context import AppContext
from backend.core.errors import InvalidInput
from backend.dashboard.web import render
from backend.settlement import cadence
from backend.wallets import service
from backend.wallets.explorer import explorer_settings, tx_url
from indexer.settings import finality_depth

PULL_REWARDS_SELECTOR = "0x" + keccak(text="pullRewards(address[])")[:4].hex()
HISTORY_PAGE = 20


@get("/wallet", include_in_schema=False)
async def wallet_page(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    app_context: AppContext,
    address: str = "",
) -> Response[str]:
    context: dict[str, Any] = {
        "address": "",
        "snapshot": None,
        "history": None,
        "problem": "",
        "meta": {},
    }
    status = 200
    if address:
        try:
            wallet = service.normalize_wallet(address)
        except InvalidInput as exc:
            context["problem"] = exc.message
            status = 422
        else:
            chain_id = await service.chain_id_of(app_context)
            depth = finality_depth(app_context.settings)
            timing = cadence.Timing.of(app_context.settings)
            context["address"] = wallet
            snapshot = await service.rewards_snapshot(
                db_session, chain_id=chain_id, wallet=wallet, confirmed_depth=depth, timing=timing
            )
            history = await service.history(
                db_session,
                chain_id=chain_id,
                wallet=wallet,
                limit=HISTORY_PAGE,
                offset=0,
                confirmed_depth=depth,
                timing=timing,
            )
            # builtins: the templates need the tagged union's `kind`, which is not an attribute
            context["snapshot"] = msgspec.to_builtins(snapshot)
            context["history"] = msgspec.to_builtins(history)
            context["meta"] = {t.token: t for t in snapshot.tokens}
    return render(
        request,
        "wallet.html",
        status=status,
        viewer=None,
        push_pull=app_context.settings.push_pull_address or "",
        chain_id=app_context.settings.chain_id or "",
        pull_selector=PULL_REWARDS_SELECTOR,
        explorer=explorer_settings().explorer_url or "",
        # passkey ceremonies name the RP id the backend verifies (RP_ID or the public host)
        rp_id=relying_party(app_context.settings).id,
        passkey_wallets=bool(app_context.settings.account_factory_address),
        tx_url=tx_url,
        **context,
    )


route_handlers = [wallet_page]
