"""The relayer's claim batches: the queued gasless claims sent in one transaction.

`service.claim` stores an accepted claim as a queued request. The relayer's job
(every few seconds, on the leader) takes the queued claims in arrival order and sends
them as one MultiTokenPushPull.pullRewardsForMany(tokens, claims) once the oldest has
waited RELAYER_CLAIM_WAIT_S (0: at the job's next run) or they fill one: the transaction's
base cost and the cold contract and token accounts are paid once for all of them
(measured in `bench/gas.py`, "claim_batches"). The transaction is owned by the batch's
first request, its carrier; every request it carries names that carrier, set in the
commit that stores the signed bytes. A crash before that commit leaves the claims
queued for the next batch; after it, the tracker re-sends the same bytes.

A claim pays whatever is pending when the transaction runs (nothing twice: the
contract clears what it pays). A batch the node would revert is split: each claim is
simulated alone; one that reverts alone fails with `claim_would_revert` and its gas
charges are released, the others go in the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils import to_checksum_address

from backend.chain.nonces import sender_lock
from backend.core.locks import advisory_lock
from backend.relayer import chain, outcomes, repository
from backend.relayer.models import RelayRequest, RelayStatus
from backend.relayer.relay import RelayerEnv, ensure_funded, relayer_lock
from backend.settlement import faults
from backend.settlement.alerts import log
from backend.settlement.transactions import CLAIM, Sender, broadcast, estimate_gas, store_relay

# MultiTokenPushPull.MAX_CLAIMS: claim words (a wallet's token) in one call
MAX_CLAIM_WORDS = 128
# the most gas the requests of one batch may have reserved (each its own claim's estimate)
MAX_BATCH_GAS = 6_000_000


def claim_words(claims: Sequence[tuple[str, Sequence[str]]]) -> tuple[list[str], list[int]]:
    """pullRewardsForMany's arguments for (wallet, its tokens) claims: the tokens, and a
    word per claimed token of each wallet, tokenIndex << 160 | wallet."""
    tokens: list[str] = []
    words: list[int] = []
    for wallet, claimed in claims:
        for each in claimed:
            token = to_checksum_address(each)
            if token not in tokens:
                tokens.append(token)
            words.append(tokens.index(token) << 160 | int(wallet, 16))
    return tokens, words


def claims_of(requests: Sequence[RelayRequest]) -> list[tuple[str, list[str]]]:
    return [(request.wallet, [item["token"] for item in request.payload]) for request in requests]


def fit(requests: Sequence[RelayRequest]) -> list[RelayRequest]:
    """The longest prefix of `requests` one call takes: at most MAX_CLAIM_WORDS claim
    words, chain.MAX_TOKENS tokens and MAX_BATCH_GAS reserved (the first always fits)."""
    taken: list[RelayRequest] = []
    tokens: set[str] = set()
    words = gas = 0
    for request in requests:
        mine = {str(item["token"]).lower() for item in request.payload}
        over = (
            words + len(request.payload) > MAX_CLAIM_WORDS
            or len(tokens | mine) > chain.MAX_TOKENS
            or gas + request.gas_limit > MAX_BATCH_GAS
        )
        if taken and over:
            break
        taken.append(request)
        tokens |= mine
        words += len(request.payload)
        gas += request.gas_limit
    return taken


def _call(env: RelayerEnv, sender: Sender, requests: Sequence[RelayRequest]) -> dict[str, Any]:
    address = env.settings.push_pull_address
    assert address is not None
    contract = chain.push_pull(sender.reader.w3, address)
    data = chain.calldata(contract, "pullRewardsForMany", list(claim_words(claims_of(requests))))
    return {"from": sender.signer.address, "to": address, "data": data, "value": 0}


async def _sendable(
    env: RelayerEnv, sender: Sender, requests: list[RelayRequest]
) -> tuple[list[RelayRequest], dict[RelayRequest, str]]:
    """(the requests whose batch the node would run, {request: revert reason} of those
    that revert alone)."""
    refused: dict[RelayRequest, str] = {}
    while requests:
        if await sender.reader.simulate(_call(env, sender, requests)) is None:
            return requests, refused
        alone = {
            request: await sender.reader.simulate(_call(env, sender, [request]))
            for request in requests
        }
        failing = {request: reason for request, reason in alone.items() if reason is not None}
        refused.update(failing)
        if not failing:  # each runs alone, not together: send the first now, the rest next
            return requests[:1], refused
        requests = [request for request in requests if request not in failing]
    return [], refused


async def send_queued_claims(env: RelayerEnv) -> int:
    """Send the oldest queued claims in one transaction once they are due (the oldest has
    waited RELAYER_CLAIM_WAIT_S, or they fill a transaction); how many it carries."""
    if not env.settings.push_pull_address:
        return 0
    sender = await env.sender()
    wait_s = env.settings.relayer_claim_wait_s
    async with env.ctx.sessions() as session:  # the common case, without taking a lock
        if not await repository.claims_due(session, sender.chain_id, wait_s, MAX_CLAIM_WORDS):
            return 0
    async with (
        advisory_lock(env.ctx.engine, sender_lock(sender.chain_id, sender.signer.address)),
        env.ctx.sessions() as session,
    ):
        await relayer_lock(session, sender.chain_id)
        waiting = fit(await repository.unsent_claims(session, sender.chain_id, MAX_CLAIM_WORDS))
        batch, refused = await _sendable(env, sender, waiting)
        for request, reason in refused.items():
            await outcomes.fail_unsent(
                session, request, "claim_would_revert", f"the claim would revert: {reason}"
            )
        if not batch:
            await session.commit()
            return 0
        call = _call(env, sender, batch)
        gas = await estimate_gas(sender, call)
        await ensure_funded(sender, gas)
        carrier = batch[0]
        for request in batch:
            request.carrier_id = carrier.id
        row = await store_relay(session, sender, carrier.id, call["to"], call["data"], gas, CLAIM)
        await session.commit()
        faults.crash_point("tx_stored")
        problem = await broadcast(sender, row)
        if problem is None:
            for request in batch:
                request.status = RelayStatus.SENT
            await session.commit()
    faults.crash_point("tx_sent")
    log.info(
        "claims batched",
        extra={"claims": len(batch), "tx_hash": row.tx_hash, "refused": len(refused)},
    )
    return len(batch)
