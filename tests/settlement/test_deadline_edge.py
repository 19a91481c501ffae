"""A batch whose deadline equals the newest block's time can still be paid (the bank accepts
`block.timestamp <= deadline`, and some chains give consecutive blocks the same time): it is not
void until a block past its deadline."""

from __future__ import annotations

from sqlalchemy import select

from backend.settlement.job import push_once
from backend.settlement.models import SettlementBatch
from tests.settlement.conftest import PATIENT, Env, push_and_lose


async def _statuses(env: Env) -> list[str]:
    async with env.ctx.sessions() as session:
        return sorted((await session.scalars(select(SettlementBatch.status))).all())


async def test_push__block_time_equal_to_the_deadline__batch_live_until_a_later_block(
    env: Env, automine: None
):
    lost = await push_and_lose(env)
    async with env.ctx.sessions() as session:
        deadline = (await session.scalars(select(SettlementBatch.deadline))).one()
    env.rpc("evm_mine", [deadline])  # an empty block at exactly the deadline

    second = await push_once(env.ctx, options=PATIENT, wait_s=0)

    assert second.voided == 0 and await _statuses(env) == ["submitted"]
    env.rpc("anvil_dropTransaction", [lost])  # the re-sent push, lost again
    env.rpc("evm_mine", [deadline + 1])
    third = await push_once(env.ctx, options=PATIENT, wait_s=0)
    assert third.voided == 1
