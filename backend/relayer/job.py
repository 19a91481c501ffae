"""The relayer's job: send the queued claims' batch, track relayed transactions until
mined, and record each outcome.

Its own job rather than the push cycle's: the push cycle runs every PUSH_INTERVAL_S
(minutes) while a user waits on a claim, and RELAYER_KEY may be another account
than the signer. When both keys are the same account each tracker walks only its
own slots (this one the relays', passing `outcomes`), so settlement never needs
to know the relayer.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import exists, select, update

from backend.core.context import AppContext
from backend.core.scheduler import Scheduler
from backend.observability.metrics import JOB_DURATION
from backend.relayer import outcomes
from backend.relayer.batches import send_queued_claims
from backend.relayer.models import RelayRequest, RelayStatus
from backend.relayer.relay import RelayerEnv
from backend.settlement.models import SettlementTransaction as Tx
from backend.settlement.transactions import MINED, SENT, TrackResult, track

TRACK_INTERVAL_S = 3

log = logging.getLogger(__name__)


async def track_relays(ctx: AppContext, env: RelayerEnv | None = None) -> TrackResult:
    """One pass: send the queued claims' batch, undo what a reorg took away, then walk the
    relayer's open relay slots."""
    env = env or RelayerEnv(ctx)
    try:
        await send_queued_claims(env)
    except Exception:  # e.g. the relayer cannot pay: the claims wait, tracking goes on
        log.exception("the queued claims could not be sent")
    sender = await env.sender()
    chain_nonce = await sender.reader.account_nonce(sender.signer.address, "latest")
    async with ctx.sessions() as session:
        # A mined relay transaction at or above the account's nonce left the chain in a
        # reorg: its slot reopens (the tracker re-sends the same bytes), its request waits.
        await session.execute(
            update(Tx)
            .where(
                Tx.sender == sender.signer.address,
                Tx.relay_id.is_not(None),
                Tx.status == MINED,
                Tx.account_nonce >= chain_nonce,
            )
            .values(status=SENT)
        )
        await session.execute(
            update(RelayRequest)
            .where(
                RelayRequest.status.in_([RelayStatus.MINED, RelayStatus.FAILED]),
                ~exists(
                    select(Tx.id).where(Tx.relay_id == RelayRequest.carrier_id, Tx.status == MINED)
                ),
                exists(
                    select(Tx.id).where(Tx.relay_id == RelayRequest.carrier_id, Tx.status == SENT)
                ),
            )
            .values(
                status=RelayStatus.SENT,
                gas_used=None,
                tx_hash=None,
                block_number=None,
                mined_at=None,
                error_code=None,
                error_message=None,
            )
        )
        await session.commit()
    return await track(ctx.sessions, sender, relay=outcomes)


async def run_relay_job(ctx: AppContext) -> None:
    started = time.perf_counter()
    try:
        await track_relays(ctx)
    finally:
        JOB_DURATION.labels(job="relayer_track").observe(time.perf_counter() - started)


def register_jobs(scheduler: Scheduler) -> None:
    """Claim batches and relay tracking every few seconds, on the leader replica only (a
    claim waits at most TRACK_INTERVAL_S for its batch)."""
    if scheduler.ctx.settings.push_pull_address:
        scheduler.add_job("relayer.track", TRACK_INTERVAL_S, run_relay_job, leader_only=True)
