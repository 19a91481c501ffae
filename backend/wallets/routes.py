"""HTTP for the wallet page: /api/wallet/{address}/rewards, /balances, /history and /stream.

Public reads (no authentication): see backend/wallets/service.py for why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar import Controller, get
from litestar.params import Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.context import AppContext
from backend.settlement import cadence
from backend.wallets import service
from backend.wallets.schemas import Balances, HistoryPage, RewardsSnapshot
from indexer.settings import finality_depth

MAX_PAGE = 100
MAX_STREAM_S = 600  # a stream ends after 10 minutes; EventSource reconnects by itself
RECONNECT_MS = 1_000


class WalletController(Controller):
    path = "/api/wallet/{address:str}"
    tags = ["wallet"]

    @get("/rewards", summary="Claimable, queued and claimed amounts per token")
    async def rewards(
        self, address: str, db_session: AsyncSession, app_context: AppContext
    ) -> RewardsSnapshot:
        wallet = service.normalize_wallet(address)
        return await service.rewards_snapshot(
            db_session,
            chain_id=await service.chain_id_of(app_context),
            wallet=wallet,
            confirmed_depth=finality_depth(app_context.settings),
            timing=cadence.Timing.of(app_context.settings),
        )

    @get("/balances", summary="Token balances the wallet holds, and whether it has code")
    async def balances(
        self, address: str, db_session: AsyncSession, app_context: AppContext
    ) -> Balances:
        wallet = service.normalize_wallet(address)
        return await service.balances(db_session, app_context, wallet)

    @get("/history", summary="Earned rewards and claims, newest first")
    async def history(
        self,
        address: str,
        db_session: AsyncSession,
        app_context: AppContext,
        limit: int = Parameter(default=20, ge=1, le=MAX_PAGE),
        offset: int = Parameter(default=0, ge=0, le=1_000_000),
    ) -> HistoryPage:
        wallet = service.normalize_wallet(address)
        return await service.history(
            db_session,
            chain_id=await service.chain_id_of(app_context),
            wallet=wallet,
            limit=limit,
            offset=offset,
            confirmed_depth=finality_depth(app_context.settings),
            timing=cadence.Timing.of(app_context.settings),
        )

    @get("/stream", summary="Server-Sent Events: a `snapshot` whenever the numbers change")
    async def stream(
        self,
        address: str,
        app_context: AppContext,
        max_seconds: int = Parameter(default=MAX_STREAM_S, ge=1, le=MAX_STREAM_S),
    ) -> ServerSentEvent:
        wallet = service.normalize_wallet(address)  # 422 before the stream starts

        async def messages() -> AsyncIterator[ServerSentEventMessage]:
            first = True
            async for event, data in service.snapshot_events(
                app_context, wallet, lifetime_s=max_seconds
            ):
                if not event:
                    yield ServerSentEventMessage(comment="keep-alive")
                    continue
                yield ServerSentEventMessage(
                    data=data, event=event, retry=RECONNECT_MS if first else None
                )
                first = False

        return ServerSentEvent(
            messages(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )


route_handlers = [WalletController]
