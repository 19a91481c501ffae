"""Batch builder: pending rewards -> signed batches, one database transaction per batch.

Rows are claimed with FOR UPDATE SKIP LOCKED, so two builders (two replicas, or
a CLI run next to the scheduler) never put the same row into two batches; the
batch, its signature and the rows' move to `batched` commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.campaigns.models import Campaign
from backend.core.db import job_session
from backend.products.models import ProductBank
from backend.rewards.models import Reward, RewardStatus
from backend.settlement import alerts, batch_nonces, cadence, faults
from backend.settlement.alerts import BATCHES, log
from backend.settlement.models import BatchStatus, SettlementBatch
from backend.settlement.signer import Signer


@dataclass(frozen=True)
class Group:
    product_id: str
    bank: str
    campaign_id: uuid.UUID
    chain_campaign_id: str
    token: str


@dataclass(frozen=True)
class BuiltBatch:
    id: uuid.UUID
    rewards: int
    wallets: int
    total: int


async def pending_groups(session: AsyncSession, chain_id: int, cooldown_s: int) -> list[Group]:
    """(bank, campaign, token) groups whose ready rows are due under their campaign's cadence."""
    rows = await session.execute(
        select(
            Reward.product_id,
            ProductBank.address,
            Campaign.id,
            Campaign.chain_campaign_id,
            Reward.token,
        )
        .join(Campaign, Campaign.id == Reward.campaign_id)
        .join(
            ProductBank,
            and_(ProductBank.product_id == Reward.product_id, ProductBank.chain_id == chain_id),
        )
        .where(
            Reward.status == RewardStatus.PENDING,
            Reward.available_at <= cadence.ready_cutoff(cooldown_s),
            cadence.campaign_settles(),
        )
        .group_by(Reward.product_id, ProductBank.address, Campaign.id, Reward.token)
        .having(cadence.queue_is_due(cooldown_s))
    )
    return [Group(*row) for row in rows]


async def claim_and_sign(
    session: AsyncSession,
    group: Group,
    *,
    signer: Signer,
    chain_id: int,
    batch_size: int,
    cooldown_s: int,
    deadline: int,
    signed_block: int,
    epoch: int = 0,
) -> BuiltBatch | None:
    """Claim up to `batch_size` wallets of one group, sign their sums, commit. None: nothing."""
    in_group = (
        Reward.campaign_id == group.campaign_id,
        Reward.token == group.token,
        Reward.product_id == group.product_id,
        Reward.status == RewardStatus.PENDING,
        Reward.available_at <= cadence.ready_cutoff(cooldown_s),
    )
    wallets = (
        await session.scalars(
            select(Reward.wallet)
            .where(*in_group)
            .group_by(Reward.wallet)
            .order_by(func.min(Reward.id))
            .limit(batch_size)
        )
    ).all()
    if not wallets:
        return None
    claimed = (
        await session.execute(
            select(Reward.id, Reward.wallet, Reward.amount)
            .where(*in_group, Reward.wallet.in_(wallets))
            .order_by(Reward.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not claimed:
        return None  # another builder holds these rows right now
    faults.crash_point("rows_claimed")

    sums: dict[str, int] = {}
    for _, wallet, amount in claimed:
        sums[wallet] = sums.get(wallet, 0) + amount
    # Numbered in this transaction: a rollback gives the number back, never stored nor sent.
    nonce = await batch_nonces.next_batch_nonce(session, chain_id, group.bank)
    signed = signer.sign_batch(
        chain_id=chain_id,
        bank=group.bank,
        chain_campaign_id=group.chain_campaign_id,
        token=group.token,
        rewards=list(sums.items()),
        deadline=deadline,
        epoch=epoch,
        nonce=nonce,
    )
    batch = SettlementBatch(
        id=uuid.uuid4(),
        product_id=group.product_id,
        bank_address=group.bank,
        campaign_id=group.campaign_id,
        chain_campaign_id=group.chain_campaign_id,
        chain_id=chain_id,
        token=group.token,
        nonce=signed.nonce,
        deadline=signed.deadline,
        signature=signed.signature,
        payload=signed.payload,
        total=sum(sums.values()),
        reward_count=len(claimed),
        status=BatchStatus.SIGNED,
        signed_block=signed_block,
        epoch=epoch,
    )
    session.add(batch)
    await session.flush()
    faults.crash_point("batch_written")
    await session.execute(
        update(Reward)
        .where(Reward.id.in_([row_id for row_id, _, _ in claimed]))
        .values(status=RewardStatus.BATCHED, batch_id=batch.id)
    )
    await session.commit()
    faults.crash_point("batch_signed")
    return BuiltBatch(batch.id, len(claimed), len(sums), batch.total)


async def build_batches(
    sessions: async_sessionmaker[AsyncSession],
    *,
    signer: Signer,
    chain_id: int,
    batch_size: int,
    cooldown_s: int,
    deadline: int,
    signed_block: int,
    halted_banks: Collection[str] = (),
    epochs: Callable[[str], Awaitable[int]] | None = None,
    errors: list[str] | None = None,
) -> list[BuiltBatch]:
    """Turn every eligible pending row into signed batches (skipping halted banks).

    A group that cannot be batched (its sums overflow uint256, a bad row) is logged,
    reported in `errors` and skipped: it never stops the groups after it.
    """
    async with sessions() as session:
        groups = await pending_groups(session, chain_id, cooldown_s)
    built: list[BuiltBatch] = []
    bank_epochs: dict[str, int] = {}
    for group in groups:
        if group.bank in halted_banks:
            continue
        try:
            if group.bank not in bank_epochs:
                bank_epochs[group.bank] = await epochs(group.bank) if epochs else 0
            while True:
                async with job_session(sessions) as session:
                    batch = await claim_and_sign(
                        session,
                        group,
                        signer=signer,
                        chain_id=chain_id,
                        batch_size=batch_size,
                        cooldown_s=cooldown_s,
                        deadline=deadline,
                        signed_block=signed_block,
                        epoch=bank_epochs[group.bank],
                    )
                if batch is None:
                    break
                built.append(batch)
        except Exception as exc:
            log.exception(
                "batching a group failed; the other groups go on",
                extra={"campaign": str(group.campaign_id), "token": group.token},
            )
            BATCHES.labels(outcome="group_failed").inc()
            problem = f"{type(exc).__name__}: {exc}"[:300]
            if errors is not None:
                errors.append(f"group {group.campaign_id}/{group.token}: {problem}")
            async with sessions() as session:
                await alerts.notify(
                    session,
                    group.product_id,
                    alerts.GROUP_FAILED,
                    {"campaign_id": str(group.campaign_id), "token": group.token, "error": problem},
                    subject=f"{group.campaign_id}/{group.token}",
                    message=f"rewards of campaign {group.campaign_id} in {group.token} "
                    f"cannot be batched ({problem}); they wait in pending",
                )
                await session.commit()
    return built
