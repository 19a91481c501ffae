"""HTTP for the relayer: gasless claims, passkey sends, relay status.

Every endpoint needs a session (bearer or cookie) and acts for that session's
wallet only. Creating POSTs honour `Idempotency-Key`; without it a repeated claim
still answers the claim already in flight, and a repeated send the relay already
made for that operation.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Dependency
from litestar.status_codes import HTTP_202_ACCEPTED

from backend.auth.principal import Principal
from backend.core.context import AppContext
from backend.core.errors import Forbidden
from backend.core.idempotency import created, idempotent
from backend.relayer import sends, service
from backend.relayer.relay import RelayerEnv
from backend.relayer.schemas import (
    ClaimIn,
    PreparedSend,
    PrepareSendIn,
    RelayAccepted,
    RelayRead,
    SendIn,
)
from backend.wallets.explorer import tx_url

RelayerEnvDep = Annotated[RelayerEnv, Dependency(skip_validation=True)]


def provide_relayer_env(state: State, app_context: AppContext) -> RelayerEnv:
    """One RelayerEnv per app, built on first use (tests reach it as app.state.relayer_env)."""
    env = state.get("relayer_env")
    if env is None:
        env = RelayerEnv(app_context)
        state["relayer_env"] = env
    return env  # type: ignore[no-any-return]


def session_wallet(principal: Principal) -> str:
    """The wallet a session acts for; API keys cannot spend anyone's relayer budget."""
    if principal.kind != "session" or principal.wallet is None:
        raise Forbidden("this needs the wallet's session, not an API key", code="session_required")
    return principal.wallet


def accepted(result: service.RelayView) -> RelayAccepted:
    return RelayAccepted(relay_id=result.relay_id, status=result.status, tx_hash=result.tx_hash)


@post(
    "/claim",
    status_code=HTTP_202_ACCEPTED,
    summary="Claim the session wallet's pending rewards, queued for the relayer's next batch",
    responses=created(RelayAccepted, 202),
)
async def claim(
    request: Request[Any, Any, Any],
    data: ClaimIn,
    principal: Principal,
    app_context: AppContext,
    relayer_env: RelayerEnvDep,
) -> Response[bytes]:
    """Queued for the relayer's next pullRewardsForMany batch; 202 with the relay to poll."""
    wallet = session_wallet(principal)

    async def work() -> tuple[int, Any]:
        return HTTP_202_ACCEPTED, accepted(await service.claim(relayer_env, wallet, data.tokens))

    return await idempotent(request, app_context.sessions, principal.actor, work)


@get("/relays/{relay_id:str}", summary="Where a relayed claim or send is")
async def relay_status(
    relay_id: str, principal: Principal, relayer_env: RelayerEnvDep
) -> RelayRead:
    """queued | sent | mined | failed, the transaction hash and its explorer link."""
    result = await service.relay_status(relayer_env, session_wallet(principal), relay_id)
    return RelayRead(
        relay_id=result.relay_id,
        kind=result.kind,
        status=result.status,
        tx_hash=result.tx_hash,
        explorer_url=tx_url(result.tx_hash),
        error=result.error,
    )


@post(
    "/send/prepare",
    status_code=200,
    summary="Prepare a passkey send: the calls, nonce, deadline and the digest to sign",
)
async def prepare_send(
    data: PrepareSendIn, principal: Principal, relayer_env: RelayerEnvDep
) -> PreparedSend:
    """An ERC-20 transfer from the session's passkey account; sign `challenge` with it."""
    wallet = session_wallet(principal)
    return await sends.prepare_send(relayer_env, wallet, data.token, data.to, data.amount)


@post(
    "/send",
    status_code=HTTP_202_ACCEPTED,
    summary="Relay a prepared send with the passkey's assertion over its digest",
    responses=created(RelayAccepted, 202),
)
async def send(
    request: Request[Any, Any, Any],
    data: SendIn,
    principal: Principal,
    app_context: AppContext,
    relayer_env: RelayerEnvDep,
) -> Response[bytes]:
    """execute() (or createAndExecute() for a first send) relayed; the chain checks the passkey."""
    wallet = session_wallet(principal)

    async def work() -> tuple[int, Any]:
        result = await sends.send(relayer_env, wallet, data.operation_id, data.credential)
        return HTTP_202_ACCEPTED, accepted(result)

    return await idempotent(request, app_context.sessions, principal.actor, work)


relayer_router = Router(
    path="/api/wallet",
    route_handlers=[claim, relay_status, prepare_send, send],
    dependencies={"relayer_env": Provide(provide_relayer_env, sync_to_thread=False)},
    tags=["wallet"],
)

route_handlers = [relayer_router]
