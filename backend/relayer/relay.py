"""Send one relayed transaction through the settlement machinery, exactly once.

Under the relayer account's sender lock (the same lock the settlement pusher and
admin sends take, so a shared key never hands out a nonce twice) and a relayer
transaction lock, the policy is checked once more against what is committed, then
the relay request, its gas charges and its signed transaction are committed
together before the broadcast. A crash after that commit leaves bytes the tracker
re-sends (same hash); a crash before it leaves nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.chain.nonces import sender_lock
from backend.core.config import Settings
from backend.core.context import AppContext
from backend.core.errors import Unavailable
from backend.core.locks import advisory_lock
from backend.relayer.models import RelayCharge, RelayRequest, RelayStatus
from backend.settlement import faults
from backend.settlement.alerts import log
from backend.settlement.options import SettlementOptions
from backend.settlement.signer import Signer
from backend.settlement.transactions import Sender, broadcast, store_relay


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RelayerEnv:
    """What the relayer needs besides a request's session; one per app (tests swap parts)."""

    ctx: AppContext
    clock: Callable[[], datetime] = _utcnow
    options: SettlementOptions | None = None  # fee bumps, gas margin (SETTLEMENT_* by default)
    _sender: Sender | None = field(default=None, init=False, repr=False)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    async def sender(self) -> Sender:
        """The relayer account (RELAYER_KEY, else the signer) as a settlement Sender."""
        if self._sender is None:
            from backend.settlement.job import make_sender

            signer = Signer(Account.from_key(self.settings.effective_relayer_key()))
            try:
                self._sender = await make_sender(self.ctx, signer, self.options)
            except Exception as exc:  # no node: nothing can be relayed
                raise Unavailable(
                    "the chain node is unreachable", code="chain_unavailable"
                ) from exc
        return self._sender


@dataclass(frozen=True)
class Planned:
    """A relayed call the policy accepted, ready to be stored and sent."""

    kind: str
    wallet: str
    target: str
    data: bytes
    gas_limit: int
    payload: Any
    charges: dict[str, int] = field(default_factory=dict)
    operation_id: uuid.UUID | None = None


# Re-checks the policy inside the locks: raises a refusal, or returns a request that
# already answers this one (an in-flight claim, an operation relayed before).
Recheck = Callable[[AsyncSession], Awaitable[RelayRequest | None]]


async def ensure_funded(sender: Sender, gas_limit: int) -> None:
    """Refuse before storing anything when the relayer cannot pay for this transaction."""
    max_fee, _ = await sender.reader.fees()
    balance = int(await sender.reader.w3.eth.get_balance(sender.signer.address))
    if balance < gas_limit * max_fee:
        log.error(
            "relayer account cannot pay gas",
            extra={"relayer": sender.signer.address, "balance": balance},
        )
        raise Unavailable(
            "the relayer cannot pay gas right now; try again later", code="relayer_unfunded"
        )


async def submit(env: RelayerEnv, planned: Planned, recheck: Recheck) -> tuple[RelayRequest, str]:
    """Store and broadcast `planned` once; returns the request and its transaction hash."""
    sender = await env.sender()
    await ensure_funded(sender, planned.gas_limit)
    address = sender.signer.address
    async with (
        advisory_lock(env.ctx.engine, sender_lock(sender.chain_id, address)),
        env.ctx.sessions() as session,
    ):
        await relayer_lock(session, sender.chain_id)
        existing = await recheck(session)
        if existing is not None:
            await session.rollback()
            return existing, await _hash_of(env, existing)
        relay = await _store_request(session, sender, planned, carried=True)
        row = await store_relay(
            session, sender, relay.id, planned.target, planned.data, planned.gas_limit, planned.kind
        )
        await session.commit()
        faults.crash_point("tx_stored")
        problem = await broadcast(sender, row)
        if problem is None:
            relay.status = RelayStatus.SENT
            await session.commit()
    faults.crash_point("tx_sent")
    return relay, row.tx_hash


async def enqueue(env: RelayerEnv, planned: Planned, recheck: Recheck) -> RelayRequest:
    """Store `planned` for the relayer's next batch (backend.relayer.batches sends it).

    Under the relayer transaction lock, as `submit`: the policy's re-check and the
    stored request are one step, and the batch job takes the same lock.
    """
    sender = await env.sender()
    await ensure_funded(sender, planned.gas_limit)
    async with env.ctx.sessions() as session:
        await relayer_lock(session, sender.chain_id)
        existing = await recheck(session)
        if existing is not None:
            await session.rollback()
            return existing
        relay = await _store_request(session, sender, planned, carried=False)
        await session.commit()
    return relay


async def relayer_lock(session: AsyncSession, chain_id: int) -> None:
    """The relayer's transaction lock: policy re-checks, stored requests and batches in turn."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"),
        {"n": f"cascade:relayer:{chain_id}"},
    )


async def _store_request(
    session: AsyncSession, sender: Sender, planned: Planned, *, carried: bool
) -> RelayRequest:
    """The request and its gas charges; `carried`: its own transaction follows (a send)."""
    relay = RelayRequest(
        id=uuid.uuid4(),
        chain_id=sender.chain_id,
        kind=planned.kind,
        wallet=planned.wallet,
        status=RelayStatus.QUEUED,
        relayer=sender.signer.address,
        target=planned.target,
        payload=planned.payload,
        operation_id=planned.operation_id,
        gas_limit=planned.gas_limit,
    )
    if carried:
        relay.carrier_id = relay.id
    session.add(relay)
    await session.flush()
    session.add_all(
        RelayCharge(relay_id=relay.id, product_id=product, gas=gas)
        for product, gas in planned.charges.items()
        if gas > 0
    )
    return relay


async def _hash_of(env: RelayerEnv, relay: RelayRequest) -> str:
    from backend.relayer.repository import newest_tx_hash

    if relay.tx_hash:
        return relay.tx_hash
    async with env.ctx.sessions() as session:
        return await newest_tx_hash(session, relay) or ""
