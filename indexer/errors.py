"""What can go wrong while indexing, sorted by what the loop should do about it.

Retryable errors (network, rate limits, a chain that moved under a fetch, a
concurrent indexer) back off and try again; fatal ones stop the indexer loudly
with a message that says how to fix the situation.
"""

from __future__ import annotations


class IndexerError(Exception):
    """Base of the indexer's errors."""


class RetryableError(IndexerError):
    """Transient: the same step may succeed a little later."""


class RangeTooLarge(RetryableError):
    """The provider refused a block range (too many results, response too big)."""


class ChainMoved(RetryableError):
    """Logs and headers of one fetch disagree: a reorg happened while fetching."""


class StaleBatch(RetryableError):
    """The checkpoint moved since the batch was fetched (another indexer, a rewind)."""


class ReorgDetected(IndexerError):
    """The chain no longer contains the checkpoint's block: walk back and replay."""

    def __init__(self, block_number: int, stored_hash: str, chain_hash: str | None):
        self.block_number = block_number
        self.stored_hash = stored_hash
        self.chain_hash = chain_hash
        super().__init__(
            f"block {block_number} is now {chain_hash or 'missing'}, indexed as {stored_hash}"
        )


class FatalIndexerError(IndexerError):
    """The indexer cannot continue safely; the message says what to do."""
