"""Batch nonces numbered per bank, so that a bank's pushes share nonce words.

ProductBank keeps 128 nonce states in one storage word (word = nonce >> 7): nonces
salt << 128 | 0, 1, 2... of one bank cost its pushes a rewrite of a non-zero word
(5,000 gas) instead of a fresh slot (22,100), for 127 pushes in 128.

The sequence is taken inside the batch's own transaction (an upsert that locks the
counter row until the batch commits): a batch that rolls back gives its number back,
which is safe because it was never signed into anything that left the database.
The salt is drawn when a counter row is created, so a deleted counter (the rule after
restoring a database: docs/operations.md) never hands out a nonce used before.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.settlement import eip712
from backend.settlement.models import SettlementNonceCounter as Counter


async def next_batch_nonce(session: AsyncSession, chain_id: int, bank: str) -> bytes:
    """The bank's next nonce; the counter row stays locked until the caller's commit."""
    new_row = insert(Counter).values(
        chain_id=chain_id, bank=bank, salt=eip712.new_salt(), last_sequence=0
    )
    upsert = new_row.on_conflict_do_update(
        index_elements=[Counter.chain_id, Counter.bank],
        set_={"last_sequence": Counter.last_sequence + 1},
    ).returning(Counter.salt, Counter.last_sequence)
    salt, sequence = (await session.execute(upsert)).one()
    return eip712.sequence_nonce(int(salt), int(sequence))
