"""What ingestion answers: stored (202) at once, and the rewards once evaluation is done.

The request path answers `{interaction_id, duplicate}` as soon as the interaction
is stored; `evaluated` says whether its rewards are already known (`rewards` is
then complete, possibly empty). A duplicate, and a client that asked to wait
(`Prefer: wait=N`), get the stored interaction's state as it is when answered:
flag, rewards, referral outcome.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import DomainError

REFERRED = "referral.referred"
MAX_WAIT_S = 10.0  # a client may wait this long at most for its rewards
_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?([0-9]{1,6}(?:\.[0-9]{1,3})?)\"?", re.IGNORECASE)


def requested_wait(prefer: str | None) -> float:
    """Seconds a client asked to wait (RFC 7240 `Prefer: wait=N`), at most MAX_WAIT_S."""
    if not prefer:
        return 0.0
    match = _WAIT.search(prefer)
    return min(float(match.group(1)), MAX_WAIT_S) if match else 0.0


class Waiter(Protocol):
    """Waits until stored interactions are evaluated (backend.evaluation provides one)."""

    async def wait(
        self, product_ids: Collection[str], interaction_ids: Collection[int], timeout_s: float
    ) -> bool: ...


@dataclass
class IngestResult:
    interaction_id: int
    duplicate: bool = False
    flag: str | None = None
    type: str | None = None
    # interactions this request stored besides its own (an order completion it linked):
    # their rewards are this request's rewards too
    follow_ups: tuple[int, ...] = ()
    evaluated: bool = False
    rewards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def waits_for(self) -> tuple[int, ...]:
        return (self.interaction_id, *self.follow_ups)

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "interaction_id": self.interaction_id,
            "duplicate": self.duplicate,
            "evaluated": self.evaluated,
            "rewards": self.rewards,
            "flag": self.flag,
        }
        if self.type == REFERRED:
            # whether this interaction made the referrer this wallet's referrer, and why not;
            # undecided (null) until evaluated
            decided = self.evaluated or self.flag is not None
            answer["referral"] = {
                "recorded": (self.flag is None) if decided else None,
                "reason": self.flag,
            }
        return answer


@dataclass
class BatchItemResult:
    index: int
    result: IngestResult | None = None
    error: DomainError | None = None

    def as_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {
                "index": self.index,
                "status": self.error.status_code,
                "error": {
                    "code": self.error.code,
                    "message": self.error.message,
                    "details": self.error.details,
                },
            }
        assert self.result is not None
        return {"index": self.index, "status": 202, **self.result.as_json()}


STATE_SQL = text(
    """
    SELECT i.id, i.flag, q.interaction_id IS NULL AS evaluated
    FROM interactions AS i
    LEFT JOIN evaluation_queue AS q ON q.interaction_id = i.id
    WHERE i.id = ANY(CAST(:ids AS bigint[]))
    """
)
REWARDS_SQL = text(
    """
    SELECT id, interaction_id, wallet, level, amount, token, campaign_id FROM rewards
    WHERE interaction_id = ANY(CAST(:ids AS bigint[]))
    ORDER BY interaction_id, campaign_id, level
    """
)


async def describe(session: AsyncSession, results: Sequence[IngestResult]) -> None:
    """Fill in flag, `evaluated` and rewards from the database, as they are now."""
    ids = sorted({i for result in results for i in result.waits_for})
    if not ids:
        return
    state = {row.id: row for row in await session.execute(STATE_SQL, {"ids": ids})}
    found: dict[int, list[dict[str, Any]]] = {}
    for row in await session.execute(REWARDS_SQL, {"ids": ids}):
        found.setdefault(row.interaction_id, []).append(
            {
                "id": row.id,
                "wallet": row.wallet,
                "level": row.level,
                "amount": str(int(row.amount)),
                "token": row.token,
                "campaign_id": str(row.campaign_id),
            }
        )
    for result in results:
        own = state.get(result.interaction_id)
        if own is not None:
            result.flag = own.flag
        result.evaluated = all(i in state and state[i].evaluated for i in result.waits_for)
        result.rewards = [r for i in result.waits_for for r in found.get(i, [])]
    await session.commit()  # read-only: release the snapshot
