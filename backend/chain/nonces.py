"""Account nonces of the backend signer, shared by everything that sends from it.

The settlement pusher allocates nonces from `sender_nonces` and stores each
signed transaction before broadcasting it; admin transactions of the API (bank
deploys, budget allocation) send from the same key. Both hold `sender_lock`
while they pick a nonce and broadcast, and admin sends never go below the
stored `next_nonce`, so neither can take a nonce the other has already used.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Address, Base


class SenderNonce(Base):
    """Account nonces handed out from Postgres, so restarts and replicas never collide."""

    __tablename__ = "sender_nonces"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sender: Mapped[str] = Address(primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


def sender_lock(chain_id: int, sender: str) -> str:
    """The advisory lock name that serialises nonce choice and broadcast for one account."""
    return f"cascade:sender:{chain_id}:{sender.lower()}"


async def nonce_floor(session: AsyncSession, chain_id: int, sender: str) -> int:
    """The lowest nonce an admin send may use: past everything settlement allocated."""
    stored = await session.scalar(
        select(SenderNonce.next_nonce).where(
            SenderNonce.chain_id == chain_id, SenderNonce.sender == sender
        )
    )
    return int(stored or 0)
