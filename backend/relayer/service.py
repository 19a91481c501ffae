"""Gasless claims and the relay status view.

A claim pays out every token the wallet can claim on-chain (or the ones asked for).
An accepted claim is queued (202, status "queued") and the relayer's job sends every
queued claim in one MultiTokenPushPull.pullRewardsForMany transaction that it pays
for (backend.relayer.batches), within a few seconds. Refusals are 4xx with a code
and write nothing, in this order: claim_limit_reached (per wallet per day),
nothing_to_claim (no pending amount), claim_below_minimum (only dust),
product_gas_budget_exhausted (every token's product is out of gas for today),
relayer_budget_exhausted (the relayer's daily gas). A claim already in flight (queued
or sent) for the wallet answers the request instead of a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils import is_address, to_checksum_address
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import Conflict, InvalidInput, NotFound, RateLimited, Unavailable
from backend.relayer import batches, chain, policy, repository
from backend.relayer.models import RelayKind, RelayRequest
from backend.relayer.relay import Planned, RelayerEnv, enqueue
from backend.settlement.transactions import CLAIM, estimate_gas

MAX_GAS = 3_000_000  # a claim above this is refused: something is wrong with a token


@dataclass(frozen=True)
class RelayView:
    relay_id: str
    kind: str
    status: str
    tx_hash: str | None
    error: str | None = None


def limited(code: str, message: str, env: RelayerEnv) -> RateLimited:
    """A refusal the next UTC day lifts (429 with Retry-After)."""
    error = RateLimited(message, retry_after=policy.seconds_to_next_day(env.clock()))
    error.code = code
    return error


def view(relay: RelayRequest, tx_hash: str | None) -> RelayView:
    error = None
    if relay.error_code:
        error = (
            f"{relay.error_code}: {relay.error_message}"
            if relay.error_message
            else relay.error_code
        )
    return RelayView(
        relay_id=str(relay.id),
        kind=relay.kind,
        status=relay.status,
        tx_hash=relay.tx_hash or tx_hash or None,
        error=error,
    )


def _tokens(values: Sequence[str]) -> list[str]:
    tokens: list[str] = []
    for value in values:
        if not isinstance(value, str) or not is_address(value):
            raise InvalidInput(
                "tokens must be 20-byte hex addresses",
                code="invalid_token",
                details={"token": str(value)[:100]},
            )
        tokens.append(str(to_checksum_address(value)))
    unique = list(dict.fromkeys(tokens))
    if len(unique) > chain.MAX_TOKENS:
        raise InvalidInput(f"at most {chain.MAX_TOKENS} tokens per claim", code="too_many_tokens")
    return unique


async def check_budget(
    session: AsyncSession, env: RelayerEnv, chain_id: int, gas: int, charges: dict[str, int]
) -> None:
    """Global then per-product daily gas; raises the refusal."""
    settings = env.settings
    since = policy.day_start(env.clock())
    if await repository.gas_since(session, chain_id, since) + gas > settings.relayer_daily_gas:
        raise limited(
            "relayer_budget_exhausted",
            "the relayer's gas budget for today is spent; try again tomorrow",
            env,
        )
    used = await repository.product_gas_since(session, list(charges), since)
    if policy.over_budget(charges, used, settings.relayer_product_daily_gas):
        raise limited(
            "product_gas_budget_exhausted",
            "the gas budget of the product that paid these rewards is spent for today",
            env,
        )


async def _check_claim_count(
    session: AsyncSession, env: RelayerEnv, chain_id: int, wallet: str
) -> None:
    since = policy.day_start(env.clock())
    count = await repository.requests_since(session, chain_id, wallet, RelayKind.CLAIM, since)
    if count >= env.settings.relayer_claims_per_wallet_per_day:
        raise limited(
            "claim_limit_reached",
            f"at most {env.settings.relayer_claims_per_wallet_per_day} gasless claims per day",
            env,
        )


async def claim(env: RelayerEnv, wallet: str, tokens: Sequence[str] | None) -> RelayView:
    """Claim the wallet's pending rewards for it, gasless; see the module docstring."""
    settings = env.settings
    if not settings.push_pull_address:
        raise Unavailable("no MultiTokenPushPull is configured", code="chain_unavailable")
    sender = await env.sender()
    chain_id = sender.chain_id
    asked = _tokens(tokens) if tokens else None
    async with env.ctx.sessions() as session:
        existing = await repository.in_flight_claim(session, chain_id, wallet)
        if existing is not None:
            return view(existing, await repository.newest_tx_hash(session, existing))
        await _check_claim_count(session, env, chain_id, wallet)
        candidates = asked or await repository.candidate_tokens(session, chain_id, wallet)
    pending = await chain.pending_amounts(
        sender.reader.w3, settings.push_pull_address, candidates, wallet
    )
    worth, dust = policy.split_by_minimum(pending, settings.min_claim)
    if not worth and not dust:
        raise Conflict("nothing to claim: no pending rewards on-chain", code="nothing_to_claim")
    if not worth:
        raise InvalidInput(
            "every pending amount is below the minimum the relayer pays a claim for",
            code="claim_below_minimum",
            details={"pending": {item.token: str(item.amount) for item in dust}},
        )
    async with env.ctx.sessions() as session:
        owners = policy.attribute(
            await repository.pushed_by_product(session, wallet, [item.token for item in worth])
        )
        used = await repository.product_gas_since(
            session, sorted(set(owners.values())), policy.day_start(env.clock())
        )
    planned = await _plan(env, wallet, worth, owners, used)

    async def recheck(session: AsyncSession) -> RelayRequest | None:
        existing = await repository.in_flight_claim(session, chain_id, wallet)
        if existing is not None:
            return existing
        await _check_claim_count(session, env, chain_id, wallet)
        await check_budget(session, env, chain_id, planned.gas_limit, planned.charges)
        return None

    relay = await enqueue(env, planned, recheck)
    async with env.ctx.sessions() as session:
        return view(relay, await repository.newest_tx_hash(session, relay))


async def _plan(
    env: RelayerEnv,
    wallet: str,
    worth: list[policy.Claimable],
    owners: dict[str, str],
    used: dict[str, int],
) -> Planned:
    """The claim's calldata, gas and charges; drops the tokens of products out of gas."""
    sender = await env.sender()
    settings = env.settings
    assert settings.push_pull_address is not None
    contract = chain.push_pull(sender.reader.w3, settings.push_pull_address)
    items = list(worth)
    while True:
        tokens = [item.token for item in items]
        args = batches.claim_words([(wallet, tokens)])
        data = chain.calldata(contract, "pullRewardsForMany", list(args))
        call = {
            "from": sender.signer.address,
            "to": settings.push_pull_address,
            "data": data,
            "value": 0,
        }
        reason = await sender.reader.simulate(call)
        if reason is not None:
            raise Conflict(f"the claim would revert: {reason}", code="claim_would_revert")
        gas = await estimate_gas(sender, call)
        if gas > MAX_GAS:
            raise Conflict(
                "this claim needs more gas than the relayer pays for", code="claim_would_revert"
            )
        charges = policy.split_gas(gas, tokens, owners)
        exhausted = policy.over_budget(charges, used, settings.relayer_product_daily_gas)
        if not exhausted:
            break
        items = [item for item in items if owners.get(item.token) not in exhausted]
        if not items:
            raise limited(
                "product_gas_budget_exhausted",
                "the gas budget of the product that paid these rewards is spent for today",
                env,
            )
    return Planned(
        kind=CLAIM,
        wallet=wallet,
        target=str(settings.push_pull_address),
        data=data,
        gas_limit=gas,
        payload=[{"token": item.token, "amount": str(item.amount)} for item in items],
        charges=charges,
    )


async def relay_status(env: RelayerEnv, wallet: str, relay_id: str) -> RelayView:
    """A relay request of this wallet (another wallet's is "not found")."""
    try:
        key = uuid.UUID(relay_id)
    except ValueError:
        raise NotFound("no such relay request", code="relay_not_found") from None
    async with env.ctx.sessions() as session:
        relay = await session.scalar(
            select(RelayRequest).where(RelayRequest.id == key, RelayRequest.wallet == wallet)
        )
        if relay is None:
            raise NotFound("no such relay request", code="relay_not_found")
        return view(relay, await repository.newest_tx_hash(session, relay))
