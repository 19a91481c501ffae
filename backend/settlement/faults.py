"""Crash injection for the crash-matrix tests: SIGKILL this process at a named step.

Inert unless CASCADE_CRASH_AT names the step. CASCADE_CRASH_AFTER=n (default 1)
kills at the n-th time the step is reached, so tests can vary the timing. Real
SIGKILL, not an exception: no `finally`, no rollback handler, no flush runs.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

# Steps, in the order a batch meets them.
STEPS = (
    "rows_claimed",  # reward rows locked, batch not yet committed
    "batch_written",  # batch row inserted (not committed), rows not yet moved to batched
    "batch_signed",  # batch and its rows committed, no transaction yet
    "tx_stored",  # signed transaction and account nonce committed, not broadcast
    "tx_sent",  # broadcast, nothing else recorded
    "receipt_seen",  # the push is mined and seen, the database not yet updated
)

_hits: Counter[str] = Counter()


def crash_point(step: str) -> None:
    """Kill the process here when the environment asks for it (tests only)."""
    target = os.environ.get("CASCADE_CRASH_AT")
    if not target or target != step:
        return
    _hits[step] += 1
    if _hits[step] >= int(os.environ.get("CASCADE_CRASH_AFTER", "1")):
        os.kill(os.getpid(), signal.SIGKILL)
